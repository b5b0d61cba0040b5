// The packed tarball installs into a clean temporary project and runs there: the Node entry, the
// edge entry and the CLI, exactly as a user gets them from the registry.
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";

const root = new URL("..", import.meta.url).pathname;
// The npm that came with this node: a dependency's own old "npm" can shadow it on PATH under npx.
const NPM = join(dirname(process.execPath), "npm");
const npm = (args: string[], cwd: string) => execFileSync(NPM, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

describe("npm pack", () => {
  it("installs and runs from a clean temporary project", () => {
    const dir = tempDir("cnnp-pack-");
    const out = npm(["pack", "--ignore-scripts", "--pack-destination", dir, "--json"], root);
    const tarball = join(dir, JSON.parse(out)[0].filename);
    const app = join(dir, "app");
    execFileSync("mkdir", ["-p", app]);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", type: "module", private: true }));
    npm(["install", tarball, "--no-audit", "--no-fund", "--prefer-offline"], app);
    writeFileSync(join(app, "main.js"), `
      import { runSynthetic, createBackend } from "cnn-purify";
      import { createPurifyHandler } from "cnn-purify/edge";
      const be = await createBackend("wasm");
      const r = await runSynthetic({ p: 40, patches: 4, samples: 3, filters: 3, rho: 0.1, backend: be });
      console.log(JSON.stringify({ simd: be.simd, err: r.summary.weightRelError, handler: typeof createPurifyHandler }));
    `);
    const res = JSON.parse(execFileSync(process.execPath, ["main.js"], { cwd: app, encoding: "utf8" }).trim());
    expect(res.simd).toBe(true);
    expect(res.err).toBeLessThanOrEqual(1e-9);
    expect(res.handler).toBe("function");
    const cli = JSON.parse(execFileSync(join(app, "node_modules", ".bin", "cnn-purify"), ["synthetic", "--p", "40", "--samples", "3", "--filters", "3", "--json"], { cwd: app, encoding: "utf8" }));
    expect(cli.recovered).toBe(true);
  }, 180_000);
});
