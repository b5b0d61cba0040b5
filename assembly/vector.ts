import { lanesSum, madd } from "./lanes";

// Level-1 vector kernels over f64 arrays in linear memory. Pointers are byte offsets; n counts
// elements. Every kernel has a SIMD body (f64x2) and a scalar tail, and compiles to scalar code
// when SIMD is disabled, so the wasm-scalar build runs the same source.

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 3); }

/** x[i] = value. */
export function fill(x: usize, n: i32, value: f64): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const v = f64x2.splat(value);
    for (; i + 2 <= n; i += 2) v128.store(at(x, i), v);
  }
  for (; i < n; i++) store<f64>(at(x, i), value);
}

/** dst[i] = src[i] (regions may not overlap). */
export function copy(dst: usize, src: usize, n: i32): void {
  memory.copy(dst, src, <usize>n << 3);
}

/** x[i] *= a, for T = f64 or f32. */
export function scaleT<T>(x: usize, n: i32, a: T): void {
  const lanes = 16 / sizeof<T>();
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = v128.splat<T>(a);
    for (; i + lanes <= n; i += lanes) { const p = x + (<usize>i << alignof<T>()); v128.store(p, v128.mul<T>(v128.load(p), va)); }
  }
  for (; i < n; i++) { const p = x + (<usize>i << alignof<T>()); store<T>(p, load<T>(p) * a); }
}

/** x[i] *= a. */
export function scale(x: usize, n: i32, a: f64): void { scaleT<f64>(x, n, a); }

/** y[i] += a * x[i], for T = f64 or f32 (elementwise: the same bits however the loop is cut). */
// @ts-ignore: decorator
@inline export function axpyT<T>(y: usize, a: T, x: usize, n: i32): void {
  const lanes = 16 / sizeof<T>();
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = v128.splat<T>(a);
    for (; i + lanes <= n; i += lanes) {
      const o = <usize>i << alignof<T>();
      v128.store(y + o, v128.add<T>(v128.load(y + o), v128.mul<T>(va, v128.load(x + o))));
    }
  }
  for (; i < n; i++) { const o = <usize>i << alignof<T>(); store<T>(y + o, load<T>(y + o) + a * load<T>(x + o)); }
}

/** y[i] += a * x[i]. */
export function axpy(y: usize, a: f64, x: usize, n: i32): void { axpyT<f64>(y, a, x, n); }

/** out[i] = a * x[i] + b * y[i] (out may alias x or y). */
export function axpby(out: usize, a: f64, x: usize, b: f64, y: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const va = f64x2.splat(a);
    const vb = f64x2.splat(b);
    for (; i + 2 <= n; i += 2) {
      v128.store(at(out, i), f64x2.add(f64x2.mul(va, v128.load(at(x, i))), f64x2.mul(vb, v128.load(at(y, i)))));
    }
  }
  for (; i < n; i++) store<f64>(at(out, i), a * load<f64>(at(x, i)) + b * load<f64>(at(y, i)));
}

/** out[i] = x[i] - y[i] (a residual; out may alias). */
export function sub(out: usize, x: usize, y: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 2 <= n; i += 2) v128.store(at(out, i), f64x2.sub(v128.load(at(x, i)), v128.load(at(y, i))));
  }
  for (; i < n; i++) store<f64>(at(out, i), load<f64>(at(x, i)) - load<f64>(at(y, i)));
}

/** out[i] = x[i] * y[i] (Hadamard product; out may alias). */
export function mul(out: usize, x: usize, y: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    for (; i + 2 <= n; i += 2) v128.store(at(out, i), f64x2.mul(v128.load(at(x, i)), v128.load(at(y, i))));
  }
  for (; i < n; i++) store<f64>(at(out, i), load<f64>(at(x, i)) * load<f64>(at(y, i)));
}

/**
 * sum x[i] y[i] for T = f64 or f32, accumulated in T's lanes: two SIMD accumulators summed in a fixed
 * order (deterministic), then a scalar tail.
 */
// @ts-ignore: decorator
@inline export function dotT<T>(x: usize, y: usize, n: i32): T {
  const lanes = 16 / sizeof<T>();
  let i = 0;
  let s: T = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = v128.splat<T>(0);
    let a1 = v128.splat<T>(0);
    for (; i + 2 * lanes <= n; i += 2 * lanes) {
      const o = <usize>i << alignof<T>(), o1 = <usize>(i + lanes) << alignof<T>();
      a0 = v128.add<T>(a0, v128.mul<T>(v128.load(x + o), v128.load(y + o)));
      a1 = v128.add<T>(a1, v128.mul<T>(v128.load(x + o1), v128.load(y + o1)));
    }
    a0 = v128.add<T>(a0, a1);
    s = v128.extract_lane<T>(a0, 0) + v128.extract_lane<T>(a0, 1);
    if (sizeof<T>() == 4) s += v128.extract_lane<T>(a0, 2) + v128.extract_lane<T>(a0, 3);
  }
  for (; i < n; i++) { const o = <usize>i << alignof<T>(); s += load<T>(x + o) * load<T>(y + o); }
  return s;
}

