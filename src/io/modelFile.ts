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
import { planLayers } from "../deep/sequential.js";

export const MODEL_FORMAT = "cnn-purify/one-hidden-layer";

export interface ModelSpec { shape: ModelShape; image: ImageShape }

/** Named tensors (values f64) and metadata of a model. */
export function modelToTensors(spec: ModelSpec, theta: Float64Array): { tensors: Record<string, { shape: number[]; values: Float64Array }>; metadata: Record<string, string> } {
  const { shape, image } = spec;
  const L = layoutOf(shape);
  const { patchDim: p, patches: k } = patchGeometry(image);
  if (p !== shape.patchDim || k !== shape.patches) throw new ShapeError(`modelToTensors: the image geometry gives ${k} patches of dim ${p}, the model has ${shape.patches} of dim ${shape.patchDim}`);
  if (theta.length !== L.size) throw new ShapeError(`modelToTensors: params has length ${theta.length}, expected ${L.size}`);
  const K = shape.filters, O = shape.outputs;
  const w = new Float64Array(K * p), b = new Float64Array(K);
  for (let j = 0; j < K; j++) {
    w.set(theta.subarray(j * L.row, j * L.row + p), j * p);
    b[j] = theta[j * L.row + p];
  }
  const dense = shape.readout === "dense", f = dense ? K * k : K;
  const fc = new Float64Array(O * f);
  for (let o = 0; o < O; o++) {
    if (dense) for (let j = 0; j < K; j++) for (let i = 0; i < k; i++) fc[o * f + j * k + i] = theta[L.wSize + (i * K + j) * O + o];
    else for (let j = 0; j < K; j++) fc[o * f + j] = theta[L.wSize + j * O + o];
  }
  return {
    tensors: {
      "conv.weight": { shape: [K, image.channels, image.patchHeight, image.patchWidth], values: w },
      "conv.bias": { shape: [K], values: b },
      "fc.weight": { shape: [O, f], values: fc },
    },
    metadata: { format: MODEL_FORMAT, readout: shape.readout, height: String(image.height), width: String(image.width) },
  };
}

/**
 * Which tensor is which: PyTorch names them after the module's attributes ("conv.weight" in a
 * class with self.conv, "0.weight" in an nn.Sequential), so roles come from the names this
 * package writes when present, else from the shapes: the one 4-D tensor is the convolution, the
 * one 2-D tensor the readout, a 1-D tensor as long as the filter count the convolution's bias.
 * Anything else is refused by name.
 */
export function tensorRoles(file: TensorFile, where: string): { convWeight: string; convBias: string | null; readout: string } {
  const t = file.tensors, names = Object.keys(t);
  const supported = "a conv layer with stride = kernel (weight [K, C, ph, pw], optional bias [K]), ReLU, and a bias-free linear readout [O, F]";
  if (t["conv.weight"] && t["fc.weight"]) {
    for (const name of names) {
      if (!["conv.weight", "conv.bias", "fc.weight"].includes(name)) throw new ValueError(`${where}: tensor "${name}" is not part of the supported model (${supported})`);
    }
    return { convWeight: "conv.weight", convBias: t["conv.bias"] ? "conv.bias" : null, readout: "fc.weight" };
  }
  const by = (rank: number) => names.filter((n) => t[n].shape.length === rank);
  const conv = by(4), dense = by(2), vectors = by(1);
  if (conv.length > 1) {
    throw new ValueError(`${where}: ${conv.length} convolution weights (${conv.join(", ")}): a multi-layer network, whose layers a file of tensors does not describe; purify its ONNX export (torch.onnx.export) instead`);
  }
  if (conv.length !== 1) throw new ValueError(`${where}: no 4-D convolution weight: the supported model has one (${supported})`);
  if (dense.length !== 1) throw new ValueError(`${where}: ${dense.length ? `${dense.length} 2-D tensors (${dense.join(", ")})` : "no 2-D readout weight"}: the supported model has one (${supported})`);
  const K = t[conv[0]].shape[0];
  // state_dicts list a layer's bias right after its weight: that settles K = O (two vectors of length K)
  const next = names[names.indexOf(conv[0]) + 1];
  const candidates = vectors.filter((n) => t[n].shape[0] === K);
  const bias = next !== undefined && candidates.includes(next) ? [next] : candidates;
  for (const name of names) {
    if (name === conv[0] || name === dense[0] || (bias.length === 1 && name === bias[0])) continue;
    const what = t[name].shape.length === 1 && t[name].shape[0] === t[dense[0]].shape[0] ? " (a readout bias)" : "";
    throw new ValueError(`${where}: tensor "${name}"${what} is not part of the supported model (${supported})`);
  }
  return { convWeight: conv[0], convBias: bias[0] ?? null, readout: dense[0] };
}

