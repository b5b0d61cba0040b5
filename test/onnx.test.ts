// ONNX: bit-exact round trips, onnxruntime-node (an independent implementation) against our forward
// pass, refusals naming the op, and the purify command reading and writing .onnx.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { frozenFirstLayerCnn, tempDir } from "./helpers.js";
import { createBackend } from "../src/backend/index.js";
import { main } from "../src/cli/run.js";
import { sparseOutliers } from "../src/contaminate.js";
import type { ModelSpec } from "../src/io/modelFile.js";
import { encodeNpy } from "../src/io/npy.js";
import { decodeOnnx, encodeOnnx } from "../src/io/onnx.js";
import { encodeSequentialOnnx } from "../src/io/onnxSequential.js";
import type { LayerSpec } from "../src/deep/sequential.js";
import { planLayers } from "../src/deep/sequential.js";
import { patchesFromImages } from "../src/model/data.js";
import { initParams } from "../src/model/init.js";
import { Rng } from "../src/random.js";
import { purify } from "../src/recover/purify.js";
import { evaluate, train } from "../src/train/train.js";

const require = createRequire(import.meta.url);
const ort = require("onnxruntime-node") as typeof import("onnxruntime-node");
const { onnx } = require("onnx-proto") as typeof import("onnx-proto");

const spec = (readout: "dense" | "sum"): ModelSpec => ({
  shape: { patchDim: 2 * 4 * 4, patches: 4, filters: 5, outputs: 3, readout },
  image: { channels: 2, height: 8, width: 8, patchHeight: 4, patchWidth: 4 },
});

