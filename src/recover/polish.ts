// Polishing: an l1 solution fits a set of rows exactly (zero residual). Once a solver has found
// that set I approximately, least squares on the rows of I gives the solution to machine
// precision: this turns ADMM's 1e-8 into the 1e-12 that exact-recovery claims are checked at.
// It is accepted only when it does not raise the l1 objective.
import type { Buf } from "../backend/types.js";
import type { LinearOperator } from "./operator.js";
import { freeWlsScratch, weightedLeastSquares, wlsScratch } from "./weightedLeastSquares.js";

export interface PolishResult {
  u: Float64Array;
  residual: Float64Array;
  objective: number;
  polished: boolean;
  /**
   * Whether the answer fits every row of the set it was solved on to the tight tolerance (1e-9
   * rms(r), or the storage floor): an exact fit. A set that held a row the span cannot fit (a change
   * below the first tolerance) leaves residuals on its rows, and this is false.
   */
  exact: boolean;
}

function rms(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s / Math.max(v.length, 1));
}

function l1(v: Float64Array): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += Math.abs(v[i]);
  return s;
}

/** Rows with |res| <= max(tol, floor_i), as 0/1 weights. */
function inlierWeights(res: Float64Array, tol: number, w: Float64Array, erased: Int32Array | null, floor: Float64Array | null): number {
  let c = 0;
  for (let i = 0; i < res.length; i++) { const ok = Math.abs(res[i]) <= (floor ? Math.max(tol, floor[i]) : tol); w[i] = ok ? 1 : 0; if (ok) c++; }
  if (erased) for (const i of erased) { if (w[i]) c--; w[i] = 0; }
  return c;
}

/** l1 norm over the rows that are not erased. */
function l1Kept(res: Float64Array, erased: Int32Array | null): number {
  let s = l1(res);
  if (erased) for (const i of erased) s -= Math.abs(res[i]);
  return s;
}

/**
 * Polishes one problem: r (rows) its right-hand side, u0 (m) and res0 = A u0 - r from a solver.
 * tol0 selects the first inlier set (relative to rms(r)); later rounds use 1e-9 rms(r). A row also
 * counts as fit when |res| <= floor[i] (the rounding of a model stored in f32 or coarser: see
 * precisionFloor). Erased rows have weight 0. With enabled = false it returns u0 unchanged.
 */
export function polishOne(op: LinearOperator, r: Buf, u0: Float64Array, res0: Float64Array,
  options: { tol0?: number; erased?: Int32Array | null; enabled?: boolean; floor?: Float64Array | null } = {}): PolishResult {
  const tol0 = options.tol0 ?? 1e-6, erased = options.erased ?? null, rounds = options.enabled === false ? 0 : 4, floor = options.floor ?? null;
  const be = op.be, m = op.cols, N = op.rows;
  const rv = be.download(r);
  const scale = Math.max(rms(rv), 1e-300);
  const tight = 1e-9 * scale;
  let best: PolishResult = { u: u0, residual: res0, objective: l1Kept(res0, erased), polished: false, exact: false };
  const bestSet = new Float64Array(N);
  const wHost = new Float64Array(N);
  const w = be.alloc(N), rhs = be.alloc(m), au = be.alloc(N), scratch = wlsScratch(op);
  try {
    let tol = tol0 * scale;
    let prevCount = -1;
    const prev = new Float64Array(N);
    for (let round = 0; round < rounds; round++) {
      const count = inlierWeights(best.residual, tol, wHost, erased, floor);
      if (count < m || count === prevCount && round > 1) break;
      // the same rows as the last solve give the same least-squares answer: nothing to redo
      if (round > 0 && best.polished && count === prevCount && wHost.every((v, i) => v === prev[i])) break;
      prevCount = count;
      prev.set(wHost);
      be.upload(w, wHost);
      if (!weightedLeastSquares(op, w, r, rhs, au, scratch, false)) break;
      const res = be.download(au);
      const obj = l1Kept(res, erased);
      if (!(obj <= best.objective * (1 + 1e-12) + 1e-300)) break;
      best = { u: be.download(rhs), residual: res, objective: obj, polished: true, exact: false };
      bestSet.set(wHost);
      tol = tight;
    }
    if (best.polished) best.exact = best.residual.every((v, i) => !bestSet[i] || Math.abs(v) <= (floor ? Math.max(tight, floor[i]) : tight));
    return best;
  } finally {
    for (const b of [w, rhs, au]) be.free(b);
    freeWlsScratch(op, scratch);
  }
}