/**
 * Reads a model from named tensors. The image size comes from the metadata, or from `imageSize`
 * (e.g. the data's H x W) when the file has none. Throws ValueError/ShapeError naming the tensor.
 */
export function tensorsToModel(file: TensorFile, where: string, imageSize?: { height: number; width: number }): { spec: ModelSpec; theta: Float64Array } {
  const t = file.tensors;
  const roles = tensorRoles(file, where);
  const cw = t[roles.convWeight], fw = t[roles.readout];
  if (cw.shape.length !== 4) throw new ShapeError(`${where}: ${roles.convWeight} has shape [${cw.shape.join(", ")}], expected [K, C, ph, pw]`);
  const [K, C, ph, pw] = cw.shape;
  if (K < 1 || C < 1 || ph < 1 || pw < 1) throw new ShapeError(`${where}: ${roles.convWeight} has an empty dimension: [${cw.shape.join(", ")}]`);
  // a convolution without bias: the bias parameters stay 0 and have no place in the file
  const cb = roles.convBias ? t[roles.convBias] : { shape: [K], values: new Float64Array(K) };
  if (cb.shape.length !== 1 || cb.shape[0] !== K) throw new ShapeError(`${where}: ${roles.convBias} has shape [${cb.shape.join(", ")}], expected [${K}] (one bias per filter)`);
  const meta = file.metadata;
  const height = meta.height !== undefined ? Number(meta.height) : imageSize?.height;
  const width = meta.width !== undefined ? Number(meta.width) : imageSize?.width;
  if (height === undefined || width === undefined || !Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new ValueError(`${where}: the image size is unknown (no height/width metadata and no data to take it from)`);
  }
  const image: ImageShape = { channels: C, height, width, patchHeight: ph, patchWidth: pw };
  const { patchDim: p, patches: k } = patchGeometry(image);
  if (fw.shape.length !== 2 || fw.shape[0] < 1) throw new ShapeError(`${where}: ${roles.readout} has shape [${fw.shape.join(", ")}], expected [O, K k] or [O, K]`);
  const O = fw.shape[0], f = fw.shape[1];
  let readout: "dense" | "sum";
  if (meta.readout === "dense" || meta.readout === "sum") readout = meta.readout;
  else if (meta.readout !== undefined) throw new ValueError(`${where}: unknown readout "${meta.readout}" in the metadata (known: dense, sum)`);
  else readout = f === K * k ? "dense" : "sum";
  const want = readout === "dense" ? K * k : K;
  if (f !== want) throw new ShapeError(`${where}: ${roles.readout} has shape [${O}, ${f}], expected [${O}, ${want}] for the ${readout} readout of ${K} filters over ${k} patches`);
  const shape: ModelShape = { patchDim: p, patches: k, filters: K, outputs: O, readout };
  const L = layoutOf(shape);
  const theta = new Float64Array(L.size);
  for (let j = 0; j < K; j++) {
    theta.set(cw.values.subarray(j * p, (j + 1) * p), j * L.row);
    theta[j * L.row + p] = cb.values[j];
  }
  for (let o = 0; o < O; o++) {
    if (readout === "dense") for (let j = 0; j < K; j++) for (let i = 0; i < k; i++) theta[L.wSize + (i * K + j) * O + o] = fw.values[o * f + j * k + i];
    else for (let j = 0; j < K; j++) theta[L.wSize + j * O + o] = fw.values[o * f + j];
  }
  return { spec: { shape, image }, theta };
}

