// Every CLI command, run in-process on small settings: outputs checked against the library and
// the files they write checked by decoding them.
import { readFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/run.js";
import { decodeNpy } from "../src/io/npy.js";
import { relDiff, tempDir } from "./helpers.js";

async function run(args: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const code = await main(args, (s) => { out += s + "\n"; });
  return { code, out };
}

describe("cnn-purify synthetic", () => {
  it("--json has the documented fields and an exact recovery at the defaults", async () => {
    const { code, out } = await run(["synthetic", "--rho", "0.2", "--seed", "1", "--json"]);
    expect(code).toBe(0);
    const j = JSON.parse(out);
    for (const k of ["backend", "subspace", "rho", "seed", "weightRelError", "biasRelError", "flipRate", "iterations", "seconds", "recovered"]) expect(j).toHaveProperty(k);
    expect(j.backend).toBe("wasm");
    expect(j.weightRelError).toBeLessThanOrEqual(1e-9);
    expect(j.recovered).toBe(true);
  });

  it("--out writes .npy files numpy can read, and recovered.npy equals trained.npy", async () => {
    const dir = tempDir("cnnp-");
    const { code } = await run(["synthetic", "--p", "33", "--samples", "4", "--filters", "3", "--rho", "0.1", "--backend", "js", "--out", dir]);
    expect(code).toBe(0);
    const read = (f: string) => decodeNpy(new Uint8Array(readFileSync(join(dir, f))));
    expect(read("patches.npy").shape).toEqual([4, 4, 33]);
    for (const f of ["init.npy", "trained.npy", "contaminated.npy", "recovered.npy"]) expect(read(f).shape).toEqual([3, 34]);
    expect(relDiff(read("recovered.npy").values, read("trained.npy").values)).toBeLessThan(1e-9);
    expect(relDiff(read("contaminated.npy").values, read("trained.npy").values)).toBeGreaterThan(0.1);
    const rep = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
    expect(rep.recovered).toBe(true);
    expect(rep.backend).toBe("js");
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("a human table by default", async () => {
    const { code, out } = await run(["synthetic", "--p", "40", "--samples", "3", "--filters", "2"]);
    expect(code).toBe(0);
    expect(out).toMatch(/weights after/);
  });
});

describe("cnn-purify demo and phase", () => {
  it("demo --json: exact rows certified, the rho = 0.5 row flagged", async () => {
    const { code, out } = await run(["demo", "--json"]);
    expect(code).toBe(0);
    const rows = JSON.parse(out);
    expect(rows).toHaveLength(4);
    for (const r of rows.slice(0, 3)) { expect(r.weightRelError).toBeLessThanOrEqual(1e-9); expect(r.recovered).toBe(true); }
    expect(rows[3].recovered).toBe(false);
  });

  it("phase --quick writes JSON and two SVG plots with a transition in them", async () => {
    const dir = tempDir("cnnp-phase-");
    const { code, out } = await run(["phase", "--quick", "--out", dir, "--json"]);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    expect(r.cells.length).toBe(9);
    // thin span, little contamination: exact; not-thin span, much contamination: not
    expect(r.cells.find((c: { samples: number; rho: number }) => c.samples === 2 && c.rho === 0.1).successRate).toBe(1);
    expect(r.cells.find((c: { samples: number; rho: number }) => c.samples === 14 && c.rho === 0.5).successRate).toBe(0);
    for (const f of ["phase.json", "phase.svg", "linearized.svg"]) expect(existsSync(join(dir, f))).toBe(true);
    expect(readFileSync(join(dir, "phase.svg"), "utf8")).toMatch(/^<svg[\s\S]*<\/svg>$/);
  });
});

describe("bad usage exits with code 2 and names the problem", () => {
  it.each([
    [["nonsense"], /unknown command "nonsense"/],
    [["synthetic", "--bogus", "1"], /Unknown option '--bogus'/],
    [["synthetic", "--rho", "abc"], /--rho must be a number/],
    [["synthetic", "--p", "0"], /--p must be an integer >= 1/],
    [["synthetic", "--backend", "gpu"], /--backend must be one of wasm, wasm-simd, wasm-scalar, js/],
    [["synthetic", "--subspace", "nope"], /--subspace must be one of/],
  ])("%j", async (args, msg) => {
    const errs: string[] = [];
    const orig = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((s: string) => { errs.push(String(s)); return true; }) as typeof process.stderr.write;
    try {
      const { code } = await run(args as string[]);
      expect(code).toBe(2);
    } finally {
      process.stderr.write = orig;
    }
    expect(errs.join("")).toMatch(msg as RegExp);
  });

  it("--help for every command", async () => {
    // answered by the dispatcher from each command's spec, before the command runs
    for (const c of ["demo", "synthetic", "phase", "mnist", "deep", "detection", "purify", "check", "check-calibrate"]) {
      const { code, out } = await run([c, "--help"]);
      expect(code).toBe(0);
      expect(out).toMatch(new RegExp(`cnn-purify ${c}:[^]*--backend VALUE[^]*--help`));
      expect(/exit codes/.test(out), c).toBe(c === "purify" || c === "check");
    }
  });
});

describe("the README's API example", () => {
  it("examples/quickstart.mjs runs as written and recovers exactly", async () => {
    const { spawnSync } = await import("node:child_process");
    const r = spawnSync(process.execPath, ["examples/quickstart.mjs"], { encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/certified exact: true/);
    const w = Number(/weight error: (\S+)/.exec(r.stdout)![1]);
    expect(w).toBeLessThanOrEqual(1e-9);
  });
});
