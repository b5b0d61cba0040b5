// Worker parallelism: purify() on a large patch-span problem with 1 and with 2 workers (each with
// its own WASM instance), interleaved. Uses the built Node entry (dist/node.js), whose worker script
// is dist/parallel/nodeWorker.js; the results must be bit-identical.
import { measure } from "./harness.js";

export interface ParallelResult { filters: number; params: number; oneThread: number; twoWorkers: number; speedup: number; identical: boolean; error: number }

export async function benchParallel(filters: number, o: { rounds: number }): Promise<ParallelResult> {
  const api = await import(new URL("../../dist/node.js", import.meta.url).href);
  const { trainInstance } = await import(new URL("../../dist/experiments/synthetic.js", import.meta.url).href);
  const be = await api.createBackend("wasm");
  const inst = await trainInstance({ p: 256, patches: 4, samples: 16, filters, seed: 1 }, be);
  const { params } = api.sparseOutliers(inst.trained, { rho: 0.2, seed: 2 });
  const opts = { shape: inst.shape, init: inst.init, data: inst.data, backend: be, trainedReadout: false };
  let one: Float64Array = new Float64Array(0), two: Float64Array = new Float64Array(0);
  await api.purify(params, { ...opts, workers: 2 }); // start the workers once: a pool keeps them
  const t = await measure([
    { name: "1", fn: async () => { one = (await api.purify(params, opts)).params; } },
    { name: "2", fn: async () => { two = (await api.purify(params, { ...opts, workers: 2 })).params; } },
  ], { rounds: o.rounds, timeMs: 1, iterations: 1 });
  api.closeWorkers();
  let identical = one.length === two.length;
  for (let i = 0; identical && i < one.length; i++) if (!Object.is(one[i], two[i])) identical = false;
  const e = api.recoveryErrors(two, inst.trained, inst.shape);
  return {
    filters, params: one.length, oneThread: t[0].seconds, twoWorkers: t[1].seconds, speedup: t[0].seconds / t[1].seconds,
    identical, error: Math.max(e.weightRelError, e.biasRelError),
  };
}
