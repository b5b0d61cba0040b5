// The README's API example, runnable as written: `node examples/quickstart.mjs` after `npm install`.
import { initParams, train, evaluate, sparseOutliers, purify, Rng } from "cnn-purify";

// A one-hidden-layer CNN: 8 filters over 4 non-overlapping patches of dimension 256, scalar output.
const shape = { patchDim: 256, patches: 4, filters: 8, outputs: 1, readout: "sum" };
const n = 8;
const data = { samples: n, patches: 4, patchDim: 256, values: new Rng(1).normals(n * 4 * 256) };
const teacher = initParams(shape, { seed: 2, biasStd: 0.5 });
const targets = (await evaluate(shape, teacher, data, new Float64Array(n))).outputs;

// Train from a seeded init with SGD (filters and biases; the readout stays at init).
const init = initParams(shape, { seed: 3, biasStd: 0.5 });
const { params: trained } = await train(shape, init, data, targets, { epochs: 300, lr: 0.02, batchSize: 4, trainReadout: false });

// 20% of all parameters hit by gross errors, then purified.
const { params: contaminated } = sparseOutliers(trained, { rho: 0.2, scale: 10, seed: 4 });
const { params: recovered, report } = await purify(contaminated, {
  shape, init, data, trainedReadout: false, clean: trained, backend: "wasm",
});
console.log("certified exact:", report.recovered);
console.log("weight error:", report.errors.weightRelError, "bias error:", report.errors.biasRelError);
console.log("contaminated entries found:", report.estimatedContaminated.length, "precision", report.precision, "recall", report.recall);
