// Cholesky factorization A = L L^T (row-major, in place) and solves with many right-hand sides,
// for T = f64 or f32 from one source (an NTK factored in f32 when its conditioning allows it:
// f32x4 does twice the lanes of f64x2 and a solve streams half the bytes).
// The row-by-row (Banachiewicz) order makes every inner loop a contiguous dot product or axpy.

import { axpyT, dotT, scaleT } from "./vector";

// @ts-ignore: decorator
@inline function at<T>(p: usize, i: i32): usize { return p + (<usize>i << alignof<T>()); }

/**
 * Factors the n x n symmetric matrix a (lda) in place: its lower triangle becomes L, the strict
 * upper triangle is zeroed. Returns 0 on success, or i + 1 when pivot i is not positive (or not
 * finite): the matrix is not positive definite and a is left partly overwritten.
 */
function factorT<T>(a: usize, n: i32, lda: i32): i32 {
  for (let i = 0; i < n; i++) {
    const ri = at<T>(a, i * lda);
    for (let j = 0; j <= i; j++) {
      const rj = at<T>(a, j * lda);
      const s: T = load<T>(at<T>(ri, j)) - dotT<T>(ri, rj, j);
      if (i == j) {
        if (!(s > 0) || !isFinite<T>(s)) return i + 1;
        store<T>(at<T>(ri, i), <T>Math.sqrt(<f64>s));
      } else {
        store<T>(at<T>(ri, j), s / load<T>(at<T>(rj, j)));
      }
    }
    for (let j = i + 1; j < n; j++) store<T>(at<T>(ri, j), 0);
  }
  return 0;
}

/**
 * Solves X L^T = B in place on b (rows x n, ldb) for lower-triangular L (n x n, lda): forward
 * substitution along each row of B, every inner loop a contiguous dot product with a row of L.
 * The blocked factorization uses it for the panel below a factored diagonal block.
 */
function lowerTransposedT<T>(l: usize, n: i32, lda: i32, b: usize, rows: i32, ldb: i32): void {
  for (let r = 0; r < rows; r++) {
    const br = at<T>(b, r * ldb);
    for (let j = 0; j < n; j++) {
      const lj = at<T>(l, j * lda);
      const bj = at<T>(br, j);
      store<T>(bj, (load<T>(bj) - dotT<T>(br, lj, j)) / load<T>(at<T>(lj, j)));
    }
  }
}

/**
 * Solves L L^T X = B in place on b (n x nrhs, ldb), with L from the factorization (lda).
 * Rows of B are updated with axpy-shaped loops over the right-hand sides (SIMD when nrhs > 1).
 */
function solveT<T>(l: usize, n: i32, lda: i32, b: usize, nrhs: i32, ldb: i32): void {
  if (nrhs == 1 && ldb == 1) {
    // One right-hand side: forward substitution as contiguous dot products with the rows of L,
    // back substitution as contiguous axpys with them (a column of L would be strided).
    for (let i = 0; i < n; i++) {
      const li = at<T>(l, i * lda);
      const bi = at<T>(b, i);
      store<T>(bi, (load<T>(bi) - dotT<T>(li, b, i)) / load<T>(at<T>(li, i)));
    }
    for (let i = n - 1; i >= 0; i--) {
      const li = at<T>(l, i * lda);
      const bi = at<T>(b, i);
      const x: T = load<T>(bi) / load<T>(at<T>(li, i));
      store<T>(bi, x);
      axpyT<T>(b, -x, li, i);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const bi = at<T>(b, i * ldb);
    const li = at<T>(l, i * lda);
    for (let j = 0; j < i; j++) axpyT<T>(bi, -load<T>(at<T>(li, j)), at<T>(b, j * ldb), nrhs);
    scaleT<T>(bi, nrhs, <T>1 / load<T>(at<T>(li, i)));
  }
  for (let i = n - 1; i >= 0; i--) {
    const bi = at<T>(b, i * ldb);
    for (let j = i + 1; j < n; j++) axpyT<T>(bi, -load<T>(at<T>(l, j * lda + i)), at<T>(b, j * ldb), nrhs);
    scaleT<T>(bi, nrhs, <T>1 / load<T>(at<T>(l, i * lda + i)));
  }
}

/**
 * x <- L L^T x in place for one vector x (n), t (n) scratch: the product with the factored matrix
 * (what a power iteration needs to estimate its largest eigenvalue without the matrix itself).
 * t = L^T x by axpys with the rows of L, then x = L t by dot products with them.
 */
function multiplyT<T>(l: usize, n: i32, lda: i32, x: usize, t: usize): void {
  for (let i = 0; i < n; i++) store<T>(at<T>(t, i), 0);
  for (let i = 0; i < n; i++) axpyT<T>(t, load<T>(at<T>(x, i)), at<T>(l, i * lda), i + 1);
  for (let i = 0; i < n; i++) store<T>(at<T>(x, i), dotT<T>(at<T>(l, i * lda), t, i + 1));
}

export function choleskyFactor(a: usize, n: i32, lda: i32): i32 { return factorT<f64>(a, n, lda); }
export function solveLowerTransposed(l: usize, n: i32, lda: i32, b: usize, rows: i32, ldb: i32): void { lowerTransposedT<f64>(l, n, lda, b, rows, ldb); }
export function choleskySolve(l: usize, n: i32, lda: i32, b: usize, nrhs: i32, ldb: i32): void { solveT<f64>(l, n, lda, b, nrhs, ldb); }

export function choleskyFactorF32(a: usize, n: i32, lda: i32): i32 { return factorT<f32>(a, n, lda); }
export function solveLowerTransposedF32(l: usize, n: i32, lda: i32, b: usize, rows: i32, ldb: i32): void { lowerTransposedT<f32>(l, n, lda, b, rows, ldb); }
export function choleskySolveF32(l: usize, n: i32, lda: i32, b: usize, nrhs: i32, ldb: i32): void { solveT<f32>(l, n, lda, b, nrhs, ldb); }
export function choleskyMultiplyF32(l: usize, n: i32, lda: i32, x: usize, t: usize): void { multiplyT<f32>(l, n, lda, x, t); }
