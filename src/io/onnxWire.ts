// Where each ONNX initializer's elements lie in the file's bytes, read from the protobuf wire format
// directly (ModelProto.graph = 7, GraphProto.initializer = 5, TensorProto: data_type = 2, float_data
// = 4, name = 8, raw_data = 9, double_data = 10, external_data = 13, data_location = 14). The schema
// decoder (onnx-proto) gives values but not positions; purified values are written at these
// positions so every other byte of the user's file stays as it was.
import { ValueError } from "../errors.js";
import type { FloatDtype } from "./dtypes.js";

export interface InitializerLocation {
  name: string;
  dataType: number;
  /** Byte offset of the elements (raw_data, or packed float_data/double_data). */
  at: number | null;
  field: "raw_data" | "float_data" | "double_data" | "int32_data" | "external" | "other";
}

/** ONNX TensorProto.DataType codes of the floating types we write, by our dtype names. */
export const ONNX_FLOAT_TYPES: Record<number, FloatDtype> = { 1: "F32", 11: "F64", 10: "F16", 16: "BF16" };

class Wire {
  constructor(readonly b: Uint8Array, public pos: number, readonly end: number) {}
  varint(): number {
    let x = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ValueError("onnx: truncated varint");
      const c = this.b[this.pos++];
      x += (c & 0x7f) * mul;
      if (!(c & 0x80)) return x;
      mul *= 128;
    }
    throw new ValueError("onnx: malformed varint");
  }
  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 5) this.pos += 4;
    else if (wireType === 2) this.pos += this.varint();
    else throw new ValueError(`onnx: unsupported wire type ${wireType}`);
    if (this.pos > this.end) throw new ValueError("onnx: truncated field");
  }
  /** Calls f(field, wireType, start, end) for each field; f returns true if it consumed the payload. */
  fields(f: (field: number, wireType: number, start: number, end: number) => void): void {
    while (this.pos < this.end) {
      const key = this.varint(), field = Math.floor(key / 8), wt = key & 7;
      if (wt === 2) {
        const len = this.varint(), start = this.pos;
        if (start + len > this.end) throw new ValueError("onnx: truncated message");
        f(field, wt, start, start + len);
        this.pos = start + len;
      } else {
        f(field, wt, this.pos, this.pos);
        this.skip(wt);
      }
    }
  }
}

/** Every initializer of the main graph, in file order, with where its elements are stored. */
export function locateInitializers(bytes: Uint8Array): InitializerLocation[] {
  const out: InitializerLocation[] = [];
  new Wire(bytes, 0, bytes.length).fields((field, wt, s, e) => {
    if (field !== 7 || wt !== 2) return;
    new Wire(bytes, s, e).fields((gf, gwt, gs, ge) => {
      if (gf !== 5 || gwt !== 2) return;
      out.push(locateTensor(bytes, gs, ge));
    });
  });
  return out;
}

function locateTensor(bytes: Uint8Array, s: number, e: number): InitializerLocation {
  let name = "", dataType = 0, at: number | null = null;
  let field: InitializerLocation["field"] = "other";
  let external = false;
  const w = new Wire(bytes, s, e);
  w.fields((f, wt, fs, fe) => {
    if (f === 8 && wt === 2) name = new TextDecoder().decode(bytes.subarray(fs, fe));
    else if (f === 2 && wt === 0) { const r = new Wire(bytes, fs, e); dataType = r.varint(); }
    else if (f === 14 && wt === 0) { const r = new Wire(bytes, fs, e); external = r.varint() === 1; }
    else if (f === 13) external = true;
    else if (wt === 2 && (f === 9 || f === 4 || f === 10)) {
      at = fs; field = f === 9 ? "raw_data" : f === 4 ? "float_data" : "double_data";
    } else if (f === 5) field = "int32_data";
    else if ((f === 4 || f === 10) && wt !== 2) field = "other"; // unpacked repeated values
  });
  const kind = field as InitializerLocation["field"];
  if (external) return { name, dataType, at: null, field: "external" };
  if (kind === "int32_data" || kind === "other") return { name, dataType, at: null, field: kind };
  return { name, dataType, at, field: kind };
}
