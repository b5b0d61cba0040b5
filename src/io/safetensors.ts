// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
// { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__": { string: string } },
// then the tensors' little-endian bytes, offsets relative to the end of the header. Bytes only (no
// fs). Decoding checks everything a corrupt or hostile file could get wrong before allocating.
import { ShapeError, ValueError } from "../errors.js";
import type { FloatDtype } from "./dtypes.js";
import { FLOAT_BYTES, readFloat, writeFloat } from "./dtypes.js";

export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "U8";

const SIZE: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1 };

export interface Tensor {
  shape: number[];
  /** Values widened to f64 (I64 beyond 2^53 loses precision; F16/BF16 are exact in f64). */
  values: Float64Array;
  dtype: SafetensorsDtype;
  /** Byte offset of the tensor's first element in the decoded file (absent on tensors built in memory). */
  at?: number;
}

export interface TensorFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

/** Header size limit: real files have headers of kilobytes; this refuses absurd allocations. */
const MAX_HEADER = 100 * 1024 * 1024;

/**
 * Encodes tensors (floating dtypes: F64, F32, F16, BF16) with optional
 * string metadata. Tensors are laid out in the order given; the header is padded to 8 bytes.
 */
export function encodeSafetensors(tensors: Record<string, { shape: number[]; values: Float64Array; dtype?: FloatDtype }>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  const entries = Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === "__metadata__") throw new ValueError(`encodeSafetensors: "__metadata__" is reserved and cannot name a tensor`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!t.shape.every((d) => Number.isInteger(d) && d >= 0) || count !== t.values.length) {
      throw new ShapeError(`encodeSafetensors: tensor "${name}" has shape [${t.shape.join(", ")}] but ${t.values.length} values`);
    }
    const dtype = t.dtype ?? "F64";
    if (!(dtype in FLOAT_BYTES)) throw new ValueError(`encodeSafetensors: tensor "${name}": dtype ${dtype} cannot be written (F64, F32, F16, BF16)`);
    const bytes = count * SIZE[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + new TextEncoder().encode(json).length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const [, t] of entries) {
    const dtype = t.dtype ?? "F64";
    for (let i = 0; i < t.values.length; i++) writeFloat(dv, at, dtype, i, t.values[i]);
    at += t.values.length * FLOAT_BYTES[dtype];
  }
  return out;
}

/** Decodes a safetensors file; throws ValueError naming the problem (truncation, bad header, dtype...). */
export function decodeSafetensors(bytes: Uint8Array): TensorFile {
  const where = "safetensors";
  if (bytes.length < 8) throw new ValueError(`${where}: truncated file (${bytes.length} bytes; the header length alone takes 8)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER)) throw new ValueError(`${where}: header length ${n} is not plausible (limit ${MAX_HEADER} bytes): not a safetensors file?`);
  const hlen = Number(n);
  if (8 + hlen > bytes.length) throw new ValueError(`${where}: truncated file: the header needs ${hlen} bytes, ${bytes.length - 8} follow`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + hlen)));
  } catch (e) {
    throw new ValueError(`${where}: the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) throw new ValueError(`${where}: the header is not a JSON object`);
  const dataLen = bytes.length - 8 - hlen;
  const metadata: Record<string, string> = {};
  const tensors: Record<string, Tensor> = {};
  const spans: Array<[number, number, string]> = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new ValueError(`${where}: __metadata__ must be an object of strings`);
      for (const [k, v] of Object.entries(raw)) {
        if (typeof v !== "string") throw new ValueError(`${where}: __metadata__.${k} is not a string`);
        metadata[k] = v;
      }
      continue;
    }
    const t = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t !== "object" || t === null) throw new ValueError(`${where}: tensor "${name}" is not an object`);
    if (typeof t.dtype !== "string" || !(t.dtype in SIZE)) {
      throw new ValueError(`${where}: tensor "${name}" has unsupported dtype ${JSON.stringify(t.dtype)} (supported: ${Object.keys(SIZE).join(", ")})`);
    }
    const dtype = t.dtype as SafetensorsDtype;
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new ValueError(`${where}: tensor "${name}" has a malformed shape ${JSON.stringify(t.shape)}`);
    const shape = t.shape as number[];
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0) || off[0] > off[1]) {
      throw new ValueError(`${where}: tensor "${name}" has malformed data_offsets ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    if (end > dataLen) throw new ValueError(`${where}: truncated file: tensor "${name}" ends at byte ${end} of the data, which has ${dataLen}`);
    const count = shape.reduce((a, b) => a * b, 1);
    if (count * SIZE[dtype] !== end - begin) {
      throw new ValueError(`${where}: tensor "${name}": shape [${shape.join(", ")}] of ${dtype} needs ${count * SIZE[dtype]} bytes, data_offsets give ${end - begin}`);
    }
    spans.push([begin, end, name]);
    const at = 8 + hlen + begin;
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const p = at + i * SIZE[dtype];
      switch (dtype) {
        case "F64": case "F32": case "F16": case "BF16": values[i] = readFloat(dv, p, dtype, 0); break;
        case "I64": values[i] = Number(dv.getBigInt64(p, true)); break;
        case "I32": values[i] = dv.getInt32(p, true); break;
        case "U8": values[i] = bytes[p]; break;
      }
    }
    tensors[name] = { shape, values, dtype, at };
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw new ValueError(`${where}: tensors "${spans[i - 1][2]}" and "${spans[i][2]}" overlap`);
  }
  return { tensors, metadata };
}
