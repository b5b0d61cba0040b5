// Least absolute deviations by iteratively reweighted least squares: weights 1 / max(|res|, eps)
// with eps shrinking geometrically, each step a weighted normal-equation solve. Slower per problem
// than ADMM (the weighted Gram changes every step) but a second, independent route to the answer.
import type { Buf } from "../backend/types.js";
import type { LinearOperator } from "./operator.js";
import { freeWlsScratch, weightedLeastSquares, wlsScratch } from "./weightedLeastSquares.js";

export interface IrlsOptions {
  maxIter?: number;
  /** Stop when the relative change of u falls below this (default 1e-12). */
  tol?: number;
  /** Rows left out of the fit (weight 0 throughout): erasures. */
  erased?: Int32Array | null;
}

export interface IrlsSolution {
  u: Float64Array;
  residual: Float64Array;
  objective: number;
  iterations: number;
  converged: boolean;
}

/** Solves one LAD problem min ||A u - r||_1 (r: rows) by IRLS. */
export function irlsLad(op: LinearOperator, r: Buf, options: IrlsOptions = {}): IrlsSolution {
  const be = op.be, m = op.cols, N = op.rows;
  const maxIter = options.maxIter ?? 100, tol = options.tol ?? 1e-12;
  const w = be.alloc(N), u = be.alloc(m), au = be.alloc(N), scratch = wlsScratch(op);
  try {
    const rv = be.view(r);
    let scale = 0;
    for (let i = 0; i < N; i++) scale += rv[i] * rv[i];
    scale = Math.sqrt(scale / N) || 1;
    let eps = scale;
    const dropErased = () => { if (options.erased) { const wv = be.view(w); for (const i of options.erased) wv[i] = 0; } };
    be.fill(w, 1);
    dropErased();
    let prev: Float64Array = new Float64Array(m);
    let it = 0, converged = false;
    for (it = 1; it <= maxIter; it++) {
      weightedLeastSquares(op, w, r, u, au, scratch, true);
      const cur = be.download(u);
      let du = 0, nu = 0;
      for (let i = 0; i < m; i++) { du += (cur[i] - prev[i]) ** 2; nu += cur[i] * cur[i]; }
      prev = cur;
      if (it > 1 && Math.sqrt(du) <= tol * Math.max(Math.sqrt(nu), 1e-300)) { converged = true; break; }
      eps = Math.max(eps * 0.1, 1e-15 * scale);
      const res = be.view(au), wv = be.view(w);
      for (let i = 0; i < N; i++) wv[i] = 1 / Math.max(Math.abs(res[i]), eps);
      dropErased();
    }
    const residual = be.download(au);
    let objective = 0;
    for (let i = 0; i < N; i++) objective += Math.abs(residual[i]);
    return { u: be.download(u), residual, objective, iterations: Math.min(it, maxIter), converged };
  } finally {
    for (const b of [w, u, au]) be.free(b);
    freeWlsScratch(op, scratch);
  }
}
