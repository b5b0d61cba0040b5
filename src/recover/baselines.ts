// The naive repairs every recovery result is reported beside (DESIGN.md section 2), so a reader sees
// what robust recovery adds. Each works per parameter group (a layer's weights, its biases), whose
// scales differ by an order of magnitude, and returns a new vector; for any model of the family.
import { ShapeError, ValueError } from "../errors.js";
import type { Network } from "../model/planView.js";
import { viewOf } from "../model/planView.js";

export type BaselineName = "reset" | "zeroAbnormal" | "clip";
export const BASELINE_NAMES: readonly BaselineName[] = ["reset", "zeroAbnormal", "clip"];

/**
 * Index lists (ascending, in the caller's layout) of the groups: per layer with rows, its weights and
 * (if it has biases) its biases. The one-hidden-layer CNN's are filter weights w, biases b, readout beta.
 */
export function parameterGroups(net: Network): Int32Array[] {
  const view = viewOf(net), caller = view.caller;
  const groups: number[][] = [];
  for (const l of view.plan.layers) {
    if (!l.rows) continue;
    const w: number[] = [], b: number[] = [], hasBias = (l.spec as { bias?: boolean }).bias !== false;
    for (let q = 0; q < l.rows * l.rowLength; q++) {
      const i = caller[l.offset + q];
      if (i >= 0) ((q + 1) % l.rowLength ? w : b).push(i);
    }
    groups.push(w);
    if (hasBias) groups.push(b);
  }
  return groups.map((g) => Int32Array.from(g).sort());
}

function checkLengths(where: string, net: Network, ...vs: Float64Array[]): void {
  const size = viewOf(net).index.length;
  for (const v of vs) if (v.length !== size) throw new ShapeError(`${where}: vector has length ${v.length}, expected ${size} parameters`);
}

/** Reset: discard everything training did (theta0). */
export function resetToInit(net: Network, init: Float64Array): Float64Array {
  checkLengths("resetToInit", net, init);
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
export function zeroAbnormal(net: Network, theta: Float64Array, c: number): Float64Array {
  checkLengths("zeroAbnormal", net, theta);
  return zeroAbnormalInGroups(theta, parameterGroups(net), c);
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
export function clipToInitRange(net: Network, theta: Float64Array, init: Float64Array): Float64Array {
  checkLengths("clipToInitRange", net, theta, init);
  return clipInGroups(theta, init, parameterGroups(net));
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

/**
 * The best of the baselines in hindsight by `score` (higher is better): reset, zeroAbnormal at its
 * best threshold, clip. Returns each one's score, the best score and the best repaired model.
 */
export async function bestBaseline(net: Network, c: Float64Array, init: Float64Array, score: (theta: Float64Array) => Promise<number>) {
  let zero = -Infinity, zeroThreshold = THRESHOLDS[0];
  for (const t of THRESHOLDS) { const a = await score(zeroAbnormal(net, c, t)); if (a > zero) { zero = a; zeroThreshold = t; } }
  const clipped = clipToInitRange(net, c, init);
  const b = { reset: await score(init), zeroAbnormal: zero, zeroThreshold, clip: await score(clipped) };
  const bestParams = b.zeroAbnormal >= b.clip && b.zeroAbnormal >= b.reset ? zeroAbnormal(net, c, zeroThreshold) : b.clip >= b.reset ? clipped : init;
  return { b, best: Math.max(b.reset, b.zeroAbnormal, b.clip), bestParams };
}