/** Returns sum x[i] * y[i]. */
export function dot(x: usize, y: usize, n: i32): f64 { return dotT<f64>(x, y, n); }

/** Returns sum |x[i]| (the l1 norm). */
export function asum(x: usize, n: i32): f64 {
  let i = 0;
  let s: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    let a0 = f64x2.splat(0);
    for (; i + 2 <= n; i += 2) a0 = f64x2.add(a0, f64x2.abs(v128.load(at(x, i))));
    s = f64x2.extract_lane(a0, 0) + f64x2.extract_lane(a0, 1);
  }
  for (; i < n; i++) s += abs<f64>(load<f64>(at(x, i)));
  return s;
}

/** Returns max |x[i]| (0 for n = 0). NaN entries are ignored. */
export function amax(x: usize, n: i32): f64 {
  let m: f64 = 0;
  for (let i = 0; i < n; i++) {
    const v = abs<f64>(load<f64>(at(x, i)));
    if (v > m) m = v;
  }
  return m;
}

/** out[i] = sign(x[i]) * max(|x[i]| - t, 0), the proximal map of t * |.|. */
export function softThreshold(out: usize, x: usize, t: f64, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vt = f64x2.splat(t);
    const zero = f64x2.splat(0);
    for (; i + 2 <= n; i += 2) {
      const v = v128.load(at(x, i));
      v128.store(at(out, i), f64x2.add(f64x2.max(f64x2.sub(v, vt), zero), f64x2.min(f64x2.add(v, vt), zero)));
    }
  }
  for (; i < n; i++) {
    const v = load<f64>(at(x, i));
    store<f64>(at(out, i), max<f64>(v - t, 0) + min<f64>(v + t, 0));
  }
}

/**
 * One fused ADMM step for min ||z||_1 s.t. z = A u - r (scaled dual y, threshold t = 1 / mu,
 * over-relaxation alpha), in place on z and y, for T = f64 or f32 (the mixed-precision phase):
 *   h = alpha * au + (1 - alpha) * (z + r);  v = h - r + y;  z' = soft(v, t);  y' = v - z'.
 * stats (5 f64, written): [ ||au - r - z'||^2, ||z' - z||^2, ||au||^2, ||z'||^2, ||y'||^2 ].
 * Fusing keeps the iteration to one pass over memory; it is the solver's hottest loop after GEMM.
 */
export function admmStep<T>(z: usize, y: usize, au: usize, r: usize, alpha: T, t: T, n: i32, stats: usize): void {
  const beta: T = <T>1 - alpha;
  const lanes = 16 / sizeof<T>();
  let i = 0;
  let sp: f64 = 0, sd: f64 = 0, sa: f64 = 0, sz: f64 = 0, sy: f64 = 0;
  if (ASC_FEATURE_SIMD) {
    const va = v128.splat<T>(alpha), vb = v128.splat<T>(beta), vt = v128.splat<T>(t), zero = v128.splat<T>(0);
    let ap = zero, ad = zero, aa = zero, az = zero, ay = zero;
    for (; i + lanes <= n; i += lanes) {
      const o = <usize>i << alignof<T>();
      const vau = v128.load(au + o), vr = v128.load(r + o), vz = v128.load(z + o), vy = v128.load(y + o);
      const h = madd<T>(va, vau, v128.mul<T>(vb, v128.add<T>(vz, vr)));
      const v = v128.add<T>(v128.sub<T>(h, vr), vy);
      const zn = v128.add<T>(v128.max<T>(v128.sub<T>(v, vt), zero), v128.min<T>(v128.add<T>(v, vt), zero));
      const yn = v128.sub<T>(v, zn);
      v128.store(z + o, zn);
      v128.store(y + o, yn);
      const p = v128.sub<T>(v128.sub<T>(vau, vr), zn);
      const d = v128.sub<T>(zn, vz);
      ap = madd<T>(p, p, ap);
      ad = madd<T>(d, d, ad);
      aa = madd<T>(vau, vau, aa);
      az = madd<T>(zn, zn, az);
      ay = madd<T>(yn, yn, ay);
    }
    sp = lanesSum<T>(ap); sd = lanesSum<T>(ad); sa = lanesSum<T>(aa); sz = lanesSum<T>(az); sy = lanesSum<T>(ay);
  }
  for (; i < n; i++) {
    const o = <usize>i << alignof<T>();
    const vau = load<T>(au + o), vr = load<T>(r + o), vz = load<T>(z + o), vy = load<T>(y + o);
    const h: T = alpha * vau + beta * (vz + vr);
    const v: T = h - vr + vy;
    const zn: T = max<T>(v - t, 0) + min<T>(v + t, 0);
    const yn: T = v - zn;
    store<T>(z + o, zn);
    store<T>(y + o, yn);
    const p: T = vau - vr - zn, d: T = zn - vz;
    sp += <f64>(p * p); sd += <f64>(d * d); sa += <f64>(vau * vau); sz += <f64>(zn * zn); sy += <f64>(yn * yn);
  }
  store<f64>(stats, sp);
  store<f64>(stats + 8, sd);
  store<f64>(stats + 16, sa);
  store<f64>(stats + 24, sz);
  store<f64>(stats + 32, sy);
}