describe("ONNX", () => {
  for (const readout of ["dense", "sum"] as const) {
    it(`${readout}: f64 round trip is bit-exact; f32 keeps every f32 value; onnxruntime agrees with our forward pass`, async () => {
      const s = spec(readout);
      const theta = initParams(s.shape, { seed: 3, biasStd: 0.3 });
      const back = decodeOnnx(encodeOnnx(s, theta, { dtype: "f64" }));
      expect(back.spec).toEqual(s);
      expect(Array.from(back.theta)).toEqual(Array.from(theta));
      const f32 = Float64Array.from(new Float32Array(theta));
      expect(Array.from(decodeOnnx(encodeOnnx(s, theta)).theta)).toEqual(Array.from(f32));
      expect(Array.from(decodeOnnx(encodeOnnx(s, f32)).theta)).toEqual(Array.from(f32));

      const n = 4, images = new Rng(4).normals(n * 128);
      const session = await ort.InferenceSession.create(encodeOnnx(s, theta));
      const res = await session.run({ input: new ort.Tensor("float32", Float32Array.from(images), [n, 2, 8, 8]) });
      const theirs = res.output.data as Float32Array;
      const be = await createBackend("wasm");
      const ours = (await evaluate(s.shape, theta, patchesFromImages(be, images, n, s.image), new Float64Array(n))).outputs;
      let scale = 0;
      for (const v of ours) scale = Math.max(scale, Math.abs(v));
      for (let i = 0; i < ours.length; i++) expect(Math.abs(theirs[i] - ours[i]) / scale).toBeLessThan(1e-6);
    });
  }

  it("refuses unsupported ops, overlapping convolutions and readout biases by name; garbage is not ONNX", () => {
    const s = spec("dense");
    const good = onnx.ModelProto.decode(encodeOnnx(s, initParams(s.shape)));
    const edit = (f: (m: import("onnx-proto").onnx.ModelProto) => void) => { const m = onnx.ModelProto.decode(onnx.ModelProto.encode(good).finish()); f(m); return onnx.ModelProto.encode(m).finish(); };
    expect(() => decodeOnnx(edit((m) => { m.graph!.node[1].opType = "Sigmoid"; }), "--model")).toThrow(/unsupported op Sigmoid \("l1"\)/);
    // a well-formed network that is not the one-hidden-layer CNN: refused by what differs
    const overlapping = { input: { C: 2, H: 8, W: 8 }, layers: [{ type: "conv", filters: 5, kernel: 4, stride: 2 }, { type: "relu" }, { type: "flatten" }, { type: "dense", units: 3, bias: false }] as LayerSpec[] };
    const bytes = encodeSequentialOnnx(overlapping, new Float64Array(planLayers(overlapping.input, overlapping.layers).size).fill(0.5));
    expect(() => decodeOnnx(bytes, "--model")).toThrow(/strides \[2, 2\] for a 4x4 kernel: only non-overlapping convolutions/);
    expect(() => decodeOnnx(edit((m) => { m.graph!.node[0].attribute[1].ints = [2, 2]; }), "--model")).toThrow(/layer 3 \(dense\): weights have 60 values, expected 3 x 45/);
    expect(() => decodeOnnx(edit((m) => {
      m.graph!.initializer.push(onnx.TensorProto.create({ name: "fc.bias", dims: [3], dataType: 1, floatData: [0.5, 0, 0] }));
      m.graph!.node[3].input.push("fc.bias");
    }), "--model")).toThrow(/nonzero bias: a readout bias is not supported/);
    expect(() => decodeOnnx(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), "--model")).toThrow(/not a valid ONNX file|no graph/);
  });

  it("the sum readout spelled as PyTorch writes it (x.sum((2, 3))), and a global average pooling in its place with 1/k folded into the readout", () => {
    const s = spec("sum"), theta = initParams(s.shape, { seed: 5, biasStd: 0.3 });
    const m = onnx.ModelProto.decode(encodeOnnx(s, theta, { dtype: "f64" }));
    const node = m.graph!.node[2];
    expect(node.opType).toBe("ReduceSum");
    // PyTorch's x.sum((2, 3)): keepdims 0, no Flatten after it
    const flat = onnx.ModelProto.decode(onnx.ModelProto.encode(m).finish());
    flat.graph!.node[2].attribute[0].i = 0;
    flat.graph!.node[4].input[0] = flat.graph!.node[2].output[0];
    flat.graph!.node.splice(3, 1);
    const summed = decodeOnnx(onnx.ModelProto.encode(flat).finish());
    expect(summed.spec).toEqual(s);
    expect(Array.from(summed.theta)).toEqual(Array.from(theta));
    node.opType = "GlobalAveragePool"; node.input = [node.input[0]]; node.attribute = [];
    const back = decodeOnnx(onnx.ModelProto.encode(m).finish());
    expect(back.spec).toEqual(s);
    const wSize = s.shape.filters * (s.shape.patchDim + 1);
    expect(Array.from(back.theta.subarray(0, wSize))).toEqual(Array.from(theta.subarray(0, wSize)));
    for (let i = wSize; i < theta.length; i++) expect(back.theta[i]).toBe(theta[i] / s.shape.patches);
  });

  it("purify reads a contaminated .onnx and writes a purified .onnx that onnxruntime runs", async () => {
    const dir = tempDir("cnnp-onnx-");
    const s = spec("dense");
    const n = 3, images = new Rng(6).normals(n * 128), labels = new Float64Array([0, 1, 2]);
    const be = await createBackend("wasm");
    const data = patchesFromImages(be, images, n, s.image);
    // f32-representable parameters, so that the f32 file carries them exactly
    const init = Float64Array.from(new Float32Array(initParams(s.shape, { seed: 7 })));
    const clean = Float64Array.from(new Float32Array((await train(s.shape, init, data, labels, { epochs: 20, lr: 0.01, trainReadout: false })).params));
    const contaminated = sparseOutliers(clean, { rho: 0.1, seed: 9 }).params.map((v) => Math.fround(v));
    writeFileSync(join(dir, "model.onnx"), encodeOnnx(s, contaminated));
    writeFileSync(join(dir, "init.onnx"), encodeOnnx(s, init));
    writeFileSync(join(dir, "data.npy"), encodeNpy(images, [n, 2, 8, 8]));
    const code = await main(["purify", "--model", join(dir, "model.onnx"), "--init", join(dir, "init.onnx"), "--data", join(dir, "data.npy"),
      "--out", join(dir, "purified.onnx"), "--trained-readout", "no", "--json"], () => {});
    expect(code).toBe(0);
    const got = decodeOnnx(readFileSync(join(dir, "purified.onnx")));
    // the CLI reads the file's dtype (f32) as the model's precision: the API call says the same
    const api = await purify(contaminated, { shape: s.shape, init, data, trainedReadout: false, precision: "f32" });
    expect(Array.from(got.theta)).toEqual(Array.from(api.params, (v) => Math.fround(v)));
    const session = await ort.InferenceSession.create(readFileSync(join(dir, "purified.onnx")));
    expect((await session.run({ input: new ort.Tensor("float32", Float32Array.from(images), [n, 2, 8, 8]) })).output.dims).toEqual([n, 3]);
  });
});

