// The README's "Purify your own model" example, run as written (the same argument lists), and its
// claim: purifying the exported ONNX files reproduces the real-data experiment's accuracy.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";
import { main } from "../src/cli/run.js";
import { realDataExample } from "../src/experiments/realData.js";
import { patchesFromImages } from "../src/model/data.js";
import { createBackend } from "../src/backend/index.js";
import { purify } from "../src/recover/purify.js";
import { evaluate } from "../src/train/train.js";

describe("README: purify your own model", () => {
  it("mnist --export, then purify the ONNX files: test accuracy as the library reaches in f64 (within 0.5 points)", async () => {
    const dir = tempDir("cnnp-example-");
    expect(await main(["mnist", "--export", dir], () => {})).toBe(0);
    let out = "";
    const code = await main(["purify", "--model", join(dir, "contaminated.onnx"), "--init", join(dir, "init.onnx"), "--data", join(dir, "data.npy"),
      "--eval-data", join(dir, "test-data.npy"), "--eval-labels", join(dir, "test-labels.npy"), "--subspace", "linearized", "--max-iter", "150",
      "--out", join(dir, "purified.onnx"), "--json"], (s) => { out += s; });
    expect(code).toBe(0);
    const summary = JSON.parse(out);
    expect(readFileSync(join(dir, "purified.onnx")).length).toBeGreaterThan(1000);
    // the same model in f64 through the library
    const ex = await realDataExample({ dataset: "mnist" });
    const be = await createBackend("wasm");
    const data = patchesFromImages(be, ex.train.images, ex.train.samples, ex.spec.image);
    const test = patchesFromImages(be, ex.test.images, ex.test.samples, ex.spec.image);
    const { params } = await purify(ex.contaminated, { shape: ex.spec.shape, init: ex.init, data, subspace: "linearized", admm: { maxIter: 150 } });
    const acc = async (t: Float64Array) => (await evaluate(ex.spec.shape, t, test, ex.test.labels, { backend: be })).accuracy!;
    const [clean, purified, contaminated] = [await acc(ex.clean), await acc(params), await acc(ex.contaminated)];
    expect(Math.abs(summary.evalAccuracyAfter - purified)).toBeLessThan(0.005);
    expect(Math.abs(summary.evalAccuracyBefore - contaminated)).toBeLessThan(0.005);
    expect(purified).toBeGreaterThan(clean - 0.01);
    expect(contaminated).toBeLessThan(clean - 0.3);
  }, 120_000);
});
