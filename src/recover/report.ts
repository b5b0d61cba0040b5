// Measures for purification reports: recovery errors by parameter group, the residual threshold
// that separates "explained by the span" from "contaminated", and detection precision/recall.
import { ShapeError } from "../errors.js";
import type { ModelShape } from "../model/shape.js";
import { layoutOf } from "../model/shape.js";

export interface RecoveryErrors {
  /** ||W^ - W*||_F / ||W*||_F over filter weights (biases excluded). */
  weightRelError: number;
  /** ||b^ - b*|| / ||b*||. */
  biasRelError: number;
  /** ||beta^ - beta*|| / ||beta*||. */
  betaRelError: number;
  /** Over all parameters. */
  paramRelError: number;
}

function rel(num: number, den: number): number {
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-300);
}

/** Relative errors of `got` against `truth` per parameter group (NaN entries count as infinite). */
export function recoveryErrors(got: Float64Array, truth: Float64Array, shape: ModelShape): RecoveryErrors {
  const L = layoutOf(shape), p = shape.patchDim;
  const acc = { w: [0, 0], b: [0, 0], beta: [0, 0], all: [0, 0] };
  for (let i = 0; i < L.size; i++) {
    const d = got[i] - truth[i];
    const e = Number.isFinite(d) ? d * d : Infinity;
    const t = truth[i] * truth[i];
    const g = i >= L.wSize ? acc.beta : i % L.row === p ? acc.b : acc.w;
    g[0] += e; g[1] += t;
    acc.all[0] += e; acc.all[1] += t;
  }
  return {
    weightRelError: rel(acc.w[0], acc.w[1]),
    biasRelError: rel(acc.b[0], acc.b[1]),
    betaRelError: rel(acc.beta[0], acc.beta[1]),
    paramRelError: rel(acc.all[0], acc.all[1]),
  };
}

/**
 * Residuals above this are reported as contamination: 1e-6 rms of the residual when the fit is
 * exact (most residuals are 0), else 3 robust standard deviations (1.4826 MAD) of the residual.
 */
export function residualThreshold(res: ArrayLike<number>): number {
  const a = new Float64Array(res.length);
  for (let i = 0; i < a.length; i++) a[i] = Number.isFinite(res[i]) ? Math.abs(res[i]) : 0;
  a.sort();
  let ss = 0;
  for (const v of a) ss += v * v;
  const rms = Math.sqrt(ss / Math.max(a.length, 1));
  const med = a.length ? a[a.length >> 1] : 0;
  return Math.max(1e-6 * rms, 3 * 1.4826 * med, 1e-300);
}

/**
 * The entries of B rows of length len (row b's residual at b len) a fit flags as contaminated: a
 * residual beyond the residuals' own spread (residualThreshold) and beyond what an exact fit leaves
 * (1e-9 of the rms of the row's change, change(b, i), or the storage rounding, floor(b, i)), so that
 * a clean model's rounding noise is never a suspect; plus the entries always(b, i) names (erased
 * ones). One rule for every span: the one-hidden-layer spans and the layerwise method.
 */
export function flaggedEntries(residual: Float64Array, B: number, len: number, change: (b: number, i: number) => number,
  floor: ((b: number, i: number) => number) | null, always: (b: number, i: number) => boolean): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let b = 0; b < B; b++) {
    const res = residual.subarray(b * len, (b + 1) * len);
    let ss = 0;
    for (let i = 0; i < len; i++) ss += change(b, i) ** 2;
    const thr = Math.max(residualThreshold(res), 1e-9 * Math.sqrt(ss / Math.max(len, 1)));
    for (let i = 0; i < len; i++) if (Math.abs(res[i]) > (floor ? Math.max(thr, floor(b, i)) : thr) || always(b, i)) out.push([b, i]);
  }
  return out;
}

/**
 * How much of the model's change the span leaves unexplained, without the clean model: on the
 * entries purification did not flag as contaminated (residual within residualThreshold; NaN/Inf
 * excluded), || contaminated - purified || / || contaminated - init ||. A span that holds the
 * training's update fits those entries exactly (~1e-15 in f64, the file's rounding in f32); an
 * approximate one leaves the part of the update outside it. `flagged` is the fraction set aside.
 */
export function spanFit(contaminated: ArrayLike<number>, init: ArrayLike<number>, purified: ArrayLike<number>): { unexplained: number; flagged: number } {
  if (contaminated.length !== init.length || purified.length !== init.length) {
    throw new ShapeError(`spanFit: contaminated, init and purified have lengths ${contaminated.length}, ${init.length}, ${purified.length}; they must be one model's`);
  }
  const res = new Float64Array(init.length);
  let finite = 0;
  for (let i = 0; i < init.length; i++) {
    res[i] = Number.isFinite(contaminated[i]) ? contaminated[i] - purified[i] : NaN;
    if (Number.isFinite(res[i])) finite++;
  }
  const thr = residualThreshold(res);
  let num = 0, den = 0, kept = 0;
  for (let i = 0; i < res.length; i++) {
    if (!Number.isFinite(res[i]) || Math.abs(res[i]) > thr) continue;
    kept++;
    num += res[i] * res[i];
    den += (contaminated[i] - init[i]) ** 2;
  }
  return { unexplained: den > 0 ? Math.sqrt(num / den) : 0, flagged: finite ? 1 - kept / init.length : 1 };
}

/** Precision and recall of an estimated index set against a 0/1 truth mask. */
export function detectionScores(estimated: Int32Array, truth: Uint8Array): { precision: number; recall: number } {
  let tp = 0, pos = 0;
  for (const i of estimated) if (truth[i]) tp++;
  for (let i = 0; i < truth.length; i++) if (truth[i]) pos++;
  return { precision: estimated.length ? tp / estimated.length : 1, recall: pos ? tp / pos : 1 };
}

/** A report with its index arrays (Int32Array) as plain arrays, for JSON. */
export function plainReport(report: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(report).map(([k, x]) => [k, ArrayBuffer.isView(x) ? Array.from(x as Int32Array) : x]));
}
