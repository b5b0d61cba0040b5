// The ONNX protobuf schema (onnx-proto's protobufjs code, Node only) and the small helpers both ONNX
// readers/writers use: attributes, f32/f64 initializers, and initializer decoding with checks.
import { createRequire } from "node:module";
import type { onnx as OnnxNs } from "onnx-proto";
import { ValueError } from "../errors.js";

export const { onnx } = createRequire(import.meta.url)("onnx-proto") as { onnx: typeof OnnxNs };
export const FLOAT = 1, INT64 = 7, DOUBLE = 11;
export type Long = { toNumber(): number };
export const num = (x: number | Long | null | undefined): number => (x === null || x === undefined ? 0 : typeof x === "number" ? x : x.toNumber());

export function tensor(name: string, dims: number[], values: ArrayLike<number>, dtype: "f32" | "f64"): OnnxNs.ITensorProto {
  const bytes = new Uint8Array(values.length * (dtype === "f32" ? 4 : 8));
  const dv = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) dtype === "f32" ? dv.setFloat32(i * 4, values[i], true) : dv.setFloat64(i * 8, values[i], true);
  return { name, dims, dataType: dtype === "f32" ? FLOAT : DOUBLE, rawData: bytes };
}

export const ints = (name: string, v: number[]): OnnxNs.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INTS, ints: v });
export const int = (name: string, v: number): OnnxNs.IAttributeProto => ({ name, type: onnx.AttributeProto.AttributeType.INT, i: v });

/** An initializer's dims and values (FLOAT, DOUBLE or INT64; raw or typed fields), checked. */
export function tensorValues(t: OnnxNs.ITensorProto, where: string): { dims: number[]; values: Float64Array } {
  const dims = (t.dims ?? []).map(num);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new ValueError(`${where}: initializer "${t.name}" has malformed dims`);
  const count = dims.reduce((a, b) => a * b, 1);
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  const values = new Float64Array(count);
  const kind = t.dataType === FLOAT ? "FLOAT" : t.dataType === DOUBLE ? "DOUBLE" : t.dataType === INT64 ? "INT64" : null;
  if (!kind) throw new ValueError(`${where}: initializer "${t.name}" has unsupported data type ${t.dataType} (FLOAT, DOUBLE, INT64)`);
  const size = kind === "FLOAT" ? 4 : 8;
  if (raw) {
    if (raw.length !== count * size) throw new ValueError(`${where}: initializer "${t.name}": dims [${dims.join(", ")}] need ${count * size} bytes, raw_data has ${raw.length}`);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) values[i] = kind === "FLOAT" ? dv.getFloat32(i * 4, true) : kind === "DOUBLE" ? dv.getFloat64(i * 8, true) : Number(dv.getBigInt64(i * 8, true));
  } else {
    const list = kind === "FLOAT" ? t.floatData : kind === "DOUBLE" ? t.doubleData : t.int64Data?.map(num);
    if (!list || list.length !== count) throw new ValueError(`${where}: initializer "${t.name}": dims [${dims.join(", ")}] need ${count} values, found ${list?.length ?? 0}`);
    for (let i = 0; i < count; i++) values[i] = list[i] as number;
  }
  return { dims, values };
}
