// The numpy .npy format (version 1.0), little-endian float64, C order: readable by numpy.load
// and most array tools. Encoding and decoding work on bytes only (no fs): the CLI writes files.
import { ShapeError, ValueError } from "../errors.js";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

/** Encodes values with the given shape as a .npy file ('<f8', C order). */
export function encodeNpy(values: Float64Array, shape: number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== values.length) throw new ShapeError(`encodeNpy: shape [${shape.join(", ")}] holds ${count} values, got ${values.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '<f8', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad so that the data starts on a 64-byte boundary, header ends with \n.
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + values.length * 8);
  out.set(MAGIC, 0);
  out[6] = 1; out[7] = 0;
  out[8] = header.length & 0xff; out[9] = header.length >> 8;
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  const dv = new DataView(out.buffer, 10 + header.length);
  for (let i = 0; i < values.length; i++) dv.setFloat64(i * 8, values[i], true);
  return out;
}

const DTYPES: Record<string, { size: number; read: (dv: DataView, at: number) => number }> = {
  "<f8": { size: 8, read: (dv, at) => dv.getFloat64(at, true) },
  "<f4": { size: 4, read: (dv, at) => dv.getFloat32(at, true) },
  "<i8": { size: 8, read: (dv, at) => Number(dv.getBigInt64(at, true)) },
  "<i4": { size: 4, read: (dv, at) => dv.getInt32(at, true) },
  "|u1": { size: 1, read: (dv, at) => dv.getUint8(at) },
  "<u1": { size: 1, read: (dv, at) => dv.getUint8(at) },
};

/**
 * Decodes a little-endian .npy in C order (f8, f4, i8, i4, u1; values widened to f64); throws
 * ValueError naming what is wrong (magic, version, header, dtype, shape, truncation).
 */
export function decodeNpy(bytes: Uint8Array): { values: Float64Array; shape: number[] } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new ValueError("decodeNpy: not a .npy file (bad magic)");
  const major = bytes[6];
  if (major < 1 || major > 3) throw new ValueError(`decodeNpy: unsupported .npy version ${major}.${bytes[7]}`);
  if (major > 1 && bytes.length < 12) throw new ValueError("decodeNpy: truncated header");
  const hlen = major === 1 ? bytes[8] | (bytes[9] << 8) : new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + hlen > bytes.length) throw new ValueError(`decodeNpy: truncated header (${hlen} bytes announced, ${bytes.length - start} present)`);
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new ValueError("decodeNpy: malformed header");
  if (fortran === "True") throw new ValueError("decodeNpy: fortran_order arrays are not supported");
  const dtype = DTYPES[descr];
  if (!dtype) throw new ValueError(`decodeNpy: dtype ${descr} is not supported (use ${Object.keys(DTYPES).join(", ")})`);
  const parts = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length);
  const shape = parts.map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new ValueError(`decodeNpy: malformed shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + hlen;
  if ((bytes.length - dataStart) / dtype.size < count) throw new ValueError(`decodeNpy: truncated data (${bytes.length - dataStart} bytes for ${count} values of ${dtype.size})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + dataStart);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) values[i] = dtype.read(dv, i * dtype.size);
  return { values, shape };
}
