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

/** Decodes a little-endian f8/f4 .npy (C order); throws ValueError naming what is wrong. */
export function decodeNpy(bytes: Uint8Array): { values: Float64Array; shape: number[] } {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) throw new ValueError("decodeNpy: not a .npy file (bad magic)");
  const major = bytes[6];
  const hlen = major === 1 ? bytes[8] | (bytes[9] << 8) : new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + hlen > bytes.length) throw new ValueError("decodeNpy: truncated header");
  const header = new TextDecoder().decode(bytes.subarray(start, start + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeText === undefined) throw new ValueError("decodeNpy: malformed header");
  if (fortran === "True") throw new ValueError("decodeNpy: fortran_order arrays are not supported");
  if (descr !== "<f8" && descr !== "<f4") throw new ValueError(`decodeNpy: dtype ${descr} is not supported (use <f8 or <f4)`);
  const shape = shapeText.split(",").map((s) => s.trim()).filter((s) => s.length).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const size = descr === "<f8" ? 8 : 4;
  const dataStart = start + hlen;
  if (bytes.length - dataStart < count * size) throw new ValueError(`decodeNpy: truncated data (${bytes.length - dataStart} bytes for ${count} values of ${size})`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset + dataStart);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) values[i] = size === 8 ? dv.getFloat64(i * 8, true) : dv.getFloat32(i * 4, true);
  return { values, shape };
}
