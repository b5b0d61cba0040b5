// The demo's worker: trains, contaminates and purifies off the main thread, reporting progress.
import { initParams, evaluate, train, sparseOutliers, purify, recoveryErrors, Rng, layoutOf } from "../src/browser.js";
import type { ModelShape } from "../src/browser.js";
import type { DemoMessage, DemoRequest } from "./protocol.js";

const post = (m: DemoMessage) => (self as unknown as { postMessage(m: DemoMessage): void }).postMessage(m);

self.onmessage = async (e: MessageEvent<DemoRequest>) => {
  try {
    const { rho, filters, p } = e.data;
    const n = 8, k = 4, epochs = 300;
    const shape: ModelShape = { patchDim: p, patches: k, filters, outputs: 1, readout: "sum" };
    const data = { samples: n, patches: k, patchDim: p, values: new Rng(1).normals(n * k * p) };
    post({ type: "progress", fraction: 0.02, text: "generating a teacher" });
    const teacher = initParams(shape, { seed: 4, biasStd: 0.5 });
    const targets = (await evaluate(shape, teacher, data, new Float64Array(n), { backend: "wasm" })).outputs;
    const init = initParams(shape, { seed: 5, biasStd: 0.5 });
    const { params: clean } = await train(shape, init, data, targets, {
      epochs, lr: 0.02, batchSize: 4, trainReadout: false, backend: "wasm",
      onProgress: (pr) => { if (pr.epoch % 30 === 0) post({ type: "progress", fraction: 0.05 + 0.45 * pr.epoch / epochs, text: `training: epoch ${pr.epoch}/${epochs}, loss ${pr.loss.toExponential(2)}` }); },
    });
    const { params: contaminated } = sparseOutliers(clean, { rho, scale: 10, seed: 6 });
    post({ type: "progress", fraction: 0.5, text: "purifying" });
    const t0 = performance.now();
    const { params: recovered, report } = await purify(contaminated, {
      shape, init, data, trainedReadout: false, backend: "wasm",
      onProgress: (pr) => post({ type: "progress", fraction: Math.min(0.98, 0.5 + pr.iteration / 1000), text: `purifying: ADMM iteration ${pr.iteration}` }),
    });
    const seconds = (performance.now() - t0) / 1000;
    const after = recoveryErrors(recovered, clean, shape), before = recoveryErrors(contaminated, clean, shape);
    const L = layoutOf(shape);
    const wOnly = (a: Float64Array) => a.slice(0, L.wSize);
    post({ type: "progress", fraction: 1, text: "done" });
    post({
      type: "result",
      summary: { rho, weightRelError: after.weightRelError, biasRelError: after.biasRelError, contaminatedWeightRelError: before.weightRelError,
        contaminatedBiasRelError: before.biasRelError, recovered: report.recovered, iterations: report.iterations, seconds },
      clean: wOnly(clean), contaminated: wOnly(contaminated), recovered: wOnly(recovered),
    });
  } catch (err) {
    post({ type: "error", message: (err as Error).message ?? String(err) });
  }
};
