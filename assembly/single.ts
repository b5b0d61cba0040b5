// Single-precision vector kernels for the mixed-precision solver: ADMM finds the support in f32
// (f32x4 does four lanes per instruction, f64x2 two), then polish and certificate run in f64. The
// conversions between the two are here too. Pointers are byte offsets; n counts elements.

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

/**
 * admmUpdate (assembly/vector.ts) in f32: the over-relaxed z and y steps and the five sums of
 * squares ADMM's stopping rule reads, written to stats as f64.
 */
export function admmUpdateF32(z: usize, y: usize, au: usize, r: usize, alpha: f32, t: f32, n: i32, stats: usize): void {
  const beta: f32 = 1 - alpha;
  let i = 0;
  let sp: f64 = 0, sd: f64 = 0, sa: f64 = 0, sz: f64 = 0, sy: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f32x4.splat(alpha), vb = f32x4.splat(beta), vt = f32x4.splat(t), zero = f32x4.splat(0);
    let ap = zero, ad = zero, aa = zero, az = zero, ay = zero;
    for (; i + 4 <= n; i += 4) {
      const vau = v128.load(at32(au, i));
      const vr = v128.load(at32(r, i));
      const vz = v128.load(at32(z, i));
      const vy = v128.load(at32(y, i));
      const h = f32x4.add(f32x4.mul(va, vau), f32x4.mul(vb, f32x4.add(vz, vr)));
      const v = f32x4.add(f32x4.sub(h, vr), vy);
      const zn = f32x4.add(f32x4.max(f32x4.sub(v, vt), zero), f32x4.min(f32x4.add(v, vt), zero));
      const yn = f32x4.sub(v, zn);
      v128.store(at32(z, i), zn);
      v128.store(at32(y, i), yn);
      const p = f32x4.sub(f32x4.sub(vau, vr), zn);
      const d = f32x4.sub(zn, vz);
      ap = f32x4.add(ap, f32x4.mul(p, p));
      ad = f32x4.add(ad, f32x4.mul(d, d));
      aa = f32x4.add(aa, f32x4.mul(vau, vau));
      az = f32x4.add(az, f32x4.mul(zn, zn));
      ay = f32x4.add(ay, f32x4.mul(yn, yn));
    }
    sp = lanes(ap); sd = lanes(ad); sa = lanes(aa); sz = lanes(az); sy = lanes(ay);
  }
  for (; i < n; i++) {
    const vau = load<f32>(at32(au, i));
    const vr = load<f32>(at32(r, i));
    const vz = load<f32>(at32(z, i));
    const vy = load<f32>(at32(y, i));
    const v: f32 = alpha * vau + beta * (vz + vr) - vr + vy;
    const zn: f32 = max<f32>(v - t, 0) + min<f32>(v + t, 0);
    const yn: f32 = v - zn;
    store<f32>(at32(z, i), zn);
    store<f32>(at32(y, i), yn);
    const p: f32 = vau - vr - zn, d: f32 = zn - vz;
    sp += <f64>(p * p); sd += <f64>(d * d); sa += <f64>(vau * vau); sz += <f64>(zn * zn); sy += <f64>(yn * yn);
  }
  store<f64>(stats, sp);
  store<f64>(stats + 8, sd);
  store<f64>(stats + 16, sa);
  store<f64>(stats + 24, sz);
  store<f64>(stats + 32, sy);
}

// @ts-ignore: decorator
@inline function lanes(v: v128): f64 {
  return <f64>f32x4.extract_lane(v, 0) + <f64>f32x4.extract_lane(v, 1) + <f64>f32x4.extract_lane(v, 2) + <f64>f32x4.extract_lane(v, 3);
}

/** admmUpdateBatch (assembly/vector.ts) in f32: t, active and stats stay f64. */
export function admmUpdateBatchF32(z: usize, y: usize, au: usize, r: usize, alpha: f32, t: usize, active: usize, n: i32, B: i32, stats: usize): void {
  for (let b = 0; b < B; b++) {
    if (load<f64>(at64(active, b)) == 0) continue;
    const o = <usize>(b * n) << 2;
    admmUpdateF32(z + o, y + o, au + o, r + o, alpha, <f32>load<f64>(at64(t, b)), n, stats + (<usize>(b * 5) << 3));
  }
}
