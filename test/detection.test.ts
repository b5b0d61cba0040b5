// check's statistical verdict on approximate spans: the statistic against hand computation, the
// calibration's cutoffs, the CLI's check-calibrate -> check --calibration on files, its refusals, and
// the detection experiment's command on a tiny recipe.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { split, subset } from "../src/data/datasets.js";
import { encodeNpy } from "../src/io/npy.js";
import { modelToTensors } from "../src/io/modelFile.js";
import { encodeSafetensors } from "../src/io/safetensors.js";
import { patchesFromImages } from "../src/model/data.js";
import { initParams } from "../src/model/init.js";
import type { ModelShape } from "../src/model/shape.js";
import { layoutOf } from "../src/model/shape.js";
import { calibrate, parseCalibration, residualScores, statisticalVerdict } from "../src/recover/detection.js";
import { createBackend } from "../src/backend/index.js";
import { train } from "../src/train/train.js";
import { cli } from "./helpers.js";

describe("the statistic", () => {
  it("z = |file - fit| / (1.4826 median |file - fit|) per group; NaN in the file is infinitely far", () => {
    const file = Float64Array.from([1, 2, 3, 4, 10, 0, 0, 0, NaN]), fit = Float64Array.from([1, 1, 1, 1, 1, 0, 0.5, -1, 0]);
    const groups = [{ name: "a", indices: Int32Array.from([0, 1, 2, 3, 4]) }, { name: "b", indices: Int32Array.from([5, 6, 7, 8]) }];
    const s = residualScores(file, fit, groups);
    // group a: |res| = 0, 1, 2, 3, 9: median 2; group b: 0, 0.5, 1 (NaN left out): median 0.5
    expect(s.sigma[0]).toBeCloseTo(1.4826 * 2, 12);
    expect(s.sigma[1]).toBeCloseTo(1.4826 * 0.5, 12);
    expect(s.z[4]).toBeCloseTo(9 / (1.4826 * 2), 12);
    expect(s.z[8]).toBe(Infinity);
    expect(s.maxZ).toEqual([s.z[4], Infinity]);
    const cal = calibrate(["a", "b"], [[2, 3], [4, 1]], { margin: 1.5, subspace: "linearized", maxIter: 150, version: "t", files: {} });
    expect(cal.groups.map((g) => g.cutoff)).toEqual([6, 4.5]);
    const v = statisticalVerdict(s.z, s.maxZ, groups, cal);
    // a: z 9/2.97 = 3.03 < 6, nothing; b: z(7) = 1/0.74 = 1.35 < 4.5, z(8) = Infinity
    expect(v.suspects).toEqual([8]);
    expect(v.statistic).toBe(Infinity);
    expect(() => calibrate(["a"], [[Infinity]], { subspace: "linearized", maxIter: 1, version: "t", files: {} })).toThrow(/not clean/);
    expect(() => statisticalVerdict(s.z, s.maxZ, [{ name: "c", indices: Int32Array.from([0]) }], cal)).toThrow(/no tensor "c"/);
    expect(() => parseCalibration("{}", "f")).toThrow(/not a check calibration/);
    expect(() => parseCalibration("{", "f")).toThrow(/not JSON/);
  });
});

