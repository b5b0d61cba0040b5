// Blocked, packed GEMM over row-major f64 matrices: C = alpha * op(A) * op(B) + beta * C.
// Goto-style: B is packed into KC x NR column panels, A into MC x KC row panels (alpha folded in),
// and a 4 x 4 register microkernel (eight f64x2 accumulators) runs over the packed panels, so the
// inner loop reads contiguous memory whatever the transposes. Each C entry accumulates over one
// KC block in a fixed order and is then added to C: src/backend/js.ts mirrors this order, which is
// why the two backends agree to the last bit on most inputs.

import { madd } from "./lanes";

export const MR: i32 = 4;
export const NR: i32 = 4;
export const MC: i32 = 64;
export const KC: i32 = 256;
export const NC: i32 = 512;

/** Bytes of scratch the caller must pass as `work` to gemm. */
export function gemmWorkspaceBytes(): i32 {
  return (MC * KC + KC * NC) << 3;
}

// @ts-ignore: decorator
@inline function el(p: usize, i: i32): f64 { return load<f64>(p + (<usize>i << 3)); }
// @ts-ignore: decorator
@inline function put(p: usize, i: i32, v: f64): void { store<f64>(p + (<usize>i << 3), v); }
// @ts-ignore: decorator
@inline function at<T>(p: usize, i: i32): usize { return p + (<usize>i << alignof<T>()); }

/** Element (i, j) of op(X) where X is row-major with leading dimension ld. */
// @ts-ignore: decorator
@inline function opAt<T>(x: usize, trans: i32, ld: i32, i: i32, j: i32): T {
  return load<T>(at<T>(x, trans ? j * ld + i : i * ld + j));
}

// Packing is written once for f64 and f32 (T); only the microkernels differ per precision. Full
// tiles move whole vectors (the SIMD build): a packed panel is 4 rows (A) or 32 bytes (B) per k, so
// B's untransposed rows are two vector copies and A's rows go through a 4 x 4 (f32) or 2 x 2 (f64)
// lane transpose. The packed values are the same bits either way (alpha multiplies once).
function packA<T>(pa: usize, a: usize, transA: i32, lda: i32, i0: i32, mc: i32, p0: i32, kc: i32, alpha: T): void {
  const L = 16 / sizeof<T>();
  for (let ir = 0; ir < mc; ir += MR) {
    const base = at<T>(pa, ir * kc);
    const rows = min<i32>(MR, mc - ir);
    let p = 0;
    if (ASC_FEATURE_SIMD && rows == MR) {
      const va = v128.splat<T>(alpha);
      if (transA) {
        // op(A)(i, p) = a[p][i]: the four rows of one k are contiguous
        for (; p < kc; p++) {
          const src = at<T>(a, (p0 + p) * lda + i0 + ir), dst = at<T>(base, p * MR);
          v128.store(dst, v128.mul<T>(va, v128.load(src)));
          if (L == 2) v128.store(dst, v128.mul<T>(va, v128.load(src, 16)), 16);
        }
      } else {
        const r0 = at<T>(a, (i0 + ir) * lda + p0), r1 = at<T>(r0, lda), r2 = at<T>(r1, lda), r3 = at<T>(r2, lda);
        for (; p + L <= kc; p += L) {
          const o = <usize>p << alignof<T>(), dst = at<T>(base, p * MR);
          const x0 = v128.mul<T>(va, v128.load(r0 + o)), x1 = v128.mul<T>(va, v128.load(r1 + o));
          const x2 = v128.mul<T>(va, v128.load(r2 + o)), x3 = v128.mul<T>(va, v128.load(r3 + o));
          if (L == 2) {
            v128.store(dst, i64x2.shuffle(x0, x1, 0, 2)); v128.store(dst, i64x2.shuffle(x2, x3, 0, 2), 16);
            v128.store(dst, i64x2.shuffle(x0, x1, 1, 3), 32); v128.store(dst, i64x2.shuffle(x2, x3, 1, 3), 48);
          } else {
            const t0 = i32x4.shuffle(x0, x1, 0, 4, 1, 5), t1 = i32x4.shuffle(x2, x3, 0, 4, 1, 5);
            const t2 = i32x4.shuffle(x0, x1, 2, 6, 3, 7), t3 = i32x4.shuffle(x2, x3, 2, 6, 3, 7);
            v128.store(dst, i64x2.shuffle(t0, t1, 0, 2)); v128.store(dst, i64x2.shuffle(t0, t1, 1, 3), 16);
            v128.store(dst, i64x2.shuffle(t2, t3, 0, 2), 32); v128.store(dst, i64x2.shuffle(t2, t3, 1, 3), 48);
          }
        }
      }
    }
    for (; p < kc; p++) {
      for (let ii = 0; ii < MR; ii++) {
        store<T>(at<T>(base, p * MR + ii), ii < rows ? alpha * opAt<T>(a, transA, lda, i0 + ir + ii, p0 + p) : <T>0);
      }
    }
  }
}

