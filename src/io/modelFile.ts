// The one-hidden-layer CNN as named tensors, in PyTorch's naming and layouts, so a model trained
// elsewhere maps onto ours and back:
//   conv.weight [K, C, ph, pw]  filter j = w_j (channel-major, our patch order)
//   conv.bias   [K]
//   fc.weight   [O, K k]  "dense" readout after flattening the conv output [K, H/ph, W/pw]:
//                         fc.weight[o, j k + i] = beta[(i K + j) O + o]
//               [O, K]    "sum" readout (sum pooling over patches, then a bias-free linear layer)
// The convolution is non-overlapping (stride = kernel size). Metadata carry the image size.
import { ShapeError, ValueError } from "../errors.js";
import type { ImageShape, ModelShape } from "../model/shape.js";
import { layoutOf, patchGeometry } from "../model/shape.js";
import type { TensorFile } from "./safetensors.js";
import type { SequentialModel } from "../deep/train.js";
import type { LayerSpec } from "../deep/sequential.js";
import { planLayers } from "../deep/sequential.js";
import type { PlannedLayer } from "../deep/layers/layer.js";
import { pair } from "../deep/layers/linear.js";
import { oneHiddenAsSequential } from "../model/asSequential.js";

export const MODEL_FORMAT = "cnn-purify/one-hidden-layer";

export interface ModelSpec { shape: ModelShape; image: ImageShape }

/**
 * A linear layer's rows [w ; b] of theta as PyTorch's tensors: weight [rows, C, kh, kw] (conv) or
 * [rows, F] (dense), and bias [rows].
 */
export function linearTensors(l: PlannedLayer, theta: Float64Array): { weight: { shape: number[]; values: Float64Array }; bias: Float64Array } {
  const p = l.rowLength - 1, w = new Float64Array(l.rows * p), b = new Float64Array(l.rows), g = l.geometry;
  for (let r = 0; r < l.rows; r++) { w.set(theta.subarray(l.offset + r * l.rowLength, l.offset + r * l.rowLength + p), r * p); b[r] = theta[l.offset + r * l.rowLength + p]; }
  return { weight: { shape: g ? [l.rows, l.input.C, g.kh, g.kw] : [l.rows, p], values: w }, bias: b };
}

/** The inverse of linearTensors: weight (rows x p, row-major) and bias (absent: 0) into the layer's rows of theta. */
export function setLinearRows(l: PlannedLayer, theta: Float64Array, w: Float64Array, b: ArrayLike<number> | null): void {
  const p = l.rowLength - 1;
  for (let r = 0; r < l.rows; r++) { theta.set(w.subarray(r * p, (r + 1) * p), l.offset + r * l.rowLength); theta[l.offset + r * l.rowLength + p] = b ? b[r] : 0; }
}

/**
 * The one-hidden-layer CNN as PyTorch writes it: a conv over the images with kernel = stride = patch,
 * then the rest of its plan (src/model/asSequential.ts), whose parameters are laid out as that plan's.
 */
export function imageModelOf(spec: ModelSpec, theta: Float64Array): { model: SequentialModel; theta: Float64Array } {
  const { shape, image } = spec, patch: [number, number] = [image.patchHeight, image.patchWidth];
  const { patchDim: p, patches: k } = patchGeometry(image);
  if (p !== shape.patchDim || k !== shape.patches) throw new ShapeError(`the image geometry gives ${k} patches of dim ${p}, the model has ${shape.patches} of dim ${shape.patchDim}`);
  const map = oneHiddenAsSequential(shape);
  const layers: LayerSpec[] = [{ type: "conv", filters: shape.filters, kernel: patch, stride: patch }, ...map.model.layers.slice(1)];
  return { model: { input: { C: image.channels, H: image.height, W: image.width }, layers }, theta: map.toSequential(theta) };
}

/** Named tensors (values f64) and metadata of a model. */
export function modelToTensors(spec: ModelSpec, theta: Float64Array): { tensors: Record<string, { shape: number[]; values: Float64Array }>; metadata: Record<string, string> } {
  const { model, theta: t } = imageModelOf(spec, theta), plan = planLayers(model.input, model.layers);
  const conv = linearTensors(plan.layers[0], t), fc = linearTensors(plan.layers[plan.layers.length - 1], t);
  const { shape, image } = spec;
  return {
    tensors: { "conv.weight": conv.weight, "conv.bias": { shape: [shape.filters], values: conv.bias }, "fc.weight": fc.weight },
    metadata: { format: MODEL_FORMAT, readout: shape.readout, height: String(image.height), width: String(image.width) },
  };
}

/**
 * A CNN of one hidden layer from named tensors, as PyTorch users write it: a convolution weight
 * [K, C, ph, pw] applied with stride = kernel, its optional bias [K], an optional BatchNorm2d after it
 * (weight, bias, running_mean, running_var [K] under one prefix; its integer num_batches_tracked is
 * left as it is; eps is PyTorch's default 1e-5, which a state_dict does not store), ReLU, and a
 * readout [O, K k] over the flattened convolution output or [O, K] over its sum over positions (the
 * metadata's readout, else the shape, says which), with an optional bias [O]. Roles come from the
 * names this package writes (conv.weight, conv.bias, fc.weight, fc.bias) when present, else from
 * the shapes: the one 4-D tensor, the one 2-D tensor, biases after their weights in file order
 * (which settles K = O). The image size comes from the metadata, or from `imageSize` (the data's).
 * Throws ValueError/ShapeError naming the tensor when the file is not that.
 */