describe("ONNX: sequential multi-layer CNNs", () => {
  it("conv (stride, padding) / ReLU / max and average pooling / flatten / dense: bit-exact f64 round trip, onnxruntime agrees", async () => {
    const { encodeSequentialOnnx, decodeSequentialOnnx } = await import("../src/io/onnxSequential.js");
    const { initSequential } = await import("../src/deep/train.js");
    const { evaluate } = await import("../src/train/train.js");
    const { SequentialWorkspace, planLayers, sequentialForward } = await import("../src/deep/sequential.js");
    const model = { input: { C: 2, H: 12, W: 12 }, layers: [
      { type: "conv", filters: 4, kernel: 3, stride: 1, padding: 1 }, { type: "relu" }, { type: "maxpool", size: 2 },
      { type: "conv", filters: 5, kernel: 3, stride: 1 }, { type: "relu" }, { type: "avgpool", size: 2 },
      { type: "flatten" }, { type: "dense", units: 3 },
    ] } as const;
    const m = { input: model.input, layers: [...model.layers] } as Parameters<typeof initSequential>[0];
    const theta = initSequential(m, 4);
    const back = decodeSequentialOnnx(encodeSequentialOnnx(m, theta, { dtype: "f64" }));
    expect(back.model).toEqual({ input: m.input, layers: m.layers.map((l) => (l.type === "conv" ? { ...l, stride: l.stride ?? 1, padding: l.padding ?? 0 } : l)) });
    expect(Array.from(back.theta)).toEqual(Array.from(theta));
    const n = 3, x = new Rng(2).normals(n * 2 * 144);
    const session = await ort.InferenceSession.create(encodeSequentialOnnx(m, theta));
    const theirs = (await session.run({ input: new ort.Tensor("float32", Float32Array.from(x), [n, 2, 12, 12]) })).output.data as Float32Array;
    const be = await createBackend("wasm");
    const plan = planLayers(m.input, m.layers);
    const ws = new SequentialWorkspace(be, plan, n);
    const ours = be.download(sequentialForward(ws, be.upload(be.alloc(plan.size), theta), be.upload(be.alloc(x.length), x)));
    const scale = Math.max(...ours.map(Math.abs));
    for (let i = 0; i < ours.length; i++) expect(Math.abs(theirs[i] - ours[i]) / scale).toBeLessThan(1e-6);
    // accuracy on labels chosen so that onnxruntime's argmax gets exactly two of three right
    const O = plan.output.C;
    const argmax = (i: number) => { const row = Array.from(theirs.subarray(i * O, i * O + O)); return row.indexOf(Math.max(...row)); };
    const labels = [argmax(0), argmax(1), (argmax(2) + 1) % O];
    expect((await evaluate(m, theta, { samples: n, values: x }, labels, { backend: be })).accuracy).toBeCloseTo(2 / 3, 12);
    // the dense layer spelled MatMul (weight [in, out]) + Add (bias): the same parameters
    const alt = onnx.ModelProto.decode(encodeSequentialOnnx(m, theta, { dtype: "f64" }));
    const gemm = alt.graph!.node[alt.graph!.node.length - 1];
    const w = alt.graph!.initializer.find((t) => t.name === gemm.input[1])!;
    const [units, inputs] = w.dims.map(Number);
    const src = new DataView(w.rawData.buffer, w.rawData.byteOffset, w.rawData.byteLength), raw = new Uint8Array(units * inputs * 8), dst = new DataView(raw.buffer);
    for (let u = 0; u < units; u++) for (let q = 0; q < inputs; q++) dst.setFloat64((q * units + u) * 8, src.getFloat64((u * inputs + q) * 8, true), true);
    w.dims = [inputs, units]; w.rawData = raw;
    gemm.opType = "MatMul"; gemm.attribute = []; const biasName = gemm.input.pop()!; gemm.output = ["mm"];
    alt.graph!.node.push(onnx.NodeProto.create({ opType: "Add", name: "bias", input: ["mm", biasName], output: ["output"] }));
    expect(Array.from(decodeSequentialOnnx(onnx.ModelProto.encode(alt).finish()).theta)).toEqual(Array.from(theta));
    const bad = onnx.ModelProto.decode(encodeSequentialOnnx(m, theta));
    bad.graph!.node[2].opType = "LpPool";
    expect(() => decodeSequentialOnnx(onnx.ModelProto.encode(bad).finish(), "--model")).toThrow(/unsupported op LpPool \("l2"\)/);
  });
});