function packB<T>(pb: usize, b: usize, transB: i32, ldb: i32, p0: i32, kc: i32, j0: i32, nc: i32, nr: i32): void {
  for (let jr = 0; jr < nc; jr += nr) {
    const base = at<T>(pb, jr * kc);
    const cols = min<i32>(nr, nc - jr);
    let p = 0;
    if (ASC_FEATURE_SIMD && !transB && cols == nr) {
      // a row of B's panel is nr contiguous entries: 32 bytes in either precision
      for (; p < kc; p++) {
        const src = at<T>(b, (p0 + p) * ldb + j0 + jr), dst = at<T>(base, p * nr);
        v128.store(dst, v128.load(src)); v128.store(dst, v128.load(src, 16), 16);
      }
    }
    for (; p < kc; p++) {
      for (let jj = 0; jj < nr; jj++) {
        store<T>(at<T>(base, p * nr + jj), jj < cols ? opAt<T>(b, transB, ldb, p0 + p, j0 + jr + jj) : <T>0);
      }
    }
  }
}

/** C = beta C over m x n (beta 0 overwrites: NaN in C does not propagate). */
function scaleC<T>(m: i32, n: i32, beta: T, c: usize, ldc: i32): void {
  for (let i = 0; i < m; i++) {
    const row = at<T>(c, i * ldc);
    for (let j = 0; j < n; j++) {
      const q = at<T>(row, j);
      store<T>(q, beta == 0 ? <T>0 : beta * load<T>(q));
    }
  }
}

/**
 * C[i0.., j0..] += packedA(4 x kc) * packedB(kc x NR), writing only rows < mr and cols < nr: one
 * source for T = f64 (f64x2, NR 4) and f32 (f32x4, NR32 8): four rows of two vectors, eight
 * accumulators, the same instructions on lanes of either width.
 */
