// Element encodings shared by every model format (safetensors, ONNX, PyTorch): each floating-point
// dtype a model file may store, read to f64 and written back in its own width, little-endian.
// Writing rounds to nearest, ties to even, as PyTorch and numpy do.

/** Floating-point element types a purified tensor may be stored in. */
export type FloatDtype = "F64" | "F32" | "F16" | "BF16";

export const FLOAT_BYTES: Record<FloatDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE half (binary16) bits to a number. */
export function halfToNumber(h: number): number {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** A number to IEEE half bits, rounded to nearest even (overflow to Inf, NaN kept). */
export function numberToHalf(x: number): number {
  if (Number.isNaN(x)) return 0x7e00;
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === Infinity) return sign | 0x7c00;
  // Subnormals and zero: multiples of 2^-24, rounded to nearest even by the integer rounding below.
  if (a < 2 ** -14) return sign | roundEven(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 can overshoot by one ulp near powers of two
  if (2 ** (e + 1) <= a) e++;
  let m = roundEven((a / 2 ** e - 1) * 1024);
  if (m === 1024) { m = 0; e++; }
  if (e > 15) return sign | 0x7c00;
  return sign | ((e + 15) << 10) | m;
}

function roundEven(v: number): number {
  const f = Math.floor(v), d = v - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}

/** bfloat16 bits to a number (the top half of an f32). */
export function bfloat16ToNumber(h: number): number {
  u32[0] = h << 16;
  return f32[0];
}

/** A number to bfloat16 bits: round the f32 to its top 16 bits, nearest even (NaN stays NaN). */
export function numberToBfloat16(x: number): number {
  f32[0] = x;
  const b = u32[0];
  if (Number.isNaN(f32[0])) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Reads element `i` of a little-endian array of `dtype` starting at byte `at`. */
export function readFloat(dv: DataView, at: number, dtype: FloatDtype, i: number): number {
  switch (dtype) {
    case "F64": return dv.getFloat64(at + 8 * i, true);
    case "F32": return dv.getFloat32(at + 4 * i, true);
    case "F16": return halfToNumber(dv.getUint16(at + 2 * i, true));
    case "BF16": return bfloat16ToNumber(dv.getUint16(at + 2 * i, true));
  }
}

/** Writes x as element `i` of a little-endian array of `dtype` starting at byte `at`. */
export function writeFloat(dv: DataView, at: number, dtype: FloatDtype, i: number, x: number): void {
  switch (dtype) {
    case "F64": dv.setFloat64(at + 8 * i, x, true); break;
    case "F32": dv.setFloat32(at + 4 * i, x, true); break;
    case "F16": dv.setUint16(at + 2 * i, numberToHalf(x), true); break;
    case "BF16": dv.setUint16(at + 2 * i, numberToBfloat16(x), true); break;
  }
}
