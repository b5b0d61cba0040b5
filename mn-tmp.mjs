import { createBackend, patchesFromImages, initParams, train, evaluate, sparseOutliers, purify } from "cnn-purify";
import { split } from "./dist/data/datasets.js";
const be = await createBackend("wasm");
const n = 100, K = 64;
const { train: tr, test: te } = split("mnist", { seed: 1, train: n, test: 2000 });
const img = { channels: 1, height: 28, width: 28, patchHeight: 7, patchWidth: 7 };
const data = patchesFromImages(be, tr.images, n, img), tdata = patchesFromImages(be, te.images, te.samples, img);
const shape = { patchDim: 49, patches: 16, filters: K, outputs: 10, readout: "dense" };
const init = initParams(shape, { seed: 2 });
const r = await train(shape, init, data, tr.labels, { epochs: 60, batchSize: 20, lr: 0.05, momentum: 0.9, backend: be });
const acc = async (p) => (await evaluate(shape, p, tdata, te.labels, { backend: be })).accuracy;
const c = sparseOutliers(r.params, { rho: 0.1, scale: 10, seed: 3 });
console.log("clean", await acc(r.params), "contaminated", await acc(c.params), "P", r.params.length);
for (const [maxIter, relTol] of [[100, 1e-10], [300, 1e-10], [1000, 1e-10], [5000, 1e-10], [5000, 1e-6], [5000, 1e-4]]) {
  const t0 = performance.now();
  const pur = await purify(c.params, { shape, init, data, subspace: "linearized", backend: be, admm: { maxIter, relTol } });
  console.log(maxIter, relTol, ((performance.now() - t0) / 1000).toFixed(1), "s it", pur.report.iterations, "acc", await acc(pur.params), "obj", pur.report.objective.toFixed(4));
}
