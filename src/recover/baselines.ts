// The naive repairs every recovery result is reported beside (DESIGN.md section 2), so a reader sees
// what robust recovery adds. Each works per parameter group (filter weights, biases, readout), whose
// scales differ by an order of magnitude, and returns a new vector.
import { ShapeError, ValueError } from "../errors.js";
import type { ModelShape } from "../model/shape.js";
import { layoutOf } from "../model/shape.js";

export type BaselineName = "reset" | "zeroAbnormal" | "clip";
export const BASELINE_NAMES: readonly BaselineName[] = ["reset", "zeroAbnormal", "clip"];

/** Index lists of the groups: filter weights w, biases b, readout beta. */
export function parameterGroups(shape: ModelShape): Int32Array[] {
  const L = layoutOf(shape), p = shape.patchDim;
  const w: number[] = [], b: number[] = [];
  for (let j = 0; j < shape.filters; j++) {
    for (let q = 0; q < p; q++) w.push(j * L.row + q);
    b.push(j * L.row + p);
  }
  return [Int32Array.from(w), Int32Array.from(b), Int32Array.from({ length: L.betaSize }, (_, i) => L.wSize + i)];
}

function checkLengths(where: string, shape: ModelShape, ...vs: Float64Array[]): void {
  const size = layoutOf(shape).size;
  for (const v of vs) if (v.length !== size) throw new ShapeError(`${where}: vector has length ${v.length}, expected ${size} parameters`);
}

/** Reset: discard everything training did (theta0). */
export function resetToInit(shape: ModelShape, init: Float64Array): Float64Array {
  checkLengths("resetToInit", shape, init);
  return init.slice();
}

/** Median and 1.4826 x median absolute deviation of the finite values (a robust mean and std). */
function robustCenterScale(v: Float64Array): [number, number] {
  const f = v.filter(Number.isFinite).sort();
  if (f.length === 0) return [0, 0];
  const med = f[f.length >> 1];
  const dev = f.map((x) => Math.abs(x - med)).sort();
  return [med, 1.4826 * dev[dev.length >> 1]];
}

/**
 * Zeroes entries of abnormal magnitude: per group, |theta_i - median| > c x robust std (and every
 * NaN/Inf). c is the threshold; callers pick the best c in hindsight over a grid (THRESHOLDS).
 */
export function zeroAbnormal(shape: ModelShape, theta: Float64Array, c: number): Float64Array {
  checkLengths("zeroAbnormal", shape, theta);
  return zeroAbnormalInGroups(theta, parameterGroups(shape), c);
}

/** zeroAbnormal over any partition of the parameters into groups (e.g. the layers of a deep model). */
export function zeroAbnormalInGroups(theta: Float64Array, groups: Int32Array[], c: number): Float64Array {
  if (!(c > 0)) throw new ValueError(`zeroAbnormal: threshold must be > 0, got ${c}`);
  const out = theta.slice();
  for (const g of groups) {
    const vals = Float64Array.from(g, (i) => theta[i]);
    const [med, s] = robustCenterScale(vals);
    for (const i of g) if (!Number.isFinite(theta[i]) || Math.abs(theta[i] - med) > c * s) out[i] = 0;
  }
  return out;
}

/** The threshold grid (in robust stds) that "best in hindsight" is taken over. */
export const THRESHOLDS: readonly number[] = [2, 3, 4, 5, 6, 8, 10, 15, 20, 30];

/** Clips each entry into the range its group had at init; NaN becomes 0 (inside any init range). */
export function clipToInitRange(shape: ModelShape, theta: Float64Array, init: Float64Array): Float64Array {
  checkLengths("clipToInitRange", shape, theta, init);
  return clipInGroups(theta, init, parameterGroups(shape));
}

/** clipToInitRange over any partition of the parameters into groups. */
export function clipInGroups(theta: Float64Array, init: Float64Array, groups: Int32Array[]): Float64Array {
  const out = theta.slice();
  for (const g of groups) {
    let lo = Infinity, hi = -Infinity;
    for (const i of g) { lo = Math.min(lo, init[i]); hi = Math.max(hi, init[i]); }
    for (const i of g) out[i] = Number.isNaN(theta[i]) ? Math.min(Math.max(0, lo), hi) : Math.min(Math.max(theta[i], lo), hi);
  }
  return out;
}
