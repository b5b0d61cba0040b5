// ONNX in and out for the one-hidden-layer CNN: the sequential codec (src/io/onnxSequential.ts) on
// the network as PyTorch writes it, conv over the images (kernel = stride = patch, no padding) ->
// Relu -> [ReduceSum over positions, or a global average pooling] -> Flatten -> Gemm without bias.
// Reading takes every spelling the sequential reader takes (Reshape / view for Flatten, MatMul (+ a
// zero Add) for Gemm, GlobalAveragePool folded into the readout as 1/k) and recognizes that network;
// anything else is refused with what differs.
import type { ModelSpec } from "./modelFile.js";
import { imageModelOf, oneHiddenOf } from "./modelFile.js";
import { decodeSequentialOnnx, encodeSequentialOnnx } from "./onnxSequential.js";

/**
 * Encodes the model as an ONNX file. dtype "f32" (default) is what runtimes execute; "f64" keeps
 * every bit (a lossless archive; onnxruntime's CPU Conv has no double kernel).
 */
export function encodeOnnx(spec: ModelSpec, theta: Float64Array, options: { dtype?: "f32" | "f64" } = {}): Uint8Array {
  const { model, theta: t } = imageModelOf(spec, theta), last = model.layers.length - 1;
  // PyTorch's names (those modelToTensors writes too)
  const names = (i: number, part: string) => (i === 0 ? `conv.${part}` : i === last ? `fc.${part}` : part === "axes" ? "sum_axes" : undefined);
  return encodeSequentialOnnx(model, t, { ...options, names });
}

/** Reads a model from ONNX bytes; throws ValueError naming an unsupported op, or what differs from the one-hidden-layer CNN. */
export function decodeOnnx(bytes: Uint8Array, where = "onnx", override?: Map<string, Float64Array>): { spec: ModelSpec; theta: Float64Array } {
  const { model, theta } = decodeSequentialOnnx(bytes, where, override);
  return oneHiddenOf(model, theta, where);
}
