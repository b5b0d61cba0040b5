// How recovery time grows: against the parameter count P (more filters, same span) and against
// the span dimension n k (more samples), log-log with the fitted exponent.
import type { Backend } from "../src/backend/types.js";
import { sparseOutliers } from "../src/contaminate.js";
import { trainInstance } from "../src/experiments/synthetic.js";
import { layoutOf } from "../src/model/shape.js";
import { purify } from "../src/recover/purify.js";
import { logLogSlope, measure } from "./harness.js";

export interface ScalingSeries { x: string; points: Array<{ x: number; seconds: number; error: number }>; exponent: number }

async function timeOne(be: Backend, p: number, samples: number, filters: number, o: { rounds: number; timeMs: number }) {
  const inst = await trainInstance({ p, patches: 4, samples, filters, seed: 1 }, be);
  const { params } = sparseOutliers(inst.trained, { rho: 0.1, seed: 2 });
  let error = 0;
  const [t] = await measure([{ name: be.name, fn: async () => {
    const r = await purify(params, { shape: inst.shape, init: inst.init, data: inst.data, backend: be, trainedReadout: false, clean: inst.trained });
    error = Math.max(r.report.errors!.weightRelError, r.report.errors!.biasRelError);
  } }], { ...o, iterations: 1 });
  return { P: layoutOf(inst.shape).size, seconds: t.seconds, error };
}

export async function benchScaling(be: Backend, quick: boolean, o: { rounds: number; timeMs: number }): Promise<ScalingSeries[]> {
  const filters = quick ? [16, 64, 256] : [16, 32, 64, 128, 256, 512];
  const samples = quick ? [2, 8, 16] : [2, 4, 8, 12, 16];
  const byP: ScalingSeries = { x: "P (parameters; K filters x 257, n k = 32)", points: [], exponent: 0 };
  for (const K of filters) { const r = await timeOne(be, 256, 8, K, o); byP.points.push({ x: r.P, seconds: r.seconds, error: r.error }); }
  byP.exponent = logLogSlope(byP.points.map((p) => [p.x, p.seconds]));
  const byNk: ScalingSeries = { x: "n k (span dimension; K = 64, p = 256)", points: [], exponent: 0 };
  for (const n of samples) { const r = await timeOne(be, 256, n, 64, o); byNk.points.push({ x: n * 4, seconds: r.seconds, error: r.error }); }
  byNk.exponent = logLogSlope(byNk.points.map((p) => [p.x, p.seconds]));
  return [byP, byNk];
}
