// A model of the one family seen as its plan, the layout every trainer, attack and span works in:
// the one-hidden-layer CNN through its parameter permutation (src/model/asSequential.ts), its inputs
// the samples' patch matrices; a sequential model as it is, its inputs images.
import { OptionError, ShapeError, checkFinite, shown } from "../errors.js";
import type { SequentialModel } from "../deep/train.js";
import { planLayers } from "../deep/sequential.js";
import { oneHiddenAsSequential } from "./asSequential.js";
import type { Backend } from "../backend/types.js";
import type { PatchData } from "./data.js";
import { checkPatchData, patchesFromImages } from "./data.js";
import type { ImageShape, ModelShape } from "./shape.js";
import { layoutOf } from "./shape.js";

/** A CNN of the one family: the one-hidden-layer CNN's shape or a sequential model. */
export type Network = ModelShape | SequentialModel;

/** n inputs in the plan's input layout: patch data for the one-hidden-layer CNN, images for a sequential one. */
export interface NetworkInputs { readonly samples: number; readonly values: Float64Array }

export const isSequential = (net: Network): net is SequentialModel => "layers" in net;

/**
 * The plan view of a network with the layers training left at init: a sequential model's `frozen`
 * (each a layer with parameters), the one-hidden CNN's readout when `trainedReadout` is false. Given
 * `where` (a boundary's name, prefixed to messages; "" for none) each option is checked once, refused
 * on the other family; `readout` names the one-hidden option as the caller's users know it.
 */
export function viewOf(net: Network, trained: { trainedReadout?: boolean; frozen?: number[] } = {}, where?: string, readout = "trainedReadout"): PlanView {
  const seq = isSequential(net), at = where ? `${where}: ` : "", { trainedReadout: readoutTrained, frozen } = trained;
  if (where !== undefined && readoutTrained !== undefined && typeof readoutTrained !== "boolean") throw new OptionError(`${at}${readout} must be true or false, got ${shown(readoutTrained)}`);
  if (where !== undefined && frozen !== undefined && !(Array.isArray(frozen) && frozen.every(Number.isInteger))) throw new OptionError(`${at}frozen must be a list of layer indices, got ${shown(frozen)}`);
  if (where !== undefined && (seq ? readoutTrained !== undefined : frozen?.length)) {
    throw new OptionError(`${at}${seq ? `${readout} is for the one-hidden-layer model; a sequential model's untrained layers are frozen` : `frozen layers are for sequential models; the one-hidden-layer model's untrained readout is ${readout}`}`);
  }
  const view = seq ? planOf({ model: net, frozen: trained.frozen }) : planOf({ shape: net, trainedReadout: trained.trainedReadout });
  for (const f of where !== undefined ? view.frozen : []) {
    if (!view.plan.layers[f]?.params) throw new OptionError(`${at}frozen ${f} is not a layer with parameters (layers: ${view.plan.layers.map((l, i) => `${i} ${l.spec.type}`).join(", ")})`);
  }
  return view;
}

/** A network's inputs from n images: their patches (the one-hidden-layer CNN, `patches` its image shape) or the images themselves. */
export function inputsOf(be: Backend, images: Float64Array, n: number, patches?: ImageShape): NetworkInputs {
  return patches ? patchesFromImages(be, images, n, patches) : { samples: n, values: images };
}

/** Checks n inputs against the network once (the one-hidden CNN's patch geometry, a sequential model's image size; finite). */
export function checkInputs(where: string, net: Network, data: NetworkInputs, name = "data"): void {
  if (!isSequential(net)) {
    const d = data as PatchData;
    checkPatchData(where, d);
    if (d.patches !== net.patches || d.patchDim !== net.patchDim) throw new ShapeError(`${where}: ${name} has ${d.patches} patches of dim ${d.patchDim}, the model expects ${net.patches} of dim ${net.patchDim}`);
    return;
  }
  const d = net.input, n = data.samples;
  if (!Number.isInteger(n) || n < 1 || data.values?.length !== n * d.C * d.H * d.W) throw new ShapeError(`${where}: ${name} has ${data.values?.length} values for ${n} samples, expected ${n} images of ${d.C}x${d.H}x${d.W}`);
  checkFinite(where, name, data.values);
}

export interface PlanView {
  /** The network as a sequential model (the one-hidden-layer CNN's: src/model/asSequential.ts) and its plan. */
  model: SequentialModel;
  plan: ReturnType<typeof planLayers>;
  /** The layers training left at init: their rows of the linearized spans are 0. */
  frozen: number[];
  /** Parameters from the caller's layout to the plan's and back (the identity for a sequential model). */
  toPlan(theta: ArrayLike<number>): Float64Array;
  fromPlan(theta: Float64Array): Float64Array;
  /** index[i]: where the caller's entry i sits in the plan's layout. */
  index: Int32Array;
  /** Its inverse: caller[j], the caller's entry at plan entry j (-1: the plan's own, a bias-free readout's bias entries). */
  caller: Int32Array;
  /**
   * The linearized spans' certificate blocks in the caller's layout: each filter row, and the
   * readout as one block (one-hidden; its rows are short) or each layer row (sequential).
   */
  blocks: Array<[number, number]>;
}

/** The plan view of the one-hidden-layer model (shape; readout frozen unless trainedReadout) or of a sequential model. */
function planOf(o: { shape?: ModelShape; model?: SequentialModel; trainedReadout?: boolean; frozen?: number[] }): PlanView {
  if (o.shape) {
    const m = oneHiddenAsSequential(o.shape), L = layoutOf(o.shape), trained = o.trainedReadout !== false;
    const blocks = Array.from({ length: o.shape.filters }, (_, j) => [j * L.row, L.row] as [number, number]);
    if (trained) blocks.push([L.wSize, L.betaSize]);
    const caller = new Int32Array(m.plan.size).fill(-1);
    m.index.forEach((j, i) => { caller[j] = i; });
    return { model: m.model, plan: m.plan, frozen: trained ? [] : [m.readoutLayer], toPlan: m.toSequential, fromPlan: m.fromSequential, index: m.index, caller, blocks };
  }
  const plan = planLayers(o.model!.input, o.model!.layers), frozen = o.frozen ?? [], identity = Int32Array.from({ length: plan.size }, (_, i) => i);
  return {
    model: o.model!, plan, frozen, toPlan: (t) => Float64Array.from(t), fromPlan: (t) => t, index: identity, caller: identity,
    blocks: plan.layers.flatMap((l, i) => (frozen.includes(i) ? [] : Array.from({ length: l.rows }, (_, r) => [l.offset + r * l.rowLength, l.rowLength] as [number, number]))),
  };
}
