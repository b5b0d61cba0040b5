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
