// The one-hidden-layer CNN as a sequential model: one model family. Its input is a sample's patch
// matrix (k x p, PatchData's own layout) seen as a one-channel k x p image, so a conv with kernel and
// stride 1 x p reads patch i as its position i, and its rows [w_j ; b_j] are W~'s rows in place:
// conv -> relu -> [sum over positions] -> flatten -> bias-free dense. The layouts differ only in the
// readout (beta is (k K) x O or K x O; the dense layer holds one row [v_o ; 0] per output, its inputs
// channel-major: filter j, position i at j k + i), so the map between them is a permutation plus the
// dense layer's bias entries, which stay 0.
import { ShapeError } from "../errors.js";
import type { SequentialModel } from "../deep/train.js";
import { planLayers } from "../deep/sequential.js";
import type { ModelShape } from "./shape.js";
import { layoutOf } from "./shape.js";

export interface OneHiddenAsSequential {
  model: SequentialModel;
  plan: ReturnType<typeof planLayers>;
  /** Index of the dense readout layer in the plan. */
  readoutLayer: number;
  /** index[i]: where one-hidden entry i sits in the sequential theta. */
  index: Int32Array;
  /** Sequential theta from one-hidden theta [W~ ; beta]. */
  toSequential(theta: ArrayLike<number>): Float64Array;
  /** One-hidden theta from sequential theta (the dense layer's bias entries are dropped). */
  fromSequential(theta: Float64Array): Float64Array;
}

export function oneHiddenAsSequential(shape: ModelShape): OneHiddenAsSequential {
  const K = shape.filters, O = shape.outputs, k = shape.patches, p = shape.patchDim, L = layoutOf(shape);
  const model: SequentialModel = {
    input: { C: 1, H: k, W: p },
    layers: [
      { type: "conv", filters: K, kernel: [1, p], stride: [1, p] },
      { type: "relu" },
      ...(shape.readout === "sum" ? [{ type: "sum" as const }] : []),
      { type: "flatten" },
      { type: "dense", units: O, bias: false },
    ],
  };
  const plan = planLayers(model.input, model.layers);
  const readoutLayer = plan.layers.length - 1, dense = plan.layers[readoutLayer], F = dense.rowLength - 1;
  // beta[r, o] sits in the dense layer's row o, input column j k + i for beta row i K + j ("dense"), j for "sum"
  const column = (r: number) => (shape.readout === "dense" ? (r % K) * k + Math.floor(r / K) : r);
  const index = new Int32Array(L.size);
  for (let i = 0; i < L.wSize; i++) index[i] = i;
  for (let r = 0; r < L.betaSize / O; r++) for (let o = 0; o < O; o++) index[L.wSize + r * O + o] = dense.offset + o * (F + 1) + column(r);
  return {
    model, plan, readoutLayer, index,
    toSequential(theta) {
      if (theta.length !== L.size) throw new ShapeError(`oneHiddenAsSequential: theta has length ${theta.length}, expected ${L.size}`);
      const out = new Float64Array(plan.size);
      for (let i = 0; i < L.size; i++) out[index[i]] = theta[i];
      return out;
    },
    fromSequential(theta) {
      if (theta.length !== plan.size) throw new ShapeError(`oneHiddenAsSequential: theta has length ${theta.length}, expected ${plan.size}`);
      const out = new Float64Array(L.size);
      for (let i = 0; i < L.size; i++) out[i] = theta[index[i]];
      return out;
    },
  };
}
