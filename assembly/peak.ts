// Register-only throughput microkernels: the machine's WASM arithmetic peak, measured in the same
// run as the GEMM so the GEMM can be reported as a fraction of it. Six independent multiply chains
// and six independent add chains cover the latency of both pipes; nothing touches memory.

/**
 * Runs `iters` iterations of 6 f64x2 multiplies and 6 f64x2 adds (24 flops) and returns a value
 * derived from every chain, so the optimizer cannot drop any. The scalar build runs f64 chains
 * (12 flops per iteration); divide by peakFlopsPerIteration().
 */
export function peakF64(iters: i32, m: f64, a: f64): f64 {
  if (ASC_FEATURE_SIMD) {
    const vm = f64x2.splat(m), va = f64x2.splat(a);
    let x0 = f64x2.splat(1.0), x1 = f64x2.splat(1.1), x2 = f64x2.splat(1.2);
    let x3 = f64x2.splat(1.3), x4 = f64x2.splat(1.4), x5 = f64x2.splat(1.5);
    let y0 = f64x2.splat(0.0), y1 = f64x2.splat(0.1), y2 = f64x2.splat(0.2);
    let y3 = f64x2.splat(0.3), y4 = f64x2.splat(0.4), y5 = f64x2.splat(0.5);
    for (let i = 0; i < iters; i++) {
      x0 = f64x2.mul(x0, vm); x1 = f64x2.mul(x1, vm); x2 = f64x2.mul(x2, vm);
      x3 = f64x2.mul(x3, vm); x4 = f64x2.mul(x4, vm); x5 = f64x2.mul(x5, vm);
      y0 = f64x2.add(y0, va); y1 = f64x2.add(y1, va); y2 = f64x2.add(y2, va);
      y3 = f64x2.add(y3, va); y4 = f64x2.add(y4, va); y5 = f64x2.add(y5, va);
    }
    const s = f64x2.add(f64x2.add(f64x2.add(x0, x1), f64x2.add(x2, x3)), f64x2.add(f64x2.add(x4, x5), f64x2.add(f64x2.add(y0, y1), f64x2.add(f64x2.add(y2, y3), f64x2.add(y4, y5)))));
    return f64x2.extract_lane(s, 0) + f64x2.extract_lane(s, 1);
  } else {
    let x0 = 1.0, x1 = 1.1, x2 = 1.2, x3 = 1.3, x4 = 1.4, x5 = 1.5;
    let y0 = 0.0, y1 = 0.1, y2 = 0.2, y3 = 0.3, y4 = 0.4, y5 = 0.5;
    for (let i = 0; i < iters; i++) {
      x0 *= m; x1 *= m; x2 *= m; x3 *= m; x4 *= m; x5 *= m;
      y0 += a; y1 += a; y2 += a; y3 += a; y4 += a; y5 += a;
    }
    return x0 + x1 + x2 + x3 + x4 + x5 + y0 + y1 + y2 + y3 + y4 + y5;
  }
}

/** Flops counted per iteration of peakF64 in this build. */
export function peakFlopsPerIteration(): i32 {
  return ASC_FEATURE_SIMD ? 24 : 12;
}

/**
 * peakF64's chains in f32x4 (four lanes per instruction): 48 flops per iteration in the SIMD
 * build, 12 in the scalar one (f32 chains); divide by peakFlopsPerIterationF32().
 */
export function peakF32(iters: i32, m: f32, a: f32): f32 {
  if (ASC_FEATURE_SIMD) {
    const vm = f32x4.splat(m), va = f32x4.splat(a);
    let x0 = f32x4.splat(1.0), x1 = f32x4.splat(1.1), x2 = f32x4.splat(1.2);
    let x3 = f32x4.splat(1.3), x4 = f32x4.splat(1.4), x5 = f32x4.splat(1.5);
    let y0 = f32x4.splat(0.0), y1 = f32x4.splat(0.1), y2 = f32x4.splat(0.2);
    let y3 = f32x4.splat(0.3), y4 = f32x4.splat(0.4), y5 = f32x4.splat(0.5);
    for (let i = 0; i < iters; i++) {
      x0 = f32x4.mul(x0, vm); x1 = f32x4.mul(x1, vm); x2 = f32x4.mul(x2, vm);
      x3 = f32x4.mul(x3, vm); x4 = f32x4.mul(x4, vm); x5 = f32x4.mul(x5, vm);
      y0 = f32x4.add(y0, va); y1 = f32x4.add(y1, va); y2 = f32x4.add(y2, va);
      y3 = f32x4.add(y3, va); y4 = f32x4.add(y4, va); y5 = f32x4.add(y5, va);
    }
    const s = f32x4.add(f32x4.add(f32x4.add(x0, x1), f32x4.add(x2, x3)), f32x4.add(f32x4.add(x4, x5), f32x4.add(f32x4.add(y0, y1), f32x4.add(f32x4.add(y2, y3), f32x4.add(y4, y5)))));
    return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  } else {
    let x0: f32 = 1.0, x1: f32 = 1.1, x2: f32 = 1.2, x3: f32 = 1.3, x4: f32 = 1.4, x5: f32 = 1.5;
    let y0: f32 = 0.0, y1: f32 = 0.1, y2: f32 = 0.2, y3: f32 = 0.3, y4: f32 = 0.4, y5: f32 = 0.5;
    for (let i = 0; i < iters; i++) {
      x0 *= m; x1 *= m; x2 *= m; x3 *= m; x4 *= m; x5 *= m;
      y0 += a; y1 += a; y2 += a; y3 += a; y4 += a; y5 += a;
    }
    return x0 + x1 + x2 + x3 + x4 + x5 + y0 + y1 + y2 + y3 + y4 + y5;
  }
}

/** Flops counted per iteration of peakF32 in this build. */
export function peakFlopsPerIterationF32(): i32 {
  return ASC_FEATURE_SIMD ? 48 : 12;
}