describe("purify on a multi-layer .onnx", () => {
  it("layerwise by default: a frozen-first-layer two-conv CNN comes back exact (f64 files); linearized runs; patch is refused", async () => {
    const { encodeSequentialOnnx, decodeSequentialOnnx } = await import("../src/io/onnxSequential.js");
    const { model, n, x, init, clean } = await frozenFirstLayerCnn();
    const c = sparseOutliers(clean, { rho: 0.1, seed: 7 }).params;
    const dir = tempDir("cnnp-seq-");
    writeFileSync(join(dir, "m.onnx"), encodeSequentialOnnx(model, c, { dtype: "f64" }));
    writeFileSync(join(dir, "i.onnx"), encodeSequentialOnnx(model, init, { dtype: "f64" }));
    writeFileSync(join(dir, "x.npy"), encodeNpy(x, [n, 1, 8, 8]));
    const base = ["purify", "--model", join(dir, "m.onnx"), "--init", join(dir, "i.onnx"), "--data", join(dir, "x.npy"), "--precision", "f64"];
    let out = "";
    expect(await main([...base, "--frozen", "0,5", "--out", join(dir, "p.onnx"), "--json"], (s) => { out += s; })).toBe(0);
    const summary = JSON.parse(out);
    expect(summary.subspace).toBe("layerwise");
    expect(summary.span).toMatch(/^layerwise span: \d+ patches for layer 2 \(conv\) rows of \d+ entries \(ratio 0\.\d\d\) <= 0\.5; frozen: 0, 5: each layer in its patch span$/);
    // the span holds this training's update: nothing unexplained, no warning
    expect(summary.unexplained).toBeLessThan(1e-9);
    expect(summary.warnings).toBeUndefined();
    const got = decodeSequentialOnnx(readFileSync(join(dir, "p.onnx"))).theta;
    let num = 0, den = 0;
    for (let i = 0; i < got.length; i++) { num += (got[i] - clean[i]) ** 2; den += clean[i] ** 2; }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-9);
    expect(await main([...base, "--subspace", "linearized", "--out", join(dir, "q.onnx")], () => {})).toBe(0);
    expect(await main([...base, "--subspace", "relinearized", "--out", join(dir, "q2.onnx")], () => {})).toBe(0);
    expect(await main([...base, "--subspace", "patch", "--out", join(dir, "r.onnx")], () => {})).toBe(2);
    expect(await main([...base, "--frozen", "1", "--out", join(dir, "r.onnx")], () => {})).toBe(2);
  });
});
