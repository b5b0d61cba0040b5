// ONNX in and out for the one-hidden-layer CNN (the schema is onnx-proto's static protobufjs code). Exported graph, opset 13:
//   input [N, C, H, W] -> Conv(kernel = stride = patch, no padding) -> Relu
//     -> Flatten -> Gemm(fc.weight, transB)                    ("dense" readout)
//     -> ReduceSum(axes 2, 3) -> Gemm(fc.weight, transB)       ("sum" readout)
//   -> output [N, O]
// Import accepts that chain and its common spellings: Reshape to [N, -1] for Flatten, MatMul (with
// an [F, O] weight) for Gemm, a zero bias, GlobalAveragePool (folded into fc.weight as 1/k) for the
// sum. Anything else is refused with the op's name.
import type { onnx as OnnxNs } from "onnx-proto";
import { ValueError } from "../errors.js";
import type { ModelSpec } from "./modelFile.js";
import { modelToTensors, tensorsToModel } from "./modelFile.js";
import { DOUBLE, FLOAT, INT64, int, ints, num, onnx, tensor, readInitializers } from "./onnxProto.js";
import type { TensorFile } from "./safetensors.js";

/**
 * Encodes the model as an ONNX file. dtype "f32" (default) is what runtimes execute; "f64" keeps
 * every bit (a lossless archive; onnxruntime's CPU Conv has no double kernel).
 */