function micro<T>(kc: i32, pa: usize, pb: usize, c: usize, ldc: i32, mr: i32, nr: i32): void {
  const nrT = nrOf<T>();
  if (ASC_FEATURE_SIMD) {
    let c00 = v128.splat<T>(0), c01 = v128.splat<T>(0);
    let c10 = v128.splat<T>(0), c11 = v128.splat<T>(0);
    let c20 = v128.splat<T>(0), c21 = v128.splat<T>(0);
    let c30 = v128.splat<T>(0), c31 = v128.splat<T>(0);
    // pointers advance instead of being recomputed from p: fewer instructions beside the 16 arithmetic ones
    let ap = pa, bp = pb;
    const end = pa + (<usize>(kc * MR) << alignof<T>());
    while (ap < end) {
      const b0 = v128.load(bp);
      const b1 = v128.load(bp, 16);
      let a = v128.load_splat<T>(ap);
      c00 = madd<T>(a, b0, c00); c01 = madd<T>(a, b1, c01);
      a = v128.load_splat<T>(ap, sizeof<T>());
      c10 = madd<T>(a, b0, c10); c11 = madd<T>(a, b1, c11);
      a = v128.load_splat<T>(ap, 2 * sizeof<T>());
      c20 = madd<T>(a, b0, c20); c21 = madd<T>(a, b1, c21);
      a = v128.load_splat<T>(ap, 3 * sizeof<T>());
      c30 = madd<T>(a, b0, c30); c31 = madd<T>(a, b1, c31);
      ap += MR * sizeof<T>(); bp += 32;
    }
    const row = <usize>ldc << alignof<T>();
    if (mr == MR && nr == nrT) {
      let cp = c;
      v128.store(cp, v128.add<T>(v128.load(cp), c00)); v128.store(cp, v128.add<T>(v128.load(cp, 16), c01), 16);
      cp += row;
      v128.store(cp, v128.add<T>(v128.load(cp), c10)); v128.store(cp, v128.add<T>(v128.load(cp, 16), c11), 16);
      cp += row;
      v128.store(cp, v128.add<T>(v128.load(cp), c20)); v128.store(cp, v128.add<T>(v128.load(cp, 16), c21), 16);
      cp += row;
      v128.store(cp, v128.add<T>(v128.load(cp), c30)); v128.store(cp, v128.add<T>(v128.load(cp, 16), c31), 16);
      return;
    }
    // Edge tile: spill the accumulators through a 128-byte scratch (MR x nrT entries).
    const t = memory.data(128);
    v128.store(t, c00); v128.store(t, c01, 16);
    v128.store(t, c10, 32); v128.store(t, c11, 48);
    v128.store(t, c20, 64); v128.store(t, c21, 80);
    v128.store(t, c30, 96); v128.store(t, c31, 112);
    for (let i = 0; i < mr; i++) {
      for (let j = 0; j < nr; j++) {
        const cp = at<T>(c, i * ldc + j);
        store<T>(cp, load<T>(cp) + load<T>(at<T>(t, i * nrT + j)));
      }
    }
  } else {
    // the scalar build: sixteen register accumulators per four columns (one pass for f64's four,
    // two for f32's eight), each entry summed over p in order
    for (let j0 = 0; j0 < nrT; j0 += 4) {
      let c00: T = 0, c01: T = 0, c02: T = 0, c03: T = 0;
      let c10: T = 0, c11: T = 0, c12: T = 0, c13: T = 0;
      let c20: T = 0, c21: T = 0, c22: T = 0, c23: T = 0;
      let c30: T = 0, c31: T = 0, c32: T = 0, c33: T = 0;
      for (let p = 0; p < kc; p++) {
        const ap = at<T>(pa, p * MR), bp = at<T>(pb, p * nrT + j0);
        const b0 = load<T>(bp), b1 = load<T>(bp, sizeof<T>()), b2 = load<T>(bp, 2 * sizeof<T>()), b3 = load<T>(bp, 3 * sizeof<T>());
        let a = load<T>(ap);
        c00 += a * b0; c01 += a * b1; c02 += a * b2; c03 += a * b3;
        a = load<T>(ap, sizeof<T>());
        c10 += a * b0; c11 += a * b1; c12 += a * b2; c13 += a * b3;
        a = load<T>(ap, 2 * sizeof<T>());
        c20 += a * b0; c21 += a * b1; c22 += a * b2; c23 += a * b3;
        a = load<T>(ap, 3 * sizeof<T>());
        c30 += a * b0; c31 += a * b1; c32 += a * b2; c33 += a * b3;
      }
      const t = memory.data(128);
      store<T>(at<T>(t, 0), c00); store<T>(at<T>(t, 1), c01); store<T>(at<T>(t, 2), c02); store<T>(at<T>(t, 3), c03);
      store<T>(at<T>(t, 4), c10); store<T>(at<T>(t, 5), c11); store<T>(at<T>(t, 6), c12); store<T>(at<T>(t, 7), c13);
      store<T>(at<T>(t, 8), c20); store<T>(at<T>(t, 9), c21); store<T>(at<T>(t, 10), c22); store<T>(at<T>(t, 11), c23);
      store<T>(at<T>(t, 12), c30); store<T>(at<T>(t, 13), c31); store<T>(at<T>(t, 14), c32); store<T>(at<T>(t, 15), c33);
      for (let i = 0; i < mr; i++) {
        for (let j = j0; j < min<i32>(nr, j0 + 4); j++) {
          const cp = at<T>(c, i * ldc + j);
          store<T>(cp, load<T>(cp) + load<T>(at<T>(t, i * 4 + j - j0)));
        }
      }
    }
  }
}

/** Columns per register tile: NR (f64x2) or NR32 (f32x4). */
// @ts-ignore: decorator
@inline function nrOf<T>(): i32 { return sizeof<T>() == 4 ? NR32 : NR; }
// @ts-ignore: decorator
@inline function roundUp(x: i32, to: i32): i32 { return (x + to - 1) / to * to; }

