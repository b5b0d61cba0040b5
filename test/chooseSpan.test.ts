// Defaults that choose the method: `auto` takes the patch span where the phase diagram says it
// recovers exactly, the linearized family elsewhere (re-linearized within counted sizes), judges
// whether the readout was trained, and says why; spans that cannot remove anything are warned about.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli } from "./helpers.js";
import { createBackend } from "../src/backend/index.js";
import { sparseOutliers } from "../src/contaminate.js";
import { modelToTensors } from "../src/io/modelFile.js";
import type { ModelSpec } from "../src/io/modelFile.js";
import { encodeNpy } from "../src/io/npy.js";
import { encodeSafetensors } from "../src/io/safetensors.js";
import { patchesFromImages } from "../src/model/data.js";
import { initParams } from "../src/model/init.js";
import { layoutOf } from "../src/model/shape.js";
import { Rng } from "../src/random.js";
import { SPAN_RULE, chooseReadout, chooseSpan } from "../src/recover/chooseSpan.js";
import { purify } from "../src/recover/purify.js";
import { train } from "../src/train/train.js";

const dir = mkdtempSync(join(tmpdir(), "cnnp-auto-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


describe("the rule", () => {
  const shape = (patchDim: number, patches: number, filters = 4, outputs = 10) => ({ patchDim, patches, filters, outputs, readout: "dense" as const });

  it("patch span while n k / (p + 1) <= 0.5 (the phase diagram's 10% breakdown), else the linearized family", () => {
    expect(chooseSpan(shape(256, 4), 8).subspace).toBe("patch"); // 32 / 257 = 0.12
    expect(chooseSpan(shape(256, 4), 32).subspace).toBe("patch"); // 128 / 257 = 0.498
    expect(chooseSpan(shape(256, 4), 33).subspace).toBe("relinearized"); // 132 / 257 = 0.51
    const c = chooseSpan(shape(49, 16, 96), 280);
    expect(c.subspace).toBe("relinearized");
    expect(c.reason).toBe("patch span: 4,480 patches for filter rows of p + 1 = 50 entries (ratio 89.60) > 0.5, it covers R^50: using relinearized (n O = 2,800 <= 3,000)");
    expect(chooseSpan(shape(49, 16, 96), 301).subspace).toBe("linearized");
    expect(chooseSpan(shape(49, 16, 96), 301).reason).toMatch(/not relinearized: n O = 3,010 > 3,000/);
    // a memory limit the union's NTK would pass: the single linearization
    expect(chooseSpan(shape(49, 16, 96), 280, { memoryLimit: 300e6 }).reason).toMatch(/using linearized \(not relinearized: the union's NTK would exceed the memory limit\)/);
    expect(SPAN_RULE.patchRatio).toBe(0.5);
  });

  it("explicit spans are kept; one that covers the whole space is warned about by its tensors", () => {
    const p = chooseSpan(shape(49, 16), 100, { requested: "patch", layerTensors: (i) => [`${i}.weight`, `${i}.bias`] });
    expect(p.subspace).toBe("patch");
    // the readout's 100 samples for rows of 65 cover it too, but its span is approximate anyway: no certificate is lost there
    expect(p.warnings).toEqual(["the patch span covers R^50 for filter rows of p + 1 = 50 (1,600 patches >= 50; 0.weight, 0.bias): nothing can be removed there"]);
    expect(chooseSpan(shape(256, 4), 8, { requested: "patch" }).warnings).toEqual([]);
    const P = layoutOf(shape(49, 16, 2)).size; // 2 * 50 + 16 * 2 * 10 = 420
    expect(chooseSpan(shape(49, 16, 2), 42, { requested: "linearized" }).warnings[0]).toBe(`the linearized span has n O = 420 columns for ${P} parameters: it covers them all, nothing can be removed; use fewer samples`);
    expect(chooseSpan(shape(49, 16, 2), 41, { requested: "linearized" }).warnings).toEqual([]);
  });

  it("multi-layer: layerwise when every trained layer below the readout is thin or frozen, else linearized", () => {
    const model = { input: { C: 1, H: 8, W: 8 }, layers: [{ type: "conv", filters: 8, kernel: 3, padding: 1 }, { type: "relu" }, { type: "conv", filters: 6, kernel: 4, stride: 4 }, { type: "relu" }, { type: "flatten" }, { type: "dense", units: 2 }] as const };
    const net = { input: model.input, layers: [...model.layers] } as Parameters<typeof chooseSpan>[0];
    // layer 0: 64 positions per sample for rows of 10: thick; layer 2: 4 positions for rows of 129: thin; layer 5: 1 for 25
    expect(chooseSpan(net, 4, { frozen: [0] }).subspace).toBe("layerwise");
    const thick = chooseSpan(net, 4);
    expect(thick.subspace).toBe("relinearized");
    expect(thick.reason).toMatch(/^layerwise span: 256 patches for layer 0 \(conv\) rows of 10 entries \(ratio 25\.60\) > 0\.5, it covers R\^10: using relinearized \(n O = 8 <= 3,000\)$/);
    expect(chooseSpan(net, 4, { requested: "layerwise", layerTensors: (i) => [`w${i}`, `b${i}`] }).warnings).toEqual([
      "the layerwise span covers R^10 for layer 0 (conv) rows of 10 (256 patches >= 10; w0, b0): nothing can be removed there"]);
    // only the readout trained: layerwise while its span does not cover it (20 samples for rows of 25), else linearized (30)
    expect(chooseSpan(net, 20, { frozen: [0, 2] })).toEqual({ subspace: "layerwise", reason: "layerwise span: only the readout is trained; frozen: 0, 2: each layer in its patch span", warnings: [], covers: false });
    const top = chooseSpan(net, 30, { frozen: [0, 2] });
    expect([top.subspace, top.reason]).toEqual(["relinearized", "layerwise span: only the readout is trained; frozen: 0, 2, but it covers R^25 for layer 5 (dense) rows of 25: using relinearized (n O = 60 <= 3,000)"]);
    expect(chooseSpan(net, 30, { frozen: [0, 2], requested: "layerwise" }).warnings).toEqual(["the layerwise span covers R^25 for layer 5 (dense) rows of 25 (30 patches >= 25; layer 5): nothing can be removed there"]);
    // layer 2 thin below a thick readout its span does not cover (14 samples: 56 patches for rows of 129, 0.43; the readout 14 for 25, 0.56): layerwise
    const thin = chooseSpan(net, 14, { frozen: [0] });
    expect([thin.subspace, thin.reason, thin.warnings]).toEqual(["layerwise", "layerwise span: 56 patches for layer 2 (conv) rows of 129 entries (ratio 0.43) <= 0.5; frozen: 0: each layer in its patch span", []]);
    expect(chooseSpan(net, 17, { frozen: [0] }).subspace).toBe("relinearized"); // 68 / 129 = 0.53
  });

  it("the readout: frozen when at least half its entries equal init", () => {
    const init = Float64Array.from({ length: 100 }, (_, i) => i);
    const c = init.slice();
    for (let i = 90; i < 100; i++) c[i] += 1;
    expect(chooseReadout(c, init, 90)).toEqual({ trained: true, reason: "readout trained: 0.0% of its entries equal init (< 50%)" });
    for (let i = 90; i < 95; i++) c[i] = init[i];
    expect(chooseReadout(c, init, 90)).toEqual({ trained: false, reason: "readout frozen: 50.0% of its entries equal init (>= 50%)" });
  });
});

/** Exact-regime files: readout frozen, n k = 12 patches for rows of 33 (ratio 0.36), 10% outliers everywhere. */
async function exactFiles() {
  const spec: ModelSpec = { shape: { patchDim: 32, patches: 4, filters: 3, outputs: 3, readout: "dense" }, image: { channels: 2, height: 8, width: 8, patchHeight: 4, patchWidth: 4 } };
  const n = 3, images = new Rng(6).normals(n * 128), labels = new Float64Array([0, 1, 2]);
  const be = await createBackend("wasm");
  const data = patchesFromImages(be, images, n, spec.image);
  const init = initParams(spec.shape, { seed: 7 });
  const clean = (await train(spec.shape, init, data, labels, { epochs: 30, lr: 0.01, trainReadout: false })).params;
  const contaminated = sparseOutliers(clean, { rho: 0.1, seed: 8 }).params;
  const write = (name: string, theta: Float64Array) => { const f = modelToTensors(spec, theta); writeFileSync(join(dir, name), encodeSafetensors(f.tensors, f.metadata)); return join(dir, name); };
  writeFileSync(join(dir, "x.npy"), encodeNpy(images, [n, 2, 8, 8]));
  return { model: write("m.safetensors", contaminated), init: write("i.safetensors", init), data: join(dir, "x.npy"), clean, spec, contaminated, initTheta: init, patches: data };
}

describe("purify with its defaults", () => {
  it("exact-regime files: patch span, readout judged frozen, certified exact, each said in the summary", async () => {
    const f = await exactFiles();
    const r = await cli(["purify", "--model", f.model, "--init", f.init, "--data", f.data, "--out", join(dir, "p.safetensors"), "--json"]);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.subspace).toBe("patch");
    expect(s.span).toBe("patch span: 12 patches for filter rows of p + 1 = 33 entries (ratio 0.36) <= 0.5: exact recovery");
    expect(s.readout).toMatch(/^readout frozen: \d+\.\d% of its entries equal init \(>= 50%\)$/);
    expect(s.certifiedExact).toBe(true);
    expect(s.admmCap).toBe(5000);
    // the same as the library with the theory's setting spelled out
    const api = await purify(f.contaminated, { shape: f.spec.shape, init: f.initTheta, data: f.patches, subspace: "patch", trainedReadout: false });
    expect(api.report.recovered).toBe(true);
    expect(Math.max(...api.params.map((v, i) => Math.abs(v - f.clean[i])))).toBeLessThan(1e-9);
  });

  it("PyTorch's files: auto re-linearizes and gives the explicit relinearized run's accuracy; patch is warned about by tensor name", async () => {
    const D = new URL("./fixtures/pytorch/one-hidden/", import.meta.url).pathname;
    const base = ["purify", "--model", join(D, "model.pt"), "--init", join(D, "init.pt"), "--data", join(D, "data.npy"),
      "--eval-data", join(D, "test-data.npy"), "--eval-labels", join(D, "test-labels.npy"), "--json"];
    const auto = await cli([...base, "--out", join(dir, "auto.pt")]);
    expect(auto.code, auto.err).toBe(0);
    const a = JSON.parse(auto.out);
    expect(a.subspace).toBe("relinearized");
    expect(a.span).toMatch(/ratio 32\.00\) > 0\.5, it covers R\^50: using relinearized \(n O = 1,000 <= 3,000\)/);
    expect(a.readout).toMatch(/^readout trained/);
    expect(a.admmCap).toBe(150);
    const explicit = JSON.parse((await cli([...base, "--subspace", "relinearized", "--max-iter", "150", "--trained-readout", "yes", "--out", join(dir, "rel.pt")])).out);
    expect(Math.abs(a.evalAccuracyAfter - explicit.evalAccuracyAfter)).toBeLessThanOrEqual(0.003);
    expect(readFileSync(join(dir, "auto.pt")).equals(readFileSync(join(dir, "rel.pt")))).toBe(true);
    const patch = await cli([...base, "--subspace", "patch", "--out", join(dir, "patch.pt")]);
    expect(patch.code).toBe(0);
    expect(patch.err).toMatch(/cnn-purify: warning: the patch span covers R\^50 for filter rows of p \+ 1 = 50 \(1,600 patches >= 50; 0\.weight, 0\.bias\): nothing can be removed there/);
    expect(JSON.parse(patch.out).warnings).toHaveLength(1);
  });
});
