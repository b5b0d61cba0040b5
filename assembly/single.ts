// Single-precision vector kernels for the mixed-precision solver: ADMM finds the support in f32
// (f32x4 does four lanes per instruction, f64x2 two), then polish and certificate run in f64. The
// conversions between the two are here too. Pointers are byte offsets; n counts elements.

import { admmStepBatch, scaleT } from "./vector";

/** x[i] *= a in f32. */
export function scaleF32(x: usize, n: i32, a: f32): void { scaleT<f32>(x, n, a); }

// @ts-ignore: decorator
@inline function at32(p: usize, i: i32): usize { return p + (<usize>i << 2); }
// @ts-ignore: decorator
@inline function at64(p: usize, i: i32): usize { return p + (<usize>i << 3); }

/** out[i] (f32) = x[i] (f64), rounded to nearest. */
export function demote(out: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const lo = f32x4.demote_f64x2_zero(v128.load(at64(x, i)));
      const hi = f32x4.demote_f64x2_zero(v128.load(at64(x, i + 2)));
      v128.store(at32(out, i), i64x2.shuffle(lo, hi, 0, 2));
    }
  }
  for (; i < n; i++) store<f32>(at32(out, i), <f32>load<f64>(at64(x, i)));
}

/** out[i] (f64) = x[i] (f32), exactly. */
export function promote(out: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(at32(x, i));
      v128.store(at64(out, i), f64x2.promote_low_f32x4(v));
      v128.store(at64(out, i + 2), f64x2.promote_low_f32x4(i64x2.shuffle(v, v, 1, 0)));
    }
  }
  for (; i < n; i++) store<f64>(at64(out, i), <f64>load<f32>(at32(x, i)));
}

/** q[i] = r[i] - y[i] + z[i] in f32: the right-hand side of ADMM's u-step. */
export function admmRhsF32(q: usize, r: usize, y: usize, z: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      v128.store(at32(q, i), f32x4.add(f32x4.sub(v128.load(at32(r, i)), v128.load(at32(y, i))), v128.load(at32(z, i))));
    }
  }
  for (; i < n; i++) store<f32>(at32(q, i), load<f32>(at32(r, i)) - load<f32>(at32(y, i)) + load<f32>(at32(z, i)));
}

/** sum |x[i] - y[i]| over f32 arrays, accumulated in f64 (the l1 objective ADMM's stall rule watches). */
export function l1DiffF32(x: usize, y: usize, n: i32): f64 {
  let s: f64 = 0;
  for (let i = 0; i < n; i++) s += <f64>abs<f32>(load<f32>(at32(x, i)) - load<f32>(at32(y, i)));
  return s;
}

/** admmStepBatch in f32: t, active and stats stay f64. */
export function admmUpdateBatchF32(z: usize, y: usize, au: usize, r: usize, alpha: f32, t: usize, active: usize, n: i32, B: i32, stats: usize): void {
  admmStepBatch<f32>(z, y, au, r, alpha, t, active, n, B, stats);
}

/** out[i] (f32) += x[i] (f64), the sum rounded once to f32: f64 partial products into an f32 matrix. */
export function accumulateF32(out: usize, x: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 4 <= n; i += 4) {
      const v = v128.load(at32(out, i));
      const lo = f64x2.add(f64x2.promote_low_f32x4(v), v128.load(at64(x, i)));
      const hi = f64x2.add(f64x2.promote_low_f32x4(i64x2.shuffle(v, v, 1, 0)), v128.load(at64(x, i + 2)));
      v128.store(at32(out, i), i64x2.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 2));
    }
  }
  for (; i < n; i++) store<f32>(at32(out, i), <f32>(<f64>load<f32>(at32(out, i)) + load<f64>(at64(x, i))));
}