describe("check-calibrate, then check --calibration, on files (a one-hidden-layer CNN on 40 MNIST images, linearized span)", () => {
  const dir = mkdtempSync(join(tmpdir(), "cnnp-detect-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const image = { channels: 1, height: 28, width: 28, patchHeight: 7, patchWidth: 7 };
  let shape: ModelShape, clean: Float64Array[] = [];
  const write = (name: string, theta: Float64Array) => {
    const t = modelToTensors({ shape, image }, theta);
    writeFileSync(join(dir, name), encodeSafetensors(t.tensors, t.metadata));
    return join(dir, name);
  };
  const base = () => ["--init", join(dir, "init.safetensors"), "--data", join(dir, "data.npy"), "--subspace", "linearized"];

  beforeAll(async () => {
    const be = await createBackend("wasm");
    const { train: pool } = split("mnist", { seed: 3, train: 200, test: 10 });
    const set = subset(pool, Int32Array.from({ length: 40 }, (_, i) => i));
    const data = patchesFromImages(be, set.images, 40, image);
    shape = { patchDim: 49, patches: 16, filters: 8, outputs: 10, readout: "dense" };
    const init = initParams(shape, { seed: 5 });
    writeFileSync(join(dir, "data.npy"), encodeNpy(set.images, [40, 1, 28, 28]));
    write("init.safetensors", init);
    // clean models of one recipe: the same init and data, other SGD orders
    for (let s = 0; s < 5; s++) {
      clean.push((await train(shape, init, data, set.labels, { epochs: 8, lr: 0.05, momentum: 0.9, batchSize: 8, seed: 100 + s, backend: be })).params);
      write(`clean${s}.safetensors`, clean[s]);
    }
  }, 60_000);

  it("calibrates on four clean models; a changed model is flagged with its changed entries, the calibration's own models pass", async () => {
    const cal = join(dir, "cal.json");
    // the fourth model is held out: it measures the false-alarm rate, which check then reports
    const r = await cli(["check-calibrate", ...[0, 1, 2, 3].flatMap((s) => ["--model", join(dir, `clean${s}.safetensors`)]), ...base(), "--holdout", "1", "--out", join(dir, "cal-held.json"), "--json"]);
    expect(r.code, r.err).toBe(0);
    const held = JSON.parse(readFileSync(join(dir, "cal-held.json"), "utf8"));
    expect(held.groups[0].cleanMaxZ.length).toBe(3);
    expect(held.heldOut.models).toBe(1);
    // its own verdict on that model, by check with the same cutoffs, is what the calibration recorded
    const heldCheck = await cli(["check", "--model", join(dir, "clean3.safetensors"), ...base(), "--calibration", join(dir, "cal-held.json"), "--json"]);
    expect(JSON.parse(heldCheck.out).results[0].verdict).toBe(held.heldOut.falseAlarms ? "changed" : "consistent");
    expect(JSON.parse(heldCheck.out).results[0].statistic.falseAlarmRate).toBe(held.heldOut.falseAlarms);
    expect((await cli(["check-calibrate", ...[0, 1, 2, 3].flatMap((s) => ["--model", join(dir, `clean${s}.safetensors`)]), ...base(), "--out", cal, "--json"])).code).toBe(0);
    const c = JSON.parse(readFileSync(cal, "utf8"));
    expect(c.groups.map((g: { name: string }) => g.name)).toEqual(["conv.weight", "conv.bias", "fc.weight"]);
    expect(c.groups.every((g: { cleanMaxZ: number[] }) => g.cleanMaxZ.length === 4)).toBe(true);
    expect(c.subspace).toBe("linearized");
    // three entries of the fifth clean model changed by 10 times the readout's largest entry
    const changed = clean[4].slice(), L = layoutOf(shape), hit = [L.wSize + 7, L.wSize + 300, L.wSize + 1000];
    const big = 10 * Math.max(...clean[4].subarray(L.wSize).map(Math.abs));
    for (const i of hit) changed[i] += big;
    write("changed.safetensors", changed);
    const ch = await cli(["check", "--model", join(dir, "changed.safetensors"), "--model", join(dir, "clean0.safetensors"), ...base(), "--calibration", cal, "--json"]);
    expect(ch.code, ch.err).toBe(4);
    const [bad, ok] = JSON.parse(ch.out).results;
    expect(bad.verdict).toBe("changed");
    expect(bad.basis).toBe("calibration");
    expect(bad.certified).toBe(false);
    expect(bad.suspects.top.slice(0, 3).map((s: { tensor: string }) => s.tensor)).toEqual(["fc.weight", "fc.weight", "fc.weight"]);
    // fc.weight[o, j k + i] holds theta[wSize + (i K + j) O + o]
    const fcIndex = (q: number) => { const o = q % 10, rest = (q - o) / 10, j = rest % 8, i = (rest - j) / 8; return o * 128 + j * 16 + i; };
    expect(bad.suspects.top.slice(0, 3).map((s: { index: number }) => s.index).sort((a: number, b: number) => a - b)).toEqual(hit.map((i) => fcIndex(i - L.wSize)).sort((a, b) => a - b));
    expect(bad.statistic.value).toBeGreaterThan(1);
    expect(ok.verdict).toBe("consistent");
    expect(ok.statistic.value).toBeLessThanOrEqual(1 / 1.5 + 1e-12);
  });

  it("several models share one prepared span, with the verdicts each gets alone", async () => {
    const { SpanCache } = await import("../src/files/purifyFiles.js");
    const { checkModel } = await import("../src/files/check.js");
    const file = (name: string) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) });
    const files = (m: string) => ({ model: file(m), init: file("init.safetensors"), data: file("data.npy") });
    const spans = new SpanCache();
    try {
      const shared = [await checkModel(files("clean0.safetensors"), { subspace: "linearized" }, { spans }), await checkModel(files("clean1.safetensors"), { subspace: "linearized" }, { spans })];
      expect(spans.size).toBe(1);
      const alone = await checkModel(files("clean1.safetensors"), { subspace: "linearized" });
      expect(shared[1].suspects).toEqual(alone.suspects);
      expect(shared[1].verdict).toBe(alone.verdict);
    } finally {
      spans.dispose();
    }
  });

  it("refused: a calibration of another init (exit 3), another span (exit 2), garbage (exit 3); nothing to calibrate where the span is exact (exit 2)", async () => {
    const cal = join(dir, "cal2.json");
    expect((await cli(["check-calibrate", "--model", join(dir, "clean0.safetensors"), ...base(), "--out", cal])).code).toBe(0);
    write("other-init.safetensors", initParams(shape, { seed: 6 }));
    const other = await cli(["check", "--model", join(dir, "clean1.safetensors"), "--init", join(dir, "other-init.safetensors"), "--data", join(dir, "data.npy"), "--subspace", "linearized", "--calibration", cal]);
    expect(other.code).toBe(3);
    expect(other.err).toMatch(/the calibration's init .* is not this init/);
    const span = await cli(["check", "--model", join(dir, "clean1.safetensors"), "--init", join(dir, "init.safetensors"), "--data", join(dir, "data.npy"), "--subspace", "relinearized", "--calibration", cal]);
    expect(span.code).toBe(2);
    expect(span.err).toMatch(/made in the linearized span with 150 ADMM iterations, this check uses relinearized/);
    writeFileSync(join(dir, "junk.json"), "{\"format\": \"x\"}");
    const junk = await cli(["check", "--model", join(dir, "clean1.safetensors"), ...base(), "--calibration", join(dir, "junk.json")]);
    expect(junk.code).toBe(3);
    expect(junk.err).toMatch(/not a check calibration/);
    const exact = await cli(["check-calibrate", "--model", join(dir, "clean0.safetensors"), "--init", join(dir, "init.safetensors"), "--data", join(dir, "data.npy"), "--subspace", "patch", "--out", join(dir, "never.json")]);
    expect(exact.code).toBe(2);
    expect(exact.err).toMatch(/check certifies without a calibration/);
    expect(existsSync(join(dir, "never.json"))).toBe(false);
  });
});

