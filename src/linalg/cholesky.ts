// A Cholesky factorization object in the style of ml-matrix's: the input is checked once when the
// factor is built (a clear error if it is not positive definite), then it solves many right-hand sides.
import type { Backend, Buf, Buf32 } from "../backend/types.js";
import { NumericalError, ShapeError } from "../errors.js";

/** A factored Gram G = L L^T that solves G X = B in f64 (its factor may be held in f32). */
export interface GramFactor {
  readonly be: Backend;
  readonly m: number;
  /** Ridge added to the diagonal to make the factorization succeed (0 when none was needed). */
  readonly ridge: number;
  /** The precision L is stored and solved in. */
  readonly precision: "f64" | "f32";
  /** Solves (L L^T) X = B in place; b (f64) is m x nrhs. */
  solve(b: Buf, nrhs: number): Buf;
  dispose(): void;
}

export class Cholesky implements GramFactor {
  readonly precision = "f64" as const;
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

/** The kernels a blocked factorization needs, in one precision (a Backend, or its f32 kernels). */
export interface FactorKernels<B extends { length: number }> {
  slice(b: B, start: number, length: number): B;
  view(b: B): Float64Array | Float32Array;
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number, a: B, lda: number, b: B, ldb: number, beta: number, c: B, ldc: number): B;
  choleskyFactor(a: B, n: number, lda?: number): number;
  solveLowerTransposed(l: B, n: number, lda: number, b: B, rows: number, ldb: number): B;
}

/**
 * Right-looking blocked Cholesky on the n x n matrix a (row-major, in place), returning 0 or i + 1
 * for the first bad pivot i like the unblocked kernel. Per block column: factor the diagonal block
 * (unblocked kernel), solve the panel below it (X L11^T = A21), and subtract L21 L21^T from the
 * lower part of the trailing matrix with GEMMs. The unblocked kernel streams every earlier row of L
 * from memory for each row (memory-bound once the matrix leaves cache); this way almost all flops
 * run in the packed GEMM.
 */
export function blockedCholesky<B extends { length: number }>(be: FactorKernels<B>, a: B, n: number): number {
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

/**
 * A Cholesky factor held and solved in f32 (the NTK formed in f32): half the memory, and a solve
 * streams half the bytes. Solves take and return f64 right-hand sides; they are accurate to about
 * condition x 2^-24 of the answer, so callers that need f64 answers refine against their operator
 * (ADMM's incremental u-step, spanResidualOf).
 */
export class CholeskyF32 implements GramFactor {
  readonly precision = "f32" as const;
  readonly ridge = 0;
  private scratch: Buf32 | null = null;

  private constructor(readonly be: Backend, readonly factor: Buf32, readonly m: number) {}

  /** Factors the matrix `fill` writes (f32, in a buffer of its own); null when it is not definite in f32. */
  static tryFactor(be: Backend, m: number, fill: (out: Buf32) => void): CholeskyF32 | null {
    const k = be.f32, a = k.alloc(m * m);
    try {
      fill(a);
      if (blockedCholesky(k, a, m) !== 0) { k.free(a); return null; }
    } catch (e) {
      k.free(a);
      throw e;
    }
    return new CholeskyF32(be, a, m);
  }

  solve(b: Buf, nrhs: number): Buf {
    const k = this.be.f32, len = this.m * nrhs;
    if (!this.scratch || this.scratch.length < len) { if (this.scratch) k.free(this.scratch); this.scratch = k.alloc(len); }
    const x = k.slice(this.scratch, 0, len);
    k.demote(x, b);
    k.choleskySolve(this.factor, this.m, x, nrhs);
    k.promote(b, x);
    return b;
  }

  /**
   * An estimate of the 2-norm condition number of L L^T: power iteration for its largest
   * eigenvalue and inverse iteration (solves) for its smallest, `iterations` each, from a fixed
   * start (deterministic). Both converge from below, so this can underestimate a condition whose
   * extreme eigenvalues are close to others; the diagonal's spread, (max L_ii / min L_ii)^2, is a
   * lower bound that is taken when larger.
   */
  condition(iterations = 8): number {
    const k = this.be.f32, m = this.m, x = k.alloc(m), t = k.alloc(m);
    try {
      const extreme = (step: () => void) => {
        const v = k.view(x);
        for (let i = 0; i < m; i++) v[i] = 1 + 0.5 * Math.sin(i + 1);
        let lambda = 0;
        for (let it = 0; it < iterations; it++) {
          normalize(k.view(x));
          step();
          lambda = normalize(k.view(x));
        }
        return lambda;
      };
      const largest = extreme(() => k.choleskyMultiply(this.factor, m, x, t));
      const inverse = extreme(() => k.choleskySolve(this.factor, m, x, 1));
      const L = k.view(this.factor);
      let hi = 0, lo = Infinity;
      for (let i = 0; i < m; i++) { const d = L[i * m + i]; hi = Math.max(hi, d); lo = Math.min(lo, d); }
      return Math.max(largest * inverse, (hi / lo) ** 2);
    } finally {
      k.free(x); k.free(t);
    }
  }

  dispose(): void {
    const k = this.be.f32;
    k.free(this.factor);
    if (this.scratch) { k.free(this.scratch); this.scratch = null; }
  }
}

/** Scales v to unit 2-norm; returns the norm it had. */
function normalize(v: Float32Array): number {
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += v[i] * v[i];
  const norm = Math.sqrt(ss);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] /= norm;
  return norm;
}

