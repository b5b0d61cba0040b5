// The ONNX protobuf schema (onnx-proto's static protobufjs code: no eval, so it runs in every runtime) and the small helpers both ONNX
// readers/writers use: attributes, f32/f64 initializers, and initializer decoding with checks.
import onnxProto from "onnx-proto";
import type { onnx as OnnxNs } from "onnx-proto";
import { ValueError } from "../errors.js";
import { FLOAT_BYTES, bfloat16ToNumber, halfToNumber, readFloat } from "./dtypes.js";
import { ONNX_FLOAT_TYPES } from "./onnxWire.js";

export const { onnx } = onnxProto as unknown as { onnx: typeof OnnxNs };
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

/** An initializer's dims and values (FLOAT, DOUBLE, FLOAT16, BFLOAT16 or INT64; raw or typed fields), checked. */
export function tensorValues(t: OnnxNs.ITensorProto, where: string): { dims: number[]; values: Float64Array } {
  const dims = (t.dims ?? []).map(num);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new ValueError(`${where}: initializer "${t.name}" has malformed dims`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (t.dataLocation === 1 || (t.externalData && t.externalData.length)) {
    throw new ValueError(`${where}: initializer "${t.name}" keeps its data in an external file; save the model with its weights inside (onnx.save_model(..., save_as_external_data=False))`);
  }
  const raw = t.rawData && t.rawData.length ? t.rawData : null;
  const values = new Float64Array(count);
  const float = ONNX_FLOAT_TYPES[t.dataType ?? 0];
  if (!float && t.dataType !== INT64) throw new ValueError(`${where}: initializer "${t.name}" has unsupported data type ${t.dataType} (FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT64)`);
  const size = float ? FLOAT_BYTES[float] : 8;
  if (raw) {
    if (raw.length !== count * size) throw new ValueError(`${where}: initializer "${t.name}": dims [${dims.join(", ")}] need ${count * size} bytes, raw_data has ${raw.length}`);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) values[i] = float ? readFloat(dv, 0, float, i) : Number(dv.getBigInt64(i * 8, true));
  } else {
    // FLOAT16/BFLOAT16 outside raw_data are their bits in int32_data
    const list = float === "F32" ? t.floatData : float === "F64" ? t.doubleData : float ? t.int32Data : t.int64Data?.map(num);
    if (!list || list.length !== count) throw new ValueError(`${where}: initializer "${t.name}": dims [${dims.join(", ")}] need ${count} values, found ${list?.length ?? 0}`);
    const bits = float === "F16" ? halfToNumber : float === "BF16" ? bfloat16ToNumber : null;
    for (let i = 0; i < count; i++) values[i] = bits ? bits(list[i] as number) : (list[i] as number);
  }
  return { dims, values };
}

/**
 * The graph's initializers by name. `override` replaces values by name (same dims): the readers
 * run on probe values through it to learn where each parameter is stored (src/io/storedModel.ts).
 */
export function readInitializers(g: OnnxNs.IGraphProto, where: string, override?: Map<string, Float64Array>): Map<string, { dims: number[]; values: Float64Array }> {
  const inits = new Map<string, { dims: number[]; values: Float64Array }>();
  for (const t of g.initializer ?? []) {
    const name = t.name ?? "";
    const read = tensorValues(t, where);
    inits.set(name, override?.has(name) ? { dims: read.dims, values: override.get(name)! } : read);
  }
  return inits;
}
