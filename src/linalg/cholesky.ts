// A Cholesky factorization object in the style of ml-matrix's: the input is checked once when the
// factor is built (a clear error if it is not positive definite), then it solves many right-hand sides.
import type { Backend, Buf } from "../backend/types.js";
import { NumericalError, ShapeError } from "../errors.js";

export class Cholesky {
  /** Lower factor L (m x m), in backend memory. */
  readonly factor: Buf;
  /** Ridge added to the diagonal to make the factorization succeed (0 when none was needed). */
  readonly ridge: number;

  /**
   * Factors a copy of the m x m symmetric matrix g. With allowRidge, a matrix that is only positive
   * semi-definite (a rank-deficient Gram) gets the smallest ridge of the form 10^q * trace / m,
   * q = -14, -13, ..., that makes it definite; without it, such a matrix throws NumericalError.
   */
  constructor(readonly be: Backend, g: Buf, readonly m: number, allowRidge = false) {
    if (g.length !== m * m) throw new ShapeError(`Cholesky: matrix has length ${g.length}, expected ${m * m} (${m} x ${m})`);
    this.factor = be.alloc(m * m);
    be.copy(this.factor, g);
    let info = be.choleskyFactor(this.factor, m);
    let ridge = 0;
    if (info !== 0 && allowRidge) {
      const gv = be.view(g);
      let trace = 0;
      for (let i = 0; i < m; i++) trace += gv[i * m + i];
      const unit = Math.max(trace / m, 1e-300);
      for (let q = -14; q <= 0 && info !== 0; q++) {
        ridge = unit * 10 ** q;
        be.copy(this.factor, g);
        const f = be.view(this.factor);
        for (let i = 0; i < m; i++) f[i * m + i] += ridge;
        info = be.choleskyFactor(this.factor, m);
      }
    }
    if (info !== 0) {
      be.free(this.factor);
      throw new NumericalError(`Cholesky: matrix is not positive definite (pivot ${info - 1} of ${m})`);
    }
    this.ridge = ridge;
  }

  /** Solves (L L^T) X = B in place; b is m x nrhs. */
  solve(b: Buf, nrhs: number): Buf {
    return this.be.choleskySolve(this.factor, this.m, b, nrhs);
  }

  dispose(): void { this.be.free(this.factor); }
}
