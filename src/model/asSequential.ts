// The one-hidden-layer CNN as a sequential model (the one-model issue): conv with stride = kernel
// (rectangular patches allowed) -> relu -> [sum over positions] -> flatten -> bias-free dense. The
// parameter layouts differ only in the readout (beta is (k K) x O or K x O; the dense layer holds one
// row [v_o ; 0] per output, its inputs channel-major: filter j, position i at j k + i), so the map
// between them is a permutation plus the dense layer's bias entries, which stay 0.
import { ShapeError } from "../errors.js";
import type { SequentialModel } from "../deep/train.js";
import { planLayers } from "../deep/sequential.js";
import type { ImageShape, ModelShape } from "./shape.js";
import { layoutOf, patchGeometry } from "./shape.js";

export interface OneHiddenAsSequential {
  model: SequentialModel;
  /** Sequential theta from one-hidden theta [W~ ; beta]. */
  toSequential(theta: Float64Array): Float64Array;
  /** One-hidden theta from sequential theta (the dense layer's bias entries are dropped). */
  fromSequential(theta: Float64Array): Float64Array;
}

export function oneHiddenAsSequential(shape: ModelShape, image: ImageShape): OneHiddenAsSequential {
  const { patchDim, patches } = patchGeometry(image);
  if (patchDim !== shape.patchDim || patches !== shape.patches) throw new ShapeError(`oneHiddenAsSequential: the image gives ${patches} patches of dim ${patchDim}, the model has ${shape.patches} of dim ${shape.patchDim}`);
  const K = shape.filters, O = shape.outputs, k = patches, L = layoutOf(shape);
  const patch: [number, number] = [image.patchHeight, image.patchWidth];
  const model: SequentialModel = {
    input: { C: image.channels, H: image.height, W: image.width },
    layers: [
      { type: "conv", filters: K, kernel: patch, stride: patch },
      { type: "relu" },
      ...(shape.readout === "sum" ? [{ type: "sum" as const }] : []),
      { type: "flatten" },
      { type: "dense", units: O, bias: false },
    ],
  };
  const plan = planLayers(model.input, model.layers);
  const dense = plan.layers[plan.layers.length - 1], F = dense.rowLength - 1;
  // where beta[r, o] sits in the dense layer: row o, input column j k + i for beta row i K + j ("dense"), j for "sum"
  const column = (r: number) => (shape.readout === "dense" ? (r % K) * k + Math.floor(r / K) : r);
  const rowsOfBeta = L.betaSize / O;
  return {
    model,
    toSequential(theta) {
      if (theta.length !== L.size) throw new ShapeError(`oneHiddenAsSequential: theta has length ${theta.length}, expected ${L.size}`);
      const out = new Float64Array(plan.size);
      out.set(theta.subarray(0, L.wSize), 0);
      for (let r = 0; r < rowsOfBeta; r++) for (let o = 0; o < O; o++) out[dense.offset + o * (F + 1) + column(r)] = theta[L.wSize + r * O + o];
      return out;
    },
    fromSequential(theta) {
      if (theta.length !== plan.size) throw new ShapeError(`oneHiddenAsSequential: theta has length ${theta.length}, expected ${plan.size}`);
      const out = new Float64Array(L.size);
      out.set(theta.subarray(0, L.wSize), 0);
      for (let r = 0; r < rowsOfBeta; r++) for (let o = 0; o < O; o++) out[L.wSize + r * O + o] = theta[dense.offset + o * (F + 1) + column(r)];
      return out;
    },
  };
}
