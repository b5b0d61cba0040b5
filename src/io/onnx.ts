// ONNX in and out for the one-hidden-layer CNN: the sequential codec (src/io/onnxSequential.ts) on
// the network as PyTorch writes it, conv over the images (kernel = stride = patch, no padding) ->
// Relu -> [ReduceSum over positions, or a global average pooling] -> Flatten -> Gemm without bias.
// Reading takes every spelling the sequential reader takes (Reshape / view for Flatten, MatMul (+ a
// zero Add) for Gemm, GlobalAveragePool folded into the readout as 1/k) and recognizes that network;
// anything else is refused with what differs.
import { ValueError } from "../errors.js";
import type { LayerSpec } from "../deep/sequential.js";
import { planLayers } from "../deep/sequential.js";
import { pair } from "../deep/layers/linear.js";
import { oneHiddenAsSequential } from "../model/asSequential.js";
import type { ModelShape } from "../model/shape.js";
import { layoutOf, patchGeometry } from "../model/shape.js";
import type { ModelSpec } from "./modelFile.js";
import { decodeSequentialOnnx, encodeSequentialOnnx } from "./onnxSequential.js";

/**
 * Encodes the model as an ONNX file. dtype "f32" (default) is what runtimes execute; "f64" keeps
 * every bit (a lossless archive; onnxruntime's CPU Conv has no double kernel).
 */
export function encodeOnnx(spec: ModelSpec, theta: Float64Array, options: { dtype?: "f32" | "f64" } = {}): Uint8Array {
  const { shape, image } = spec, patch: [number, number] = [image.patchHeight, image.patchWidth];
  patchGeometry(image);
  const map = oneHiddenAsSequential(shape);
  const layers: LayerSpec[] = [{ type: "conv", filters: shape.filters, kernel: patch, stride: patch }, ...map.model.layers.slice(1)];
  // PyTorch's names (those modelToTensors writes too)
  const names = (i: number, part: string) => (i === 0 ? `conv.${part}` : i === layers.length - 1 ? `fc.${part}` : part === "axes" ? "sum_axes" : undefined);
  return encodeSequentialOnnx({ input: { C: image.channels, H: image.height, W: image.width }, layers }, map.toSequential(theta), { ...options, names });
}

/** Reads a model from ONNX bytes; throws ValueError naming an unsupported op, or what differs from the one-hidden-layer CNN. */
export function decodeOnnx(bytes: Uint8Array, where = "onnx", override?: Map<string, Float64Array>): { spec: ModelSpec; theta: Float64Array } {
  const { model, theta } = decodeSequentialOnnx(bytes, where, override);
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
  const image = { channels: model.input.C, height: model.input.H, width: model.input.W, patchHeight: ph, patchWidth: pw };
  const shape: ModelShape = { ...patchGeometry(image), filters: conv.filters, outputs: (dense as { units: number }).units, readout: pool ? "sum" : "dense" };
  const readout = plan.layers[plan.layers.length - 1];
  for (let o = 0; o < readout.rows; o++) {
    if (theta[readout.offset + (o + 1) * readout.rowLength - 1] !== 0) fail("the Gemm/MatMul readout has a nonzero bias: a readout bias is not supported by the one-hidden-layer model");
  }
  // the image plan's parameters are laid out as the one-hidden plan's (rows of W~ in place, the readout's rows)
  const out = oneHiddenAsSequential(shape).fromSequential(theta);
  // a global average is the sum / k: 1/k folded into the readout, so the function is unchanged
  if (pool?.type === "avgpool") for (let i = layoutOf(shape).wSize; i < out.length; i++) out[i] /= shape.patches;
  return { spec: { shape, image }, theta: out };
}