export function encodeOnnx(spec: ModelSpec, theta: Float64Array, options: { dtype?: "f32" | "f64" } = {}): Uint8Array {
  const dtype = options.dtype ?? "f32";
  if (dtype !== "f32" && dtype !== "f64") throw new ValueError(`encodeOnnx: dtype must be "f32" or "f64", got "${dtype}"`);
  const { tensors, metadata } = modelToTensors(spec, theta);
  const { image, shape } = spec;
  const elem = dtype === "f32" ? FLOAT : DOUBLE;
  const io = (name: string, dims: Array<number | string>): OnnxNs.IValueInfoProto => ({
    name, type: { tensorType: { elemType: elem, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  });
  const nodes: OnnxNs.INodeProto[] = [
    { opType: "Conv", input: ["input", "conv.weight", "conv.bias"], output: ["conv"], name: "conv",
      attribute: [ints("kernel_shape", [image.patchHeight, image.patchWidth]), ints("strides", [image.patchHeight, image.patchWidth])] },
    { opType: "Relu", input: ["conv"], output: ["relu"], name: "relu" },
  ];
  const init = [
    tensor("conv.weight", tensors["conv.weight"].shape, tensors["conv.weight"].values, dtype),
    tensor("conv.bias", tensors["conv.bias"].shape, tensors["conv.bias"].values, dtype),
    tensor("fc.weight", tensors["fc.weight"].shape, tensors["fc.weight"].values, dtype),
  ];
  if (shape.readout === "dense") nodes.push({ opType: "Flatten", input: ["relu"], output: ["features"], name: "flatten", attribute: [int("axis", 1)] });
  else {
    init.push({ name: "sum_axes", dims: [2], dataType: INT64, int64Data: [2, 3] });
    nodes.push({ opType: "ReduceSum", input: ["relu", "sum_axes"], output: ["features"], name: "sum", attribute: [int("keepdims", 0)] });
  }
  nodes.push({ opType: "Gemm", input: ["features", "fc.weight"], output: ["output"], name: "fc", attribute: [int("transB", 1)] });
  const model: OnnxNs.IModelProto = {
    irVersion: 8, producerName: "cnn-purify", opsetImport: [{ domain: "", version: 13 }],
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
    graph: {
      name: "one-hidden-layer-cnn", node: nodes, initializer: init,
      input: [io("input", ["N", image.channels, image.height, image.width])],
      output: [io("output", ["N", shape.outputs])],
    },
  };
  return onnx.ModelProto.encode(model).finish();
}

/** Reads a model from ONNX bytes; throws ValueError naming an unsupported op, attribute or tensor. */
export function decodeOnnx(bytes: Uint8Array, where = "onnx", imageSize?: { height: number; width: number }, override?: Map<string, Float64Array>): { spec: ModelSpec; theta: Float64Array } {
  let model: OnnxNs.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new ValueError(`${where}: not a valid ONNX file (${(e as Error).message})`);
  }
  const g = model.graph;
  if (!g || !g.node?.length) throw new ValueError(`${where}: the ONNX file has no graph`);
  const inits = readInitializers(g, where, override);
  const attr = (n: OnnxNs.INodeProto, name: string) => n.attribute?.find((a) => a.name === name);
  const attrInts = (n: OnnxNs.INodeProto, name: string) => attr(n, name)?.ints?.map(num);
  const attrInt = (n: OnnxNs.INodeProto, name: string, dflt: number) => { const a = attr(n, name); return a ? num(a.i) : dflt; };
  const weight = (n: OnnxNs.INodeProto, i: number, what: string) => {
    const t = inits.get(n.input?.[i] ?? "");
    if (!t) throw new ValueError(`${where}: ${n.opType} "${n.name}": its ${what} "${n.input?.[i]}" is not an initializer`);
    return t;
  };
  const isZero = (t: { values: Float64Array }) => t.values.every((v) => v === 0);

  let convW: { dims: number[]; values: Float64Array } | null = null, convB: Float64Array | null = null, fc: Float64Array | null = null;
  let O = 0, F = 0, readout: "dense" | "sum" | null = null, scale = 1, relu = false;
  for (const n of g.node) {
    const op = n.opType ?? "";
    if (op === "Conv") {
      if (convW) throw new ValueError(`${where}: a second Conv ("${n.name}"): only one hidden layer is supported`);
      convW = weight(n, 1, "weight");
      if (convW.dims.length !== 4) throw new ValueError(`${where}: Conv weight has dims [${convW.dims.join(", ")}], expected [K, C, kh, kw]`);
      const [K, , kh, kw] = convW.dims;
      const strides = attrInts(n, "strides") ?? [1, 1], pads = attrInts(n, "pads") ?? [0, 0, 0, 0];
      const dil = attrInts(n, "dilations") ?? [1, 1], group = attrInt(n, "group", 1);
      if (strides[0] !== kh || strides[1] !== kw) throw new ValueError(`${where}: Conv "${n.name}" has strides [${strides.join(", ")}] for a ${kh}x${kw} kernel: only non-overlapping convolutions (stride = kernel) are supported`);
      if (pads.some((p) => p !== 0) || dil.some((d) => d !== 1) || group !== 1) throw new ValueError(`${where}: Conv "${n.name}": padding, dilation and groups are not supported`);
      const autoPad = attr(n, "auto_pad")?.s;
      if (autoPad && new TextDecoder().decode(autoPad) !== "NOTSET" && new TextDecoder().decode(autoPad) !== "VALID") throw new ValueError(`${where}: Conv "${n.name}": auto_pad is not supported`);
      convB = n.input && n.input.length > 2 && n.input[2] ? weight(n, 2, "bias").values : new Float64Array(K);
    } else if (op === "Relu") {
      relu = true;
    } else if (op === "Flatten" || op === "Reshape") {
      if (op === "Flatten" && attrInt(n, "axis", 1) !== 1) throw new ValueError(`${where}: Flatten "${n.name}" with axis ${attrInt(n, "axis", 1)}: only axis 1 is supported`);
      if (op === "Reshape") {
        const target = weight(n, 1, "shape").values;
        if (target.length !== 2 || !(target[0] === 0 || target[0] === -1 || target[0] > 0) || !(target[1] === -1 || target[1] > 0)) {
          throw new ValueError(`${where}: Reshape "${n.name}" to [${Array.from(target).join(", ")}]: only a flatten to [N, -1] is supported`);
        }
      }
      readout = "dense";
    } else if (op === "ReduceSum" || op === "GlobalAveragePool") {
      readout = "sum";
      if (op === "GlobalAveragePool") scale = NaN; // folded in once the patch count is known
    } else if (op === "Gemm" || op === "MatMul") {
      const w = weight(n, 1, "weight");
      if (w.dims.length !== 2) throw new ValueError(`${where}: ${op} "${n.name}" weight has dims [${w.dims.join(", ")}], expected 2`);
      const transB = op === "Gemm" ? attrInt(n, "transB", 0) : 0;
      if (op === "Gemm" && (attrInt(n, "transA", 0) !== 0 || (attr(n, "alpha") && attr(n, "alpha")!.f !== 1))) throw new ValueError(`${where}: Gemm "${n.name}": transA and alpha != 1 are not supported`);
      if (op === "Gemm" && n.input && n.input.length > 2 && n.input[2] && !isZero(weight(n, 2, "bias C"))) {
        throw new ValueError(`${where}: Gemm "${n.name}" has a nonzero bias: a readout bias is not supported by the one-hidden-layer model`);
      }
      [O, F] = transB ? w.dims : [w.dims[1], w.dims[0]];
      fc = new Float64Array(O * F);
      for (let o = 0; o < O; o++) for (let f = 0; f < F; f++) fc[o * F + f] = transB ? w.values[o * F + f] : w.values[f * O + o];
    } else if (op === "Add") {
      const b = inits.get(n.input?.[1] ?? "") ?? inits.get(n.input?.[0] ?? "");
      if (!b || !isZero(b)) throw new ValueError(`${where}: Add "${n.name}" adds a nonzero bias: a readout bias is not supported by the one-hidden-layer model`);
    } else if (op !== "Identity") {
      throw new ValueError(`${where}: unsupported op ${op} ("${n.name}"); supported: Conv, Relu, Flatten, Reshape, ReduceSum, GlobalAveragePool, Gemm, MatMul, Add (zero bias), Identity`);
    }
  }
  if (!convW || !convB) throw new ValueError(`${where}: no Conv layer found`);
  if (!relu) throw new ValueError(`${where}: no Relu after the Conv layer`);
  if (!fc) throw new ValueError(`${where}: no Gemm/MatMul readout found`);
  const meta: Record<string, string> = {};
  for (const p of model.metadataProps ?? []) if (p.key && p.value !== undefined && p.value !== null) meta[p.key] = p.value;
  if (readout) meta.readout = readout;
  if (meta.height === undefined || meta.width === undefined) {
    const dims = g.input?.[0]?.type?.tensorType?.shape?.dim;
    if (dims && dims.length === 4 && dims[2].dimValue && dims[3].dimValue) { meta.height = String(num(dims[2].dimValue)); meta.width = String(num(dims[3].dimValue)); }
  }
  const file: TensorFile = {
    tensors: {
      "conv.weight": { shape: convW.dims, values: convW.values, dtype: "F64" },
      "conv.bias": { shape: [convB.length], values: convB, dtype: "F64" },
      "fc.weight": { shape: [O, F], values: fc, dtype: "F64" },
    },
    metadata: meta,
  };
  const out = tensorsToModel(file, where, imageSize);
  if (Number.isNaN(scale)) {
    // GlobalAveragePool = sum / k: fold 1/k into the readout so the function is unchanged
    const L = out.theta.length - out.spec.shape.filters * out.spec.shape.outputs;
    for (let i = L; i < out.theta.length; i++) out.theta[i] /= out.spec.shape.patches;
  }
  return out;
}
