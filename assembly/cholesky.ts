// Cholesky factorization A = L L^T (row-major, in place) and solves with many right-hand sides.
// The row-by-row (Banachiewicz) order makes every inner loop a contiguous dot product or axpy.

import { dot } from "./vector";

/**
 * Factors the n x n symmetric matrix a (lda) in place: its lower triangle becomes L, the strict
 * upper triangle is zeroed. Returns 0 on success, or i + 1 when pivot i is not positive (or not
 * finite): the matrix is not positive definite and a is left partly overwritten.
 */
export function choleskyFactor(a: usize, n: i32, lda: i32): i32 {
  for (let i = 0; i < n; i++) {
    const ri = a + (<usize>(i * lda) << 3);
    for (let j = 0; j <= i; j++) {
      const rj = a + (<usize>(j * lda) << 3);
      const s = load<f64>(ri + (<usize>j << 3)) - dot(ri, rj, j);
      if (i == j) {
        if (!(s > 0) || !isFinite(s)) return i + 1;
        store<f64>(ri + (<usize>i << 3), Math.sqrt(s));
      } else {
        store<f64>(ri + (<usize>j << 3), s / load<f64>(rj + (<usize>j << 3)));
      }
    }
    for (let j = i + 1; j < n; j++) store<f64>(ri + (<usize>j << 3), 0);
  }
  return 0;
}

/**
 * Solves X L^T = B in place on b (rows x n, ldb) for lower-triangular L (n x n, lda): forward
 * substitution along each row of B, every inner loop a contiguous dot product with a row of L.
 * The blocked factorization uses it for the panel below a factored diagonal block.
 */
export function solveLowerTransposed(l: usize, n: i32, lda: i32, b: usize, rows: i32, ldb: i32): void {
  for (let r = 0; r < rows; r++) {
    const br = b + (<usize>(r * ldb) << 3);
    for (let j = 0; j < n; j++) {
      const lj = l + (<usize>(j * lda) << 3);
      const bj = br + (<usize>j << 3);
      store<f64>(bj, (load<f64>(bj) - dot(br, lj, j)) / load<f64>(lj + (<usize>j << 3)));
    }
  }
}

/**
 * Solves L L^T X = B in place on b (n x nrhs, ldb), with L from choleskyFactor (lda).
 * Rows of B are updated with axpy-shaped loops over the right-hand sides (SIMD when nrhs > 1).
 */
export function choleskySolve(l: usize, n: i32, lda: i32, b: usize, nrhs: i32, ldb: i32): void {
  if (nrhs == 1 && ldb == 1) {
    // One right-hand side: forward substitution as contiguous dot products with the rows of L,
    // back substitution as contiguous axpys with them (a column of L would be strided).
    for (let i = 0; i < n; i++) {
      const li = l + (<usize>(i * lda) << 3);
      const bi = b + (<usize>i << 3);
      store<f64>(bi, (load<f64>(bi) - dot(li, b, i)) / load<f64>(li + (<usize>i << 3)));
    }
    for (let i = n - 1; i >= 0; i--) {
      const li = l + (<usize>(i * lda) << 3);
      const bi = b + (<usize>i << 3);
      const x = load<f64>(bi) / load<f64>(li + (<usize>i << 3));
      store<f64>(bi, x);
      rowAxpy(b, -x, li, i);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const bi = b + (<usize>(i * ldb) << 3);
    const li = l + (<usize>(i * lda) << 3);
    for (let j = 0; j < i; j++) rowAxpy(bi, -load<f64>(li + (<usize>j << 3)), b + (<usize>(j * ldb) << 3), nrhs);
    rowScale(bi, 1.0 / load<f64>(li + (<usize>i << 3)), nrhs);
  }
  for (let i = n - 1; i >= 0; i--) {
    const bi = b + (<usize>(i * ldb) << 3);
    for (let j = i + 1; j < n; j++) rowAxpy(bi, -load<f64>(l + (<usize>(j * lda + i) << 3)), b + (<usize>(j * ldb) << 3), nrhs);
    rowScale(bi, 1.0 / load<f64>(l + (<usize>(i * lda + i) << 3)), nrhs);
  }
}

// @ts-ignore: decorator
@inline function rowAxpy(y: usize, a: f64, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f64x2.splat(a);
    for (; i + 2 <= n; i += 2) v128.store(y + (<usize>i << 3), f64x2.add(v128.load(y + (<usize>i << 3)), f64x2.mul(va, v128.load(x + (<usize>i << 3)))));
  }
  for (; i < n; i++) store<f64>(y + (<usize>i << 3), load<f64>(y + (<usize>i << 3)) + a * load<f64>(x + (<usize>i << 3)));
}

// @ts-ignore: decorator
@inline function rowScale(y: usize, a: f64, n: i32): void {
  for (let i = 0; i < n; i++) store<f64>(y + (<usize>i << 3), load<f64>(y + (<usize>i << 3)) * a);
}
