// purify({ workers }) through the Node entry (worker_threads): bit-identical to one thread.
import { describe, expect, it } from "vitest";

describe("workers", () => {
  it("splitting the filters over 2 and 3 workers gives bit-identical parameters and reports", async () => {
    // the built Node entry: its worker script is dist/parallel/nodeWorker.js
    const api = await import("../dist/node.js");
    const { trainInstance } = await import("../dist/experiments/synthetic.js");
    const be = await api.createBackend("wasm");
    const inst = await trainInstance({ p: 64, patches: 4, samples: 6, filters: 100, seed: 3 }, be); // 100 filters: shares of >= 32 for 2 and 3 workers
    const { params } = api.sparseOutliers(inst.trained, { rho: 0.1, seed: 4 });
    params[5] = NaN; // an erasure in the first share
    const o = { shape: inst.shape, init: inst.init, data: inst.data, backend: "wasm", trainedReadout: false, clean: inst.trained };
    const one = await api.purify(params, o);
    for (const workers of [2, 3]) {
      const many = await api.purify(params, { ...o, workers });
      expect(Array.from(many.params)).toEqual(Array.from(one.params));
      expect(many.report.recovered).toBe(one.report.recovered);
      expect(Array.from(many.report.estimatedContaminated)).toEqual(Array.from(one.report.estimatedContaminated));
    }
    expect(one.report.errors!.weightRelError).toBeLessThanOrEqual(1e-9);
    api.closeWorkers();
  });

  it("a sequential model's layerwise span splits a wide layer's rows the same way: bit-identical parameters and report", async () => {
    const api = await import("../dist/node.js");
    // 64 filters of 4x4 on 8x8 images (2 samples: 8 patches for rows of 17, thin), then a dense layer
    const model = { input: { C: 1, H: 8, W: 8 }, layers: [{ type: "conv", filters: 64, kernel: 4, stride: 4 }, { type: "relu" }, { type: "flatten" }, { type: "dense", units: 2 }] } as const;
    const m = { input: model.input, layers: [...model.layers] } as Parameters<typeof api.initSequential>[0];
    const x = new api.Rng(2).normals(2 * 64), init = api.initSequential(m, 3);
    const clean = (await api.train(m, init, { samples: 2, values: x }, [0, 1], { epochs: 20, lr: 0.05 })).params;
    // one outlier in each of three filter rows (a row of 17 entries over 8 patches certifies with one), and one in the readout
    const c = clean.slice();
    for (const q of [3, 10 * 17 + 5, 40 * 17 + 16, 64 * 17 + 7]) c[q] += 1;
    const o = { model: m, init, data: { samples: 2, values: x }, subspace: "layerwise" as const, backend: "wasm" };
    const one = await api.purify(c, o), two = await api.purify(c, { ...o, workers: 2 });
    expect(Array.from(two.params)).toEqual(Array.from(one.params));
    expect(Array.from(two.report.estimatedContaminated)).toEqual(Array.from(one.report.estimatedContaminated));
    expect(two.report.layers!.map((l) => l.recovered)).toEqual(one.report.layers!.map((l) => l.recovered));
    expect(one.report.layers![0].recovered).toBe(true);
    api.closeWorkers();
  });

  it("the core entry (no worker support) says so instead of silently running one thread", async () => {
    const core = await import("../src/index.js");
    core.setWorkerFactory(null);
    const shape = { patchDim: 3, patches: 2, filters: 2, outputs: 1, readout: "sum" as const };
    const init = core.initParams(shape, { seed: 1 });
    const data = { samples: 2, patches: 2, patchDim: 3, values: new Float64Array(12).fill(0.5) };
    await expect(core.purify(init, { shape, init, data, subspace: "patch", workers: 2 })).rejects.toThrow(/workers > 1 needs worker support/);
    await expect(core.purify(init, { shape, init, data, workers: 0 })).rejects.toThrow(/workers must be an integer >= 1/);
  });
});
