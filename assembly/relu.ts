// ReLU forward, its activation mask, and the masked products that are its Jacobian.

/** out[i] = max(z[i], 0). */
export function relu(out: usize, z: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f64x2.splat(0);
    for (; i + 2 <= n; i += 2) v128.store(out + (<usize>i << 3), f64x2.max(v128.load(z + (<usize>i << 3)), zero));
  }
  for (; i < n; i++) store<f64>(out + (<usize>i << 3), max<f64>(load<f64>(z + (<usize>i << 3)), 0));
}

/** out[i] = 1 where z[i] > 0, else 0: the activation pattern. */
export function reluMask(out: usize, z: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f64x2.splat(0);
    const one = f64x2.splat(1);
    for (; i + 2 <= n; i += 2) v128.store(out + (<usize>i << 3), v128.and(f64x2.gt(v128.load(z + (<usize>i << 3)), zero), one));
  }
  for (; i < n; i++) store<f64>(out + (<usize>i << 3), load<f64>(z + (<usize>i << 3)) > 0 ? 1.0 : 0.0);
}

/** out[i] = g[i] where z[i] > 0, else 0: the ReLU's vector-Jacobian product (out may alias g). */
export function reluBackward(out: usize, g: usize, z: usize, n: i32): void {
  let i = 0;
  if (ASC_FEATURE_SIMD) {
    const zero = f64x2.splat(0);
    for (; i + 2 <= n; i += 2) {
      const m = f64x2.gt(v128.load(z + (<usize>i << 3)), zero);
      v128.store(out + (<usize>i << 3), v128.and(v128.load(g + (<usize>i << 3)), m));
    }
  }
  for (; i < n; i++) store<f64>(out + (<usize>i << 3), load<f64>(z + (<usize>i << 3)) > 0 ? load<f64>(g + (<usize>i << 3)) : 0.0);
}