/**
 * The one blocked GEMM, for T = f64 (f64x2 microkernel) and f32 (f32x4). preA / preB: op(A) or
 * op(B) already packed by prepack (0: packed here, per block, into work). A prepacked operand is one
 * that many products share (ADMM's A^+ and A^T): the same panels, so the same bits, as packing
 * them every call.
 */
function gemmCore<T>(transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: T,
  a: usize, lda: i32, b: usize, ldb: i32, beta: T, c: usize, ldc: i32, work: usize, preA: usize, preB: usize): void {
  if (beta != 1) scaleC<T>(m, n, beta, c, ldc);
  if (alpha == 0 || k == 0) return;
  const nrT = nrOf<T>(), mPad = roundUp(m, MR);
  // f32 panels fit in the f64 slots: the same split of work serves both
  const workB = work + (<usize>(MC * KC) << 3);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min<i32>(NC, n - jc), ncPad = roundUp(nc, nrT);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min<i32>(KC, k - pc);
      let pb = workB;
      if (preB) pb = at<T>(preB, jc * k + pc * ncPad);
      else packB<T>(pb, b, transB, ldb, pc, kc, jc, nc, nrT);
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min<i32>(MC, m - ic);
        let pa = work;
        if (preA) pa = at<T>(preA, pc * mPad + ic * kc);
        else packA<T>(pa, a, transA, lda, ic, mc, pc, kc, alpha);
        for (let jr = 0; jr < nc; jr += nrT) {
          const nr = min<i32>(nrT, nc - jr);
          const pbj = at<T>(pb, jr * kc);
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min<i32>(MR, mc - ir);
            const cp = at<T>(c, (ic + ir) * ldc + jc + jr);
            micro<T>(kc, at<T>(pa, ir * kc), pbj, cp, ldc, mr, nr);
          }
        }
      }
    }
  }
}

/**
 * C (m x n, ldc) = alpha * op(A) * op(B) + beta * C, all row-major f64.
 * op(A) is m x k: A is m x k (lda >= k) when transA = 0, k x m (lda >= m) when transA = 1.
 * op(B) is k x n: B is k x n (ldb >= n) when transB = 0, n x k (ldb >= k) when transB = 1.
 * work: gemmWorkspaceBytes() bytes of scratch owned by the caller. C must not alias A or B.
 * beta = 0 overwrites C (NaN in C does not propagate), as in BLAS.
 */
export function gemm(transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f64,
  a: usize, lda: i32, b: usize, ldb: i32, beta: f64, c: usize, ldc: i32, work: usize): void {
  gemmCore<f64>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, work, 0, 0);
}

/** Elements prepack writes for op(X) on side 0 (A: rows m x cols k) or 1 (B: rows k x cols n); f32: 1. */
export function packedLength(side: i32, rows: i32, cols: i32, f32: i32): i32 {
  return side == 0 ? roundUp(rows, MR) * cols : rows * roundUp(cols, f32 ? NR32 : NR);
}

function prepackCore<T>(side: i32, out: usize, x: usize, trans: i32, ld: i32, rows: i32, cols: i32): void {
  if (side == 0) {
    // A (rows m x cols k): blocks (pc, ic) at pc mPad + ic kc, as gemmCore reads them
    const mPad = roundUp(rows, MR);
    for (let pc = 0; pc < cols; pc += KC) {
      const kc = min<i32>(KC, cols - pc);
      for (let ic = 0; ic < rows; ic += MC) packA<T>(at<T>(out, pc * mPad + ic * kc), x, trans, ld, ic, min<i32>(MC, rows - ic), pc, kc, <T>1);
    }
  } else {
    // B (rows k x cols n): blocks (jc, pc) at jc k + pc ncPad
    const nrT = nrOf<T>();
    for (let jc = 0; jc < cols; jc += NC) {
      const nc = min<i32>(NC, cols - jc), ncPad = roundUp(nc, nrT);
      for (let pc = 0; pc < rows; pc += KC) packB<T>(at<T>(out, jc * rows + pc * ncPad), x, trans, ld, pc, min<i32>(KC, rows - pc), jc, nc, nrT);
    }
  }
}

/** out = op(X) packed for gemmPrepacked's side (0: A, rows m x cols k; 1: B, rows k x cols n), f64. */
export function prepack(side: i32, out: usize, x: usize, trans: i32, ld: i32, rows: i32, cols: i32): void {
  prepackCore<f64>(side, out, x, trans, ld, rows, cols);
}

