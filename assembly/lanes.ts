// Lane helpers shared by the kernels, for T = f64 (f64x2) or f32 (f32x4).

/**
 * a * b + c per lane. The relaxed-SIMD binary (asconfig target "relaxed") fuses it into one
 * instruction, rounding once (results differ from the SIMD binary's in the last bits); the other
 * builds multiply, then add.
 */
// @ts-ignore: decorator
@inline export function madd<T>(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return v128.relaxed_madd<T>(a, b, c);
  return v128.add<T>(c, v128.mul<T>(a, b));
}

/** The sum of a vector's lanes, in f64. */
// @ts-ignore: decorator
@inline export function lanesSum<T>(v: v128): f64 {
  let s: f64 = <f64>v128.extract_lane<T>(v, 0) + <f64>v128.extract_lane<T>(v, 1);
  if (sizeof<T>() == 4) s += <f64>v128.extract_lane<T>(v, 2) + <f64>v128.extract_lane<T>(v, 3);
  return s;
}