/** admmStep in f64. */
export function admmUpdate(z: usize, y: usize, au: usize, r: usize, alpha: f64, t: f64, n: i32, stats: usize): void {
  admmStep<f64>(z, y, au, r, alpha, t, n, stats);
}

/**
 * admmStep over B problems of n rows each (z, y, au, r: B x n), one call per ADMM iteration:
 * problem b uses threshold t[b] (f64) and is skipped when active[b] == 0; its five sums go to stats[5 b ..].
 */
export function admmStepBatch<T>(z: usize, y: usize, au: usize, r: usize, alpha: T, t: usize, active: usize, n: i32, B: i32, stats: usize): void {
  for (let b = 0; b < B; b++) {
    if (load<f64>(at(active, b)) == 0) continue;
    const o = <usize>(b * n) << alignof<T>();
    admmStep<T>(z + o, y + o, au + o, r + o, alpha, <T>load<f64>(at(t, b)), n, stats + (<usize>(b * 5) << 3));
  }
}

/** admmStepBatch in f64. */
export function admmUpdateBatch(z: usize, y: usize, au: usize, r: usize, alpha: f64, t: usize, active: usize, n: i32, B: i32, stats: usize): void {
  admmStepBatch<f64>(z, y, au, r, alpha, t, active, n, B, stats);
}

/** SGD with momentum and decoupled-into-gradient weight decay: v = mu v + g + wd theta; theta -= lr v. */
export function momentumStep(theta: usize, vel: usize, grad: usize, n: i32, lr: f64, mu: f64, wd: f64): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const vlr = f64x2.splat(lr), vmu = f64x2.splat(mu), vwd = f64x2.splat(wd);
    for (; i + 2 <= n; i += 2) {
      const th = v128.load(at(theta, i));
      const v = f64x2.add(f64x2.mul(vmu, v128.load(at(vel, i))), f64x2.add(v128.load(at(grad, i)), f64x2.mul(vwd, th)));
      v128.store(at(vel, i), v);
      v128.store(at(theta, i), f64x2.sub(th, f64x2.mul(vlr, v)));
    }
  }
  for (; i < n; i++) {
    const th = load<f64>(at(theta, i));
    const v = mu * load<f64>(at(vel, i)) + (load<f64>(at(grad, i)) + wd * th);
    store<f64>(at(vel, i), v);
    store<f64>(at(theta, i), th - lr * v);
  }
}

/** Adam step (bias corrections c1 = 1 - b1^t, c2 = 1 - b2^t passed in); weight decay added to g. */
export function adamStep(theta: usize, m: usize, v: usize, grad: usize, n: i32, lr: f64, b1: f64, b2: f64, eps: f64, c1: f64, c2: f64, wd: f64): void {
  for (let i = 0; i < n; i++) {
    const th = load<f64>(at(theta, i));
    const g = load<f64>(at(grad, i)) + wd * th;
    const mi = b1 * load<f64>(at(m, i)) + (1 - b1) * g;
    const vi = b2 * load<f64>(at(v, i)) + (1 - b2) * g * g;
    store<f64>(at(m, i), mi);
    store<f64>(at(v, i), vi);
    store<f64>(at(theta, i), th - lr * (mi / c1) / (Math.sqrt(vi / c2) + eps));
  }
}

/** out (rows x cols) = a with column c multiplied by s[c] (out may alias a). */
export function scaleColumns(out: usize, a: usize, rows: i32, cols: i32, s: usize): void {
  for (let r = 0; r < rows; r++) {
    const ar = a + (<usize>(r * cols) << 3), or = out + (<usize>(r * cols) << 3);
    let c = 0;
    if (ASC_FEATURE_SIMD) {
      for (; c + 2 <= cols; c += 2) v128.store(at(or, c), f64x2.mul(v128.load(at(ar, c)), v128.load(at(s, c))));
    }
    for (; c < cols; c++) store<f64>(at(or, c), load<f64>(at(ar, c)) * load<f64>(at(s, c)));
  }
}