export function tensorsToSequential(file: TensorFile, where: string, imageSize?: { height: number; width: number }): { model: SequentialModel; theta: Float64Array } {
  const t = file.tensors, names = Object.keys(t), meta = file.metadata;
  const supported = "a conv layer with stride = kernel (weight [K, C, ph, pw], optional bias [K]), an optional BatchNorm2d, ReLU, and a linear readout [O, F] with an optional bias [O]";
  const ours = !!(t["conv.weight"] && t["fc.weight"]);
  const conv = ours ? ["conv.weight"] : names.filter((n) => t[n].shape.length === 4), dense = ours ? ["fc.weight"] : names.filter((n) => t[n].shape.length === 2);
  if (conv.length > 1) {
    throw new ValueError(`${where}: ${conv.length} convolution weights (${conv.join(", ")}): a multi-layer network, whose layers a file of tensors does not describe; purify its ONNX export (torch.onnx.export) instead`);
  }
  if (conv.length !== 1) throw new ValueError(`${where}: no 4-D convolution weight: the supported model has one (${supported})`);
  if (dense.length !== 1) throw new ValueError(`${where}: ${dense.length ? `${dense.length} 2-D tensors (${dense.join(", ")})` : "no 2-D readout weight"}: the supported model has one (${supported})`);
  const cw = t[conv[0]], fw = t[dense[0]];
  if (cw.shape.length !== 4 || cw.shape.some((d) => d < 1)) throw new ShapeError(`${where}: ${conv[0]} has shape [${cw.shape.join(", ")}], expected [K, C, ph, pw]`);
  if (fw.shape.length !== 2 || fw.shape[0] < 1) throw new ShapeError(`${where}: ${dense[0]} has shape [${fw.shape.join(", ")}], expected [O, K k] or [O, K]`);
  const [K, C, ph, pw] = cw.shape, [O, F] = fw.shape;
  const bn = batchNormTensors(file, where, K);
  const bnNames = bn ? [bn.weight, bn.bias, bn.mean, bn.variance, ...(bn.counter ? [bn.counter] : [])] : [];
  const after = (n: string) => names[names.indexOf(n) + 1];
  const biasOf = (weight: string, len: number, name: string) => {
    const b = ours ? (t[name] ? name : null) : after(weight);
    if (!b || bnNames.includes(b) || (!ours && (t[b].shape.length !== 1 || t[b].shape[0] !== len))) return null;
    if (t[b].shape.length !== 1 || t[b].shape[0] !== len) throw new ShapeError(`${where}: ${b} has shape [${t[b].shape.join(", ")}], expected [${len}] (one bias per ${weight === conv[0] ? "filter" : "output"})`);
    return b;
  };
  const convBias = biasOf(conv[0], K, "conv.bias"), denseBias = biasOf(dense[0], O, "fc.bias");
  const known = [conv[0], convBias, dense[0], denseBias, ...bnNames];
  for (const n of names) if (!known.includes(n)) throw new ValueError(`${where}: tensor "${n}" is not part of the supported model (${supported})`);
  const height = meta.height !== undefined ? Number(meta.height) : imageSize?.height;
  const width = meta.width !== undefined ? Number(meta.width) : imageSize?.width;
  if (height === undefined || width === undefined || !Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new ValueError(`${where}: the image size is unknown (no height/width metadata and no data to take it from)`);
  }
  const { patches: k } = patchGeometry({ channels: C, height, width, patchHeight: ph, patchWidth: pw });
  if (meta.readout !== undefined && meta.readout !== "dense" && meta.readout !== "sum") throw new ValueError(`${where}: unknown readout "${meta.readout}" in the metadata (known: dense, sum)`);
  const readout = meta.readout ?? (F === K * k ? "dense" : "sum"), want = readout === "dense" ? K * k : K;
  if (F !== want) throw new ShapeError(`${where}: ${dense[0]} has shape [${O}, ${F}], expected [${O}, ${want}] for the ${readout} readout of ${K} filters over ${k} patches`);
  const kernel: number | [number, number] = ph === pw ? ph : [ph, pw];
  const model: SequentialModel = { input: { C, H: height, W: width }, layers: [
    { type: "conv", filters: K, kernel, stride: kernel, padding: 0, ...(convBias ? {} : { bias: false }) },
    ...(bn ? [{ type: "batchnorm" as const, eps: 1e-5 }] : []),
    { type: "relu" }, ...(readout === "sum" ? [{ type: "sum" as const }] : []), { type: "flatten" }, { type: "dense", units: O, ...(denseBias ? {} : { bias: false }) },
  ] };
  const plan = planLayers(model.input, model.layers);
  const theta = new Float64Array(plan.size);
  setLinearRows(plan.layers[0], theta, cw.values, convBias ? t[convBias].values : null);
  if (bn) [bn.weight, bn.bias, bn.mean, bn.variance].forEach((name, q) => theta.set(t[name].values, plan.layers[1].offset + q * K));
  setLinearRows(plan.layers[plan.layers.length - 1], theta, fw.values, denseBias ? t[denseBias].values : null);
  return { model, theta };
}

