// One weighted least-squares solve through an operator: u = argmin || W^(1/2) (A u - r) ||_2, via
// the normal equations A^T W A u = A^T W r. Shared by IRLS (every step) and polishing (0/1 weights).
import type { Buf } from "../backend/types.js";
import { NumericalError } from "../errors.js";
import { Cholesky } from "../linalg/cholesky.js";
import type { LinearOperator } from "./operator.js";
import { weightedGram } from "./operator.js";

/** Scratch for weightedLeastSquares, sized for one operator. */
export interface WlsScratch { gram: Buf; wr: Buf }

export function wlsScratch(op: LinearOperator): WlsScratch {
  return { gram: op.be.alloc(op.cols * op.cols), wr: op.be.alloc(op.rows) };
}

export function freeWlsScratch(op: LinearOperator, s: WlsScratch): void {
  op.be.free(s.gram);
  op.be.free(s.wr);
}

/**
 * Writes u (m) and res = A u - r (rows). With allowRidge false, returns false instead of solving
 * when A^T W A is not positive definite (the weighted rows do not determine u).
 */
export function weightedLeastSquares(op: LinearOperator, w: Buf, r: Buf, u: Buf, res: Buf, s: WlsScratch, allowRidge: boolean): boolean {
  const be = op.be;
  weightedGram(op, w, s.gram);
  let chol: Cholesky;
  try {
    // factored in the scratch itself: no second m x m buffer
    chol = Cholesky.inPlace(be, s.gram, op.cols, (g) => weightedGram(op, w, g), allowRidge);
  } catch (e) {
    if (e instanceof NumericalError && !allowRidge) return false;
    throw e;
  }
  be.mul(s.wr, w, r);
  op.applyT(s.wr, u, 1);
  chol.solve(u, 1);
  chol.dispose();
  op.apply(u, res, 1);
  be.sub(res, res, r);
  return true;
}
