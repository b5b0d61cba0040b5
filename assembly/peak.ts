// Register-only throughput microkernels: the machine's WASM arithmetic peak, measured in the same
// run as the GEMM so the GEMM can be reported as a fraction of it. Six independent multiply chains
// and six independent add chains cover the latency of both pipes; nothing touches memory. One source
// for f64 (f64x2) and f32 (f32x4: the ceiling of the f32 GEMM).

/**
 * Runs `iters` iterations of 6 vector multiplies and 6 vector adds of T and returns a value derived
 * from every chain, so the optimizer cannot drop any. The scalar build runs T chains (12 flops per
 * iteration); divide by flopsPerIteration<T>().
 */
function peak<T>(iters: i32, m: T, a: T): f64 {
  if (ASC_FEATURE_SIMD) {
    const vm = v128.splat<T>(m), va = v128.splat<T>(a);
    let x0 = v128.splat<T>(1.0), x1 = v128.splat<T>(1.1), x2 = v128.splat<T>(1.2);
    let x3 = v128.splat<T>(1.3), x4 = v128.splat<T>(1.4), x5 = v128.splat<T>(1.5);
    let y0 = v128.splat<T>(0.0), y1 = v128.splat<T>(0.1), y2 = v128.splat<T>(0.2);
    let y3 = v128.splat<T>(0.3), y4 = v128.splat<T>(0.4), y5 = v128.splat<T>(0.5);
    for (let i = 0; i < iters; i++) {
      x0 = v128.mul<T>(x0, vm); x1 = v128.mul<T>(x1, vm); x2 = v128.mul<T>(x2, vm);
      x3 = v128.mul<T>(x3, vm); x4 = v128.mul<T>(x4, vm); x5 = v128.mul<T>(x5, vm);
      y0 = v128.add<T>(y0, va); y1 = v128.add<T>(y1, va); y2 = v128.add<T>(y2, va);
      y3 = v128.add<T>(y3, va); y4 = v128.add<T>(y4, va); y5 = v128.add<T>(y5, va);
    }
    const s = v128.add<T>(v128.add<T>(v128.add<T>(x0, x1), v128.add<T>(x2, x3)), v128.add<T>(v128.add<T>(x4, x5),
      v128.add<T>(v128.add<T>(y0, y1), v128.add<T>(v128.add<T>(y2, y3), v128.add<T>(y4, y5)))));
    let out: f64 = <f64>v128.extract_lane<T>(s, 0) + <f64>v128.extract_lane<T>(s, 1);
    if (sizeof<T>() == 4) out += <f64>v128.extract_lane<T>(s, 2) + <f64>v128.extract_lane<T>(s, 3);
    return out;
  } else {
    let x0: T = 1.0, x1: T = 1.1, x2: T = 1.2, x3: T = 1.3, x4: T = 1.4, x5: T = 1.5;
    let y0: T = 0.0, y1: T = 0.1, y2: T = 0.2, y3: T = 0.3, y4: T = 0.4, y5: T = 0.5;
    for (let i = 0; i < iters; i++) {
      x0 *= m; x1 *= m; x2 *= m; x3 *= m; x4 *= m; x5 *= m;
      y0 += a; y1 += a; y2 += a; y3 += a; y4 += a; y5 += a;
    }
    return <f64>(x0 + x1 + x2 + x3 + x4 + x5 + y0 + y1 + y2 + y3 + y4 + y5);
  }
}

// @ts-ignore: decorator
@inline function flopsPerIteration<T>(): i32 { return ASC_FEATURE_SIMD ? 12 * (16 / sizeof<T>()) : 12; }

/** The f64x2 chains (24 flops per iteration in the SIMD build, 12 scalar). */
export function peakF64(iters: i32, m: f64, a: f64): f64 { return peak<f64>(iters, m, a); }
export function peakFlopsPerIteration(): i32 { return flopsPerIteration<f64>(); }

/** The f32x4 chains (48 flops per iteration in the SIMD build, 12 scalar). */
export function peakF32(iters: i32, m: f32, a: f32): f64 { return peak<f32>(iters, m, a); }
export function peakFlopsPerIterationF32(): i32 { return flopsPerIteration<f32>(); }