/** The one-hidden-layer CNN from named tensors: tensorsToSequential's network, recognized (oneHiddenOf). */
export function tensorsToModel(file: TensorFile, where: string, imageSize?: { height: number; width: number }): { spec: ModelSpec; theta: Float64Array } {
  const { model, theta } = tensorsToSequential(file, where, imageSize);
  return oneHiddenOf(model, theta, where);
}

/**
 * The one-hidden-layer CNN recognized in a sequential model read from a file (PyTorch's form: conv
 * over the images with stride = kernel and no padding, relu, a sum or global average over positions
 * or neither, flatten, a readout without bias or with a zero one), as its spec and parameters; a
 * global average's 1/k goes into the readout. Throws ValueError saying what differs.
 */
export function oneHiddenOf(model: SequentialModel, theta: Float64Array, where: string): { spec: ModelSpec; theta: Float64Array } {
  const fail = (why: string): never => { throw new ValueError(`${where}: ${why}`); };
  const [conv, relu, ...rest] = model.layers;
  if (conv?.type !== "conv") return fail("no Conv layer first");
  const [ph, pw] = pair(conv.kernel), [sh, sw] = pair(conv.stride ?? 1);
  if (sh !== ph || sw !== pw) fail(`Conv has strides [${sh}, ${sw}] for a ${ph}x${pw} kernel: only non-overlapping convolutions (stride = kernel) are supported`);
  if (conv.padding) fail("Conv: padding is not supported");
  if (relu?.type !== "relu") fail("no Relu after the Conv layer");
  const pool = rest[0]?.type === "sum" || rest[0]?.type === "avgpool" ? rest.shift()! : null;
  if (rest[0]?.type === "flatten") rest.shift();
  const dense = rest.shift();
  if (dense?.type !== "dense" || rest.length) fail(`layers ${model.layers.map((l) => l.type).join(", ")}: only one hidden layer (conv, relu, [sum], flatten, dense) is supported`);
  const plan = planLayers(model.input, model.layers), hidden = plan.layers[0].output;
  if (pool?.type === "avgpool" && (pool.size !== hidden.H || pool.size !== hidden.W)) fail("an average pooling that is not global is not supported");
  const image: ImageShape = { channels: model.input.C, height: model.input.H, width: model.input.W, patchHeight: ph, patchWidth: pw };
  const shape: ModelShape = { ...patchGeometry(image), filters: conv.filters, outputs: (dense as { units: number }).units, readout: pool ? "sum" : "dense" };
  const readout = plan.layers[plan.layers.length - 1];
  for (let o = 0; o < readout.rows; o++) {
    if (theta[readout.offset + (o + 1) * readout.rowLength - 1] !== 0) fail("the readout has a nonzero bias: a readout bias is not supported by the one-hidden-layer model");
  }
  // the image plan's parameters are laid out as the one-hidden plan's (rows of W~ in place, the readout's rows)
  const out = oneHiddenAsSequential(shape).fromSequential(theta);
  if (pool?.type === "avgpool") for (let i = layoutOf(shape).wSize; i < out.length; i++) out[i] /= shape.patches;
  return { spec: { shape, image }, theta: out };
}

/** A BatchNorm2d's tensors (PyTorch's names: <prefix>weight, bias, running_mean, running_var), or null. */
function batchNormTensors(file: TensorFile, where: string, K: number): { weight: string; bias: string; mean: string; variance: string; counter: string | null } | null {
  const t = file.tensors, means = Object.keys(t).filter((n) => n.endsWith("running_mean"));
  if (!means.length) return null;
  if (means.length > 1) throw new ValueError(`${where}: ${means.length} BatchNorm layers (${means.join(", ")}): a file of tensors does not describe a multi-layer network's layers; purify its ONNX export (torch.onnx.export with training=TrainingMode.PRESERVE) instead`);
  const prefix = means[0].slice(0, -"running_mean".length);
  const names = { weight: prefix + "weight", bias: prefix + "bias", mean: prefix + "running_mean", variance: prefix + "running_var" };
  for (const n of Object.values(names)) {
    if (!t[n]) throw new ValueError(`${where}: BatchNorm "${prefix.replace(/\.$/, "")}": tensor "${n}" is missing`);
    if (t[n].shape.length !== 1 || t[n].shape[0] !== K) throw new ShapeError(`${where}: ${n} has shape [${t[n].shape.join(", ")}], expected [${K}] (one per filter)`);
  }
  const counter = t[prefix + "num_batches_tracked"] ? prefix + "num_batches_tracked" : null;
  return { ...names, counter };
}