/** prepack in f32. */
export function prepackF32(side: i32, out: usize, x: usize, trans: i32, ld: i32, rows: i32, cols: i32): void {
  prepackCore<f32>(side, out, x, trans, ld, rows, cols);
}

/**
 * gemm with alpha 1 and one operand prepacked (side 0: A, side 1: B); the other is (x, transX, ldx).
 * Bit for bit what gemm computes from the unpacked operand.
 */
export function gemmPrepacked(side: i32, packed: usize, x: usize, transX: i32, ldx: i32, m: i32, n: i32, k: i32, beta: f64, c: usize, ldc: i32, work: usize): void {
  if (side == 0) gemmCore<f64>(0, transX, m, n, k, 1, 0, 0, x, ldx, beta, c, ldc, work, packed, 0);
  else gemmCore<f64>(transX, 0, m, n, k, 1, x, ldx, 0, 0, beta, c, ldc, work, 0, packed);
}

/** gemmPrepacked in f32. */
export function gemmPrepackedF32(side: i32, packed: usize, x: usize, transX: i32, ldx: i32, m: i32, n: i32, k: i32, beta: f32, c: usize, ldc: i32, work: usize): void {
  if (side == 0) gemmCore<f32>(0, transX, m, n, k, 1, 0, 0, x, ldx, beta, c, ldc, work, packed, 0);
  else gemmCore<f32>(transX, 0, m, n, k, 1, x, ldx, 0, 0, beta, c, ldc, work, 0, packed);
}

/**
 * y (m) = alpha * op(A) x + beta * y; op(A) is m x k (A is m x k with lda when trans = 0,
 * k x m when trans = 1). Same accumulation order as gemm with n = 1 is NOT promised.
 */
export function gemv(trans: i32, m: i32, k: i32, alpha: f64, a: usize, lda: i32, x: usize, beta: f64, y: usize): void {
  if (!trans) {
    for (let i = 0; i < m; i++) {
      const row = a + (<usize>(i * lda) << 3);
      let s: f64 = 0;
      let p = 0;
      if (ASC_FEATURE_SIMD) {
        let a0 = f64x2.splat(0), a1 = f64x2.splat(0);
        for (; p + 4 <= k; p += 4) {
          a0 = f64x2.add(a0, f64x2.mul(v128.load(row + (<usize>p << 3)), v128.load(x + (<usize>p << 3))));
          a1 = f64x2.add(a1, f64x2.mul(v128.load(row + (<usize>p << 3), 16), v128.load(x + (<usize>p << 3), 16)));
        }
        a0 = f64x2.add(a0, a1);
        s = f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1);
      }
      for (; p < k; p++) s += el(row, p) * el(x, p);
      const yp = y + (<usize>i << 3);
      store<f64>(yp, alpha * s + (beta == 0 ? 0 : beta * load<f64>(yp)));
    }
  } else {
    for (let i = 0; i < m; i++) {
      const yp = y + (<usize>i << 3);
      store<f64>(yp, beta == 0 ? 0 : beta * load<f64>(yp));
    }
    for (let p = 0; p < k; p++) {
      const row = a + (<usize>(p * lda) << 3);
      const s = alpha * el(x, p);
      let i = 0;
      if (ASC_FEATURE_SIMD) {
        const vs = f64x2.splat(s);
        for (; i + 2 <= m; i += 2) {
          const q = y + (<usize>i << 3);
          v128.store(q, f64x2.add(v128.load(q), f64x2.mul(vs, v128.load(row + (<usize>i << 3)))));
        }
      }
      for (; i < m; i++) put(y, i, el(y, i) + s * el(row, i));
    }
  }
}

/** f32 register tile: 4 rows x 8 columns (eight f32x4 accumulators, as the f64 tile's eight f64x2). */
export const NR32: i32 = 8;

/**
 * gemm in f32: C (m x n, ldc) = alpha * op(A) * op(B) + beta * C, all row-major f32, same blocking
 * and contract as gemm (f32x4 microkernel: four lanes per instruction against f64x2's two).
 */
export function gemmF32(transA: i32, transB: i32, m: i32, n: i32, k: i32, alpha: f32,
  a: usize, lda: i32, b: usize, ldb: i32, beta: f32, c: usize, ldc: i32, work: usize): void {
  gemmCore<f32>(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, work, 0, 0);
}