/**
 * The one-hidden-layer CNN as PyTorch users write it, from named tensors: one 4-D square
 * convolution weight [K, C, k, k] applied with stride k, its optional bias [K], an optional
 * BatchNorm2d after it (weight, bias, running_mean, running_var [K] under one prefix; its integer
 * num_batches_tracked is left as it is; eps is PyTorch's default 1e-5, which a state_dict does not
 * store), a readout [O, K (H/k)(W/k)] and its bias [O]: the sequential model conv -> (batchnorm ->)
 * relu -> flatten -> dense. Biases are found after their weights in file order (which settles K = O).
 * Throws ValueError/ShapeError naming the tensor when the file is not that.
 */
export function tensorsToSequential(file: TensorFile, where: string, imageSize?: { height: number; width: number }): { model: SequentialModel; theta: Float64Array } {
  const t = file.tensors, names = Object.keys(t);
  const conv = names.filter((n) => t[n].shape.length === 4), dense = names.filter((n) => t[n].shape.length === 2);
  if (conv.length !== 1 || dense.length !== 1) throw new ValueError(`${where}: not a one-hidden-layer CNN with a readout bias (one 4-D convolution, one 2-D readout)`);
  const [K, C, kh, kw] = t[conv[0]].shape, [O, F] = t[dense[0]].shape;
  const bn = batchNormTensors(file, where, K);
  const bnNames = bn ? [bn.weight, bn.bias, bn.mean, bn.variance, ...(bn.counter ? [bn.counter] : [])] : [];
  const after = (n: string) => names[names.indexOf(n) + 1];
  const isBias = (n: string | undefined, len: number) => n !== undefined && !bnNames.includes(n) && t[n].shape.length === 1 && t[n].shape[0] === len;
  const convBias = isBias(after(conv[0]), K) ? after(conv[0]) : null;
  const denseBias = isBias(after(dense[0]), O) ? after(dense[0]) : null;
  if (!denseBias) throw new ValueError(`${where}: no readout bias [${O}] after ${dense[0]}`);
  const known = [conv[0], convBias, dense[0], denseBias, ...bnNames];
  for (const n of names) if (!known.includes(n)) throw new ValueError(`${where}: tensor "${n}" is not part of a one-hidden-layer CNN with a readout bias (conv, optional BatchNorm2d, relu, flatten, linear)`);
  if (kh !== kw) throw new ShapeError(`${where}: ${conv[0]} has a ${kh}x${kw} kernel; with a readout bias only square kernels are supported`);
  const height = file.metadata.height !== undefined ? Number(file.metadata.height) : imageSize?.height;
  const width = file.metadata.width !== undefined ? Number(file.metadata.width) : imageSize?.width;
  if (!height || !width || height % kh !== 0 || width % kw !== 0) throw new ShapeError(`${where}: a ${kh}x${kw} kernel does not tile ${height}x${width} images`);
  const positions = (height / kh) * (width / kw);
  if (F !== K * positions) throw new ShapeError(`${where}: ${dense[0]} has ${F} inputs, expected ${K} x ${positions} (the flattened convolution output)`);
  const model: SequentialModel = { input: { C, H: height, W: width }, layers: [
    { type: "conv", filters: K, kernel: kh, stride: kh, padding: 0, ...(convBias ? {} : { bias: false }) },
    ...(bn ? [{ type: "batchnorm" as const, eps: 1e-5 }] : []),
    { type: "relu" }, { type: "flatten" }, { type: "dense", units: O },
  ] };
  const plan = planLayers(model.input, model.layers);
  const theta = new Float64Array(plan.size), p = C * kh * kw;
  const l0 = plan.layers[0], ld = plan.layers[plan.layers.length - 1];
  for (let f = 0; f < K; f++) {
    theta.set(t[conv[0]].values.subarray(f * p, (f + 1) * p), l0.offset + f * l0.rowLength);
    theta[l0.offset + f * l0.rowLength + p] = convBias ? t[convBias].values[f] : 0;
  }
  if (bn) [bn.weight, bn.bias, bn.mean, bn.variance].forEach((name, k) => theta.set(t[name].values, plan.layers[1].offset + k * K));
  for (let o = 0; o < O; o++) {
    theta.set(t[dense[0]].values.subarray(o * F, (o + 1) * F), ld.offset + o * ld.rowLength);
    theta[ld.offset + o * ld.rowLength + F] = t[denseBias].values[o];
  }
  return { model, theta };
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
