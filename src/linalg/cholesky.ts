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
    let info = blockedCholesky(be, this.factor, m);
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
        info = blockedCholesky(be, this.factor, m);
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

/** Block size of the blocked factorization: the trailing update is a GEMM with inner dimension NB. */
const NB = 128;

/**
 * Right-looking blocked Cholesky on the n x n matrix a (row-major, in place), returning 0 or i + 1
 * for the first bad pivot i like the unblocked kernel. Per block column: factor the diagonal block
 * (unblocked kernel), solve the panel below it (X L11^T = A21), and subtract L21 L21^T from the
 * lower part of the trailing matrix with GEMMs. The unblocked kernel streams every earlier row of L
 * from memory for each row (memory-bound once the matrix leaves cache); this way almost all flops
 * run in the packed GEMM.
 */
export function blockedCholesky(be: Backend, a: Buf, n: number): number {
  if (n <= 2 * NB) return be.choleskyFactor(a, n);
  const at = (r: number, c: number, len: number) => be.slice(a, r * n + c, len);
  for (let k = 0; k < n; k += NB) {
    const b = Math.min(NB, n - k), rest = n - k - b;
    const info = be.choleskyFactor(at(k, k, (b - 1) * n + b), b, n);
    if (info !== 0) return k + info;
    if (rest === 0) break;
    be.solveLowerTransposed(at(k, k, (b - 1) * n + b), b, n, at(k + b, k, (rest - 1) * n + b), rest, n);
    // Lower block triangle of A22 -= L21 L21^T, one block row at a time (the upper part is never read).
    for (let r = k + b; r < n; r += NB) {
      const rows = Math.min(NB, n - r), cols = r + rows - (k + b);
      be.gemm(false, true, rows, cols, b, -1, at(r, k, (rows - 1) * n + b), n, at(k + b, k, (cols - 1) * n + b), n, 1, at(r, k + b, (rows - 1) * n + cols), n);
    }
  }
  // the diagonal-block kernel zeroes only inside its block: clear the rest of the upper triangle
  const f = be.view(a);
  for (let i = 0; i < n; i++) f.fill(0, i * n + i + 1, (i + 1) * n);
  return 0;
}
