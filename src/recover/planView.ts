// The model a purifier works on, seen as the plan its spans are solved on (one model family): the
// one-hidden-layer CNN through its parameter permutation (src/model/asSequential.ts), a sequential
// model as it is.
import type { SequentialModel } from "../deep/train.js";
import { planLayers } from "../deep/sequential.js";
import { oneHiddenAsSequential } from "../model/asSequential.js";
import type { ModelShape } from "../model/shape.js";
import { layoutOf } from "../model/shape.js";

export interface PlanView {
  plan: ReturnType<typeof planLayers>;
  /** The layers training left at init: their rows of the linearized spans are 0. */
  frozen: number[];
  /** Parameters from the caller's layout to the plan's and back (the identity for a sequential model). */
  toPlan(theta: ArrayLike<number>): Float64Array;
  fromPlan(theta: Float64Array): Float64Array;
  /** index[i]: where the caller's entry i sits in the plan's layout. */
  index: Int32Array;
  /**
   * The linearized spans' certificate blocks in the caller's layout: each filter row, and the
   * readout as one block (one-hidden; its rows are short) or each layer row (sequential).
   */
  blocks: Array<[number, number]>;
}

/** The plan view of the one-hidden-layer model (shape; readout frozen unless trainedReadout) or of a sequential model. */
export function planOf(o: { shape?: ModelShape; model?: SequentialModel; trainedReadout?: boolean; frozen?: number[] }): PlanView {
  if (o.shape) {
    const m = oneHiddenAsSequential(o.shape), L = layoutOf(o.shape), trained = o.trainedReadout !== false;
    const blocks = Array.from({ length: o.shape.filters }, (_, j) => [j * L.row, L.row] as [number, number]);
    if (trained) blocks.push([L.wSize, L.betaSize]);
    return { plan: m.plan, frozen: trained ? [] : [m.readoutLayer], toPlan: m.toSequential, fromPlan: m.fromSequential, index: m.index, blocks };
  }
  const plan = planLayers(o.model!.input, o.model!.layers), frozen = o.frozen ?? [];
  return {
    plan, frozen, toPlan: (t) => Float64Array.from(t), fromPlan: (t) => t, index: Int32Array.from({ length: plan.size }, (_, i) => i),
    blocks: plan.layers.flatMap((l, i) => (frozen.includes(i) ? [] : Array.from({ length: l.rows }, (_, r) => [l.offset + r * l.rowLength, l.rowLength] as [number, number]))),
  };
}