describe("cnn-purify detection --quick", () => {
  const dir = mkdtempSync(join(tmpdir(), "cnnp-detection-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  it("writes the table, JSON and SVG; the gross changes (1% of P as outliers, the sparse backdoor) are flagged in every seed", async () => {
    const r = await cli(["detection", "--quick", "--out", dir, "--json"]);
    expect(r.code, r.err).toBe(0);
    const res = JSON.parse(r.out);
    expect(res.cells.map((c: { kind: string }) => c.kind).filter((k: string, i: number, a: string[]) => a.indexOf(k) === i)).toEqual(["outliers", "bitflips", "backdoor-sparse", "backdoor-dense"]);
    expect(res.cells.filter((c: { kind: string }) => c.kind === "outliers").map((c: { changed: number }) => c.changed)).toEqual([1, 3, 10, 30, 100, Math.round(0.01 * res.params)]);
    const last = res.cells.filter((c: { kind: string }) => c.kind === "outliers").at(-1);
    expect(last.rate).toBe(1);
    expect(res.cells.find((c: { kind: string }) => c.kind === "backdoor-sparse").rate).toBe(1);
    expect(readFileSync(join(dir, "detection-mnist-one-hidden.svg"), "utf8")).toMatch(/^<svg/);
    expect(readFileSync(join(dir, "detection-mnist-one-hidden.md"), "utf8")).toMatch(/false alarms: \d+ of 3 held-out clean models/);
  }, 120_000);
});