/**
 * The largest relative error an f32 factor may leave in a solve, measured against the Gram's f64
 * product (||G~^-1 G x - x|| / ||x|| for a fixed pseudo-random x): a solve refined against the
 * operator in f64 (ADMM's incremental u-step, spanResidualOf) then gains at least 1.3 digits a step.
 */
export const F32_SOLVE_LIMIT = 0.05;

/** How a Gram was factored, for reports. */
export interface GramRecord {
  precision: "f64" | "f32";
  /** The f32 factor's estimated condition number (NaN when f32 was not tried). */
  condition: number;
  /** The f32 factor's measured relative solve error (NaN when f32 was not tried). */
  solveError: number;
  /** Why this precision: "f32: ...", or why f32 was not used. */
  reason: string;
}

/**
 * Factors the m x m Gram that fill64 (f64) or fill32 (f32; false when the operator cannot form it in
 * f32, and then it is formed in f64 and rounded) writes: in f32 when `tryF32` and the f32 factor is
 * definite and accurate enough (its solve error against `multiply`, out = G x in f64, at most
 * F32_SOLVE_LIMIT), else in f64 (with a ridge if needed; a Gram formed in f64 is not formed again).
 * The record says which and why.
 */
export function factorGram(be: Backend, m: number, fill64: (out: Buf) => void, fill32: ((out: Buf32) => boolean) | undefined, tryF32: boolean,
  multiply: (x: Buf, out: Buf) => void): { factor: GramFactor; record: GramRecord } {
  let reason = "f64 as asked (or too small to gain from f32)";
  let condition = NaN, solveError = NaN;
  let g64: Buf | null = null;
  try {
    if (tryF32) {
      const f32 = CholeskyF32.tryFactor(be, m, (out) => {
        if (fill32?.(out)) return;
        const g = be.alloc(m * m);
        g64 = g;
        fill64(g);
        be.f32.demote(out, g);
      });
      if (!f32) reason = "f64: not positive definite in f32";
      else {
        condition = f32.condition();
        solveError = measuredSolveError(be, f32, multiply);
        const said = `condition ~${condition.toPrecision(2)}, solve error ${solveError.toPrecision(2)}`;
        if (solveError <= F32_SOLVE_LIMIT) return { factor: f32, record: { precision: "f32", condition, solveError, reason: `f32: ${said}` } };
        f32.dispose();
        reason = `f64: ${said}, beyond f32's limit ${F32_SOLVE_LIMIT}`;
      }
    }
    const record: GramRecord = { precision: "f64", condition, solveError, reason };
    if (!g64) return { factor: Cholesky.fromGram(be, m, fill64, true), record };
    const g: Buf = g64;
    g64 = null;
    try {
      return { factor: new Cholesky(be, g, m, true, { ridge: factorWithRidge(be, g, m, fill64, true, true), owned: true }), record };
    } catch (e) {
      be.free(g);
      throw e;
    }
  } finally {
    if (g64) be.free(g64);
  }
}

/** ||f.solve(G x) - x|| / ||x|| for a fixed pseudo-random x, G x from multiply (f64). */
function measuredSolveError(be: Backend, f: GramFactor, multiply: (x: Buf, out: Buf) => void): number {
  const m = f.m, xh = Float64Array.from({ length: m }, (_, i) => Math.sin(12.9898 * (i + 1)) * 2 - 1);
  const x = be.upload(be.alloc(m), xh), b = be.alloc(m);
  try {
    multiply(x, b);
    const got = be.view(f.solve(b, 1));
    let num = 0, den = 0;
    for (let i = 0; i < m; i++) { num += (got[i] - xh[i]) ** 2; den += xh[i] ** 2; }
    return Math.sqrt(num / den);
  } finally {
    be.free(x); be.free(b);
  }
}
