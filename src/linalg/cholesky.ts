// A Cholesky factorization object in the style of ml-matrix's: the input is checked once when the
// factor is built (a clear error if it is not positive definite), then it solves many right-hand sides.
import type { Backend, Buf } from "../backend/types.js";
import { NumericalError, ShapeError } from "../errors.js";

export class Cholesky {
  /** Lower factor L (m x m), in backend memory. */
  readonly factor: Buf;
  /** Ridge added to the diagonal to make the factorization succeed (0 when none was needed). */
  readonly ridge: number;
  private readonly owned: boolean;

  /**
   * Factors a copy of the m x m symmetric matrix g. With allowRidge, a matrix that is only positive
   * semi-definite (a rank-deficient Gram) gets the smallest ridge of the form 10^q * trace / m,
   * q = -14, -13, ..., that makes it definite; without it, such a matrix throws NumericalError.
   */
  constructor(be: Backend, g: Buf, m: number, allowRidge?: boolean);
  /** (Internal) wraps a factor already computed in `factor`. */
  constructor(be: Backend, factor: Buf, m: number, allowRidge: boolean, done: { ridge: number; owned: boolean });
  constructor(readonly be: Backend, g: Buf, readonly m: number, allowRidge = false, done?: { ridge: number; owned: boolean }) {
    if (g.length !== m * m) throw new ShapeError(`Cholesky: matrix has length ${g.length}, expected ${m * m} (${m} x ${m})`);
    if (done) {
      this.factor = g; this.ridge = done.ridge; this.owned = done.owned;
      return;
    }
    this.factor = be.alloc(m * m);
    try {
      this.ridge = factorWithRidge(be, this.factor, m, (out) => be.copy(out, g), allowRidge);
    } catch (e) {
      be.free(this.factor);
      throw e;
    }
    this.owned = true;
  }

  /**
   * Factors the matrix that `fill` writes into a buffer of its own, without keeping a copy of the
   * input: one m x m buffer instead of two while factoring (the memory that decides whether an NTK
   * fits an edge runtime). `fill` runs again if a ridge has to be tried.
   */
  static fromGram(be: Backend, m: number, fill: (out: Buf) => void, allowRidge = false): Cholesky {
    const f = be.alloc(m * m);
    try {
      return new Cholesky(be, f, m, allowRidge, { ridge: factorWithRidge(be, f, m, fill, allowRidge), owned: true });
    } catch (e) {
      be.free(f);
      throw e;
    }
  }

  /** Factors the m x m matrix in `a` in place (a becomes the factor; disposing leaves it to its owner). */
  static inPlace(be: Backend, a: Buf, m: number, refill: (out: Buf) => void, allowRidge = false): Cholesky {
    if (a.length !== m * m) throw new ShapeError(`Cholesky: matrix has length ${a.length}, expected ${m * m} (${m} x ${m})`);
    return new Cholesky(be, a, m, allowRidge, { ridge: factorWithRidge(be, a, m, refill, allowRidge, true), owned: false });
  }

  /** Solves (L L^T) X = B in place; b is m x nrhs. */
  solve(b: Buf, nrhs: number): Buf {
    return this.be.choleskySolve(this.factor, this.m, b, nrhs);
  }

  dispose(): void { if (this.owned) this.be.free(this.factor); }
}

/** Factors a (filled by fill) in place; returns the ridge used. See the Cholesky constructor. */
function factorWithRidge(be: Backend, a: Buf, m: number, fill: (out: Buf) => void, allowRidge: boolean, filled = false): number {
  if (!filled) fill(a);
  let trace = 0;
  if (allowRidge) {
    const v = be.view(a);
    for (let i = 0; i < m; i++) trace += v[i * m + i];
  }
  let info = blockedCholesky(be, a, m);
  let ridge = 0;
  if (info !== 0 && allowRidge) {
    const unit = Math.max(trace / m, 1e-300);
    for (let q = -14; q <= 0 && info !== 0; q++) {
      ridge = unit * 10 ** q;
      fill(a);
      const f = be.view(a);
      for (let i = 0; i < m; i++) f[i * m + i] += ridge;
      info = blockedCholesky(be, a, m);
    }
  }
  if (info !== 0) throw new NumericalError(`Cholesky: matrix is not positive definite (pivot ${info - 1} of ${m})`);
  return ridge;
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
