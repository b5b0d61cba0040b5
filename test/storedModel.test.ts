// Model files written back in place: only the purified tensors' data change, each in its own dtype.
import { describe, expect, it } from "vitest";
import { encodeOnnx } from "../src/io/onnx.js";
import { encodeSequentialOnnx } from "../src/io/onnxSequential.js";
import { openModel } from "../src/io/modelSource.js";
import { modelToTensors } from "../src/io/modelFile.js";
import { encodeSafetensors } from "../src/io/safetensors.js";
import { Rng } from "../src/random.js";
import type { ModelSpec } from "../src/io/modelFile.js";
import { layoutOf } from "../src/model/shape.js";
import { bfloat16ToNumber, halfToNumber, numberToBfloat16, numberToHalf } from "../src/io/dtypes.js";
import { onnx } from "../src/io/onnxProto.js";
import { planLayers } from "../src/deep/sequential.js";
import type { SequentialModel } from "../src/deep/train.js";

const spec: ModelSpec = { shape: { patchDim: 16, patches: 4, filters: 3, outputs: 2, readout: "dense" }, image: { channels: 1, height: 8, width: 8, patchHeight: 4, patchWidth: 4 } };

/** Byte positions where a and b differ. */
function diffPositions(a: Uint8Array, b: Uint8Array): number[] {
  expect(b.length).toBe(a.length);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}

describe("stored model write-back", () => {
  it("an f32 ONNX one-hidden-layer model: changed parameters land in their own 4 bytes, nothing else moves", () => {
    const theta = new Rng(1).normals(layoutOf(spec.shape).size);
    const bytes = encodeOnnx(spec, theta, { dtype: "f32" });
    const m = openModel(bytes, "onnx", "t");
    expect(m.kind).toBe("one-hidden-layer");
    expect(m.dtypes).toEqual(["F32"]);
    const params = m.theta.slice();
    params[5] = 0.25; params[params.length - 1] = -3.5;
    const w = m.write(params);
    expect(w.changedElements).toBe(2);
    const diff = diffPositions(bytes, w.bytes);
    expect(diff.length).toBeGreaterThan(0);
    expect(diff.length).toBeLessThanOrEqual(8);
    const back = openModel(w.bytes, "onnx", "t");
    expect(Array.from(back.theta)).toEqual(Array.from(params));
    // Unchanged parameters: the file comes back byte for byte.
    expect(diffPositions(bytes, m.write(m.theta).bytes)).toEqual([]);
  });

  it("an ONNX model with FLOAT16 initializers is written back in float16, in place", () => {
    const theta = new Rng(4).normals(layoutOf(spec.shape).size);
    const model = onnx.ModelProto.decode(encodeOnnx(spec, theta, { dtype: "f32" }));
    for (const t of model.graph!.initializer!) {
      if (t.dataType !== 1) continue;
      const f32 = new Float32Array(Uint8Array.from(t.rawData!).buffer); // a copy: rawData may view a shared pool
      const raw = new Uint8Array(f32.length * 2), dv = new DataView(raw.buffer);
      f32.forEach((v, i) => dv.setUint16(2 * i, numberToHalf(v), true));
      t.dataType = 10; t.rawData = raw;
    }
    const bytes = onnx.ModelProto.encode(model).finish();
    const m = openModel(bytes, "onnx", "t");
    expect(m.dtypes).toEqual(["F16"]);
    const params = m.theta.slice();
    params[3] = 0.5; params[params.length - 2] = -2;
    const w = m.write(params);
    const diff = diffPositions(bytes, w.bytes);
    expect(diff.length).toBeGreaterThan(0);
    expect(diff.length).toBeLessThanOrEqual(4);
    const back = openModel(w.bytes, "onnx", "t").theta;
    expect(back[3]).toBe(0.5);
    expect(back[params.length - 2]).toBe(-2);
    expect(Array.from(back).filter((v, i) => v !== m.theta[i]).length).toBe(2);
  });

  it("half and bfloat16 rounding: nearest, ties to even, as numpy and PyTorch round", () => {
    // independent references: exact binary16 values and their neighbours
    expect(numberToHalf(1)).toBe(0x3c00);
    expect(numberToHalf(65504)).toBe(0x7bff);
    expect(numberToHalf(65520)).toBe(0x7c00); // rounds up to Inf
    expect(numberToHalf(2 ** -24)).toBe(1);
    expect(numberToHalf(2 ** -25)).toBe(0); // tie to even (0)
    expect(numberToHalf(3 * 2 ** -25)).toBe(2); // tie to even (2)
    expect(numberToHalf(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1 + 2^-10: even
    expect(numberToHalf(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(numberToHalf(-0)).toBe(0x8000);
    expect(halfToNumber(0x3555)).toBeCloseTo(1 / 3, 3);
    for (let h = 0; h < 0x7c00; h += 37) expect(numberToHalf(halfToNumber(h))).toBe(h);
    expect(numberToBfloat16(1)).toBe(0x3f80);
    expect(numberToBfloat16(1 + 2 ** -8)).toBe(0x3f80); // tie: even
    expect(numberToBfloat16(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(bfloat16ToNumber(0x4049)).toBe(3.140625);
  });

  it("safetensors in F16 and BF16 keep their dtype; the values round to that dtype", () => {
    for (const dtype of ["F16", "BF16", "F32", "F64"] as const) {
      const theta = new Rng(2).normals(layoutOf(spec.shape).size);
      const file = modelToTensors(spec, theta);
      const bytes = encodeSafetensors(Object.fromEntries(Object.entries(file.tensors).map(([k, t]) => [k, { ...t, dtype }])), { ...file.metadata, user: "kept" });
      const m = openModel(bytes, "safetensors", "t");
      expect(m.dtypes).toEqual([dtype]);
      const params = m.theta.slice();
      params[0] = 1.5; // exact in every dtype
      const w = m.write(params);
      const diff = diffPositions(bytes, w.bytes);
      expect(diff.length).toBeGreaterThan(0);
      expect(diff.length).toBeLessThanOrEqual({ F16: 2, BF16: 2, F32: 4, F64: 8 }[dtype]);
      expect(openModel(w.bytes, "safetensors", "t").theta[0]).toBe(1.5);
    }
  });

  it("a sequential ONNX model maps each weight and bias to its initializer element", () => {
    const model: SequentialModel = { input: { C: 1, H: 8, W: 8 }, layers: [{ type: "conv", filters: 2, kernel: 3, stride: 1, padding: 1 }, { type: "relu" }, { type: "maxpool", size: 2 }, { type: "flatten" }, { type: "dense", units: 3 }] };
    const theta = new Rng(3).normals(planLayers(model.input, model.layers).size);
    const bytes = encodeSequentialOnnx(model, theta, { dtype: "f64" });
    const m = openModel(bytes, "onnx", "t");
    expect(m.kind).toBe("sequential");
    const params = theta.map((v, i) => v + i);
    const back = openModel(m.write(params).bytes, "onnx", "t");
    expect(Array.from(back.theta)).toEqual(Array.from(params));
  });
});
