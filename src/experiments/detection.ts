// The detection experiment of check's statistical verdict (src/recover/detection.ts) on approximate
// spans: for one recipe (data set, network, fixed init and training inputs), clean models are
// trained with different SGD seeds; `calibration` of them set the cutoffs, the others measure the
// false-alarm rate, and the first `seeds` of those are changed (1, 3, 10, 30, 100 and 1% of P
// entries by outliers and by f32 bit flips of the top 24 bits; the sparse and dense backdoors) to
// measure the detection rate. The span is formed once at init: every model costs one ADMM solve.
// Node only (the data come from npm packages).
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { addTrigger, backdoorAttack, fineTuneUntil, largestEntries } from "../attack/backdoor.js";
import { bitFlips, sparseOutliers } from "../contaminate.js";
import type { DatasetName } from "../data/datasets.js";
import { DATASET_NAMES, loadAll, split, subset } from "../data/datasets.js";
import { planLayers } from "../deep/sequential.js";
import type { SequentialModel } from "../deep/train.js";
import { evaluateSequential, gradientSequential, initSequential, trainSequential } from "../deep/train.js";
import { OptionError, checkOptionNames } from "../errors.js";
import { patchesFromImages } from "../model/data.js";
import { initParams } from "../model/init.js";
import { layoutOf } from "../model/shape.js";
import type { ModelShape } from "../model/shape.js";
import { Rng } from "../random.js";
import type { ParameterGroup } from "../recover/detection.js";
import { CALIBRATION_MARGIN, calibrate, residualScores, statisticalVerdict } from "../recover/detection.js";
import { createPurifier } from "../recover/purify.js";
import { train } from "../train/train.js";
import { VERSION } from "../version.js";
import { tensorGroups } from "../files/check.js";
import { openModel } from "../io/modelSource.js";
import { modelToTensors } from "../io/modelFile.js";
import { encodeSafetensors } from "../io/safetensors.js";
import { encodeSequentialOnnx } from "../io/onnxSequential.js";
import { DEEP_LAYERS } from "./deep.js";
import { imageShapeOf } from "./realData.js";

export type DetectionModel = "one-hidden" | "multi-layer";
export const DETECTION_MODELS: readonly DetectionModel[] = ["one-hidden", "multi-layer"];

export interface DetectionOptions {
  dataset?: DatasetName;
  model?: DetectionModel;
  /** Changed models per cell (default 10). */
  seeds?: number;
  /** Clean models that set the cutoffs (default 20). */
  calibration?: number;
  /** Clean models, not used to calibrate, that measure the false-alarm rate (default 40). */
  clean?: number;
  margin?: number;
  /** A tiny recipe for tests (the numbers mean nothing). */
  quick?: boolean;
  seed?: number;
  backend?: Backend | string;
  onProgress?: (step: string, done: number, total: number) => void;
}

export interface DetectionCell {
  kind: "outliers" | "bitflips" | "backdoor-sparse" | "backdoor-dense";
  /** Entries changed (the backdoors: the mean over seeds). */
  changed: number;
  detected: number;
  seeds: number;
  rate: number;
  /** Mean share of the changed entries among the suspects (recall) and of the suspects that were changed (precision). */
  recall: number;
  precision: number;
}

export interface DetectionResult {
  dataset: DatasetName;
  model: DetectionModel;
  recipe: string;
  params: number;
  margin: number;
  calibrationModels: number;
  cutoffs: Array<{ name: string; cutoff: number }>;
  /** Clean models not used to calibrate, flagged "changed". */
  falseAlarms: number;
  cleanModels: number;
  falseAlarmRate: number;
  cells: DetectionCell[];
  seconds: number;
}

/** One recipe: how to train a clean model, fit a model in the span, and plant a backdoor. */
interface Recipe {
  describe: string;
  P: number;
  groups: ParameterGroup[];
  trainClean(seed: number): Promise<Float64Array>;
  fit(model: Float64Array): Promise<Float64Array>;
  backdoor(clean: Float64Array, kind: "sparse" | "dense", seed: number): Promise<{ params: Float64Array; changed: number }>;
  dispose(): void;
}

const range = (from: number, count: number, step = 1) => Int32Array.from({ length: count }, (_, i) => from + i * step);
/** Parameters 1..P: every entry nonzero, so the file's parameter map finds them all. */
const codes = (P: number) => Float64Array.from({ length: P }, (_, i) => i + 1);
/** The parameter groups check uses for a model file: its tensors (tensorGroups on the opened file). */
const groupsOf = (bytes: Uint8Array, format: "safetensors" | "onnx") => tensorGroups(openModel(bytes, format, "recipe", { height: 28, width: 28 }));

/** Runs the experiment; every random choice follows from `seed`. */
export async function runDetection(o: DetectionOptions = {}): Promise<DetectionResult> {
  checkOptionNames("runDetection", o, ["dataset", "model", "seeds", "calibration", "clean", "margin", "quick", "seed", "backend", "onProgress"]);
  const dataset = o.dataset ?? "mnist", model = o.model ?? "one-hidden";
  if (!DATASET_NAMES.includes(dataset)) throw new OptionError(`runDetection: unknown dataset "${dataset}" (known: ${DATASET_NAMES.join(", ")})`);
  if (!DETECTION_MODELS.includes(model)) throw new OptionError(`runDetection: unknown model "${model}" (known: ${DETECTION_MODELS.join(", ")})`);
  const quick = o.quick ?? false, seed = o.seed ?? 1;
  const seeds = o.seeds ?? (quick ? 2 : 10), nCal = o.calibration ?? (quick ? 3 : 20), nClean = o.clean ?? (quick ? 3 : 40);
  if (seeds > nClean) throw new OptionError(`runDetection: seeds (${seeds}) are changed copies of held-out clean models: at most clean (${nClean})`);
  const be = await resolveBackend(o.backend);
  const t0 = performance.now();
  const recipe = model === "one-hidden" ? await oneHiddenRecipe(be, dataset, quick, seed) : await multiLayerRecipe(be, dataset, quick, seed);
  const counts = [1, 3, 10, 30, 100, Math.round(0.01 * recipe.P)].filter((c, i, a) => a.indexOf(c) === i && c <= recipe.P);
  const total = nCal + nClean + seeds * (2 * counts.length + 2);
  let done = 0;
  /** Reports `what` at the models done so far, then counts `models` more. */
  const step = (what: string, models = 1) => { o.onProgress?.(what, done, total); done += models; };
  try {
    // calibration: clean models from SGD seeds 0 .. nCal-1; held out: nCal .. nCal+nClean-1
    const maxZ: number[][] = [];
    for (let s = 0; s < nCal; s++) {
      step(`calibration model ${s + 1}/${nCal}`);
      const c = await recipe.trainClean(s);
      maxZ.push(residualScores(c, await recipe.fit(c), recipe.groups).maxZ);
    }
    const cal = calibrate(recipe.groups.map((g) => g.name), maxZ, { margin: o.margin ?? CALIBRATION_MARGIN, subspace: "linearized", maxIter: 150, version: VERSION, files: {} });
    const judge = async (c: Float64Array) => {
      const scores = residualScores(c, await recipe.fit(c), recipe.groups);
      return statisticalVerdict(scores.z, scores.maxZ, recipe.groups, cal).suspects;
    };
    const held: Float64Array[] = [];
    let falseAlarms = 0;
    for (let s = 0; s < nClean; s++) {
      step(`held-out clean model ${s + 1}/${nClean}`);
      const c = await recipe.trainClean(nCal + s);
      if (s < seeds) held.push(c);
      if ((await judge(c)).length) falseAlarms++;
    }
    const cells: DetectionCell[] = [];
    const cell = async (kind: DetectionCell["kind"], make: (clean: Float64Array, k: number) => Promise<{ params: Float64Array; changed: Int32Array }>) => {
      let detected = 0, changed = 0, recall = 0, precision = 0;
      for (let k = 0; k < seeds; k++) {
        const m = await make(held[k], k);
        const suspects = await judge(m.params);
        const truth = new Set(m.changed);
        const hits = suspects.filter((i) => truth.has(i)).length;
        if (suspects.length) detected++;
        changed += m.changed.length;
        recall += m.changed.length ? hits / m.changed.length : 0;
        precision += suspects.length ? hits / suspects.length : 1;
      }
      cells.push({ kind, changed: changed / seeds, detected, seeds, rate: detected / seeds, recall: recall / seeds, precision: precision / seeds });
    };
    const changedOf = (a: Float64Array, b: Float64Array) => Int32Array.from([...a.keys()].filter((i) => !Object.is(a[i], b[i])));
    for (const count of counts) {
      step(`outliers, ${count} entries`, seeds);
      await cell("outliers", async (c, k) => { const r = sparseOutliers(c, { rho: count / recipe.P, scale: 10, seed: seed * 1000 + k }); return { params: r.params, changed: changedOf(r.params, c) }; });
      step(`bit flips (top 24 bits), ${count} entries`, seeds);
      await cell("bitflips", async (c, k) => { const r = bitFlips(c, { rate: count / recipe.P, bits: "top24", seed: seed * 2000 + k }); return { params: r.params, changed: changedOf(r.params, c) }; });
    }
    for (const kind of ["sparse", "dense"] as const) {
      step(`backdoor (${kind})`, seeds);
      await cell(`backdoor-${kind}`, async (c, k) => { const r = await recipe.backdoor(c, kind, seed * 3000 + k); return { params: r.params, changed: changedOf(r.params, c) }; });
    }
    o.onProgress?.("done", total, total);
    return {
      dataset, model, recipe: recipe.describe, params: recipe.P, margin: cal.margin, calibrationModels: nCal,
      cutoffs: cal.groups.map((g) => ({ name: g.name, cutoff: g.cutoff })),
      falseAlarms, cleanModels: nClean, falseAlarmRate: falseAlarms / nClean, cells, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    recipe.dispose();
  }
}

/** The attacker's set (the last 1,000 images of the pool) with triggered copies of a fifth, labelled target. */
function attackerSet(pool: ReturnType<typeof split>["train"], target: number) {
  const nA = Math.min(1000, pool.samples), attack = subset(pool, range(pool.samples - nA, nA));
  const np = Math.round(nA / 5), image = { channels: 1, height: 28, width: 28 };
  return { attack, np, triggered: addTrigger(attack.images, nA, image), target };
}

/** The thin real-data regime of the one-hidden-layer CNN (n 250, K 128, 7x7 patches; quick: n 40, K 8). */
async function oneHiddenRecipe(be: Backend, dataset: DatasetName, quick: boolean, seed: number): Promise<Recipe> {
  const { train: pool } = split(dataset, { seed, train: loadAll(dataset).samples - 2000, test: 2000 });
  const n = quick ? 40 : 250, K = quick ? 8 : 128, epochs = quick ? 10 : 60, image = imageShapeOf(7);
  const set = subset(pool, range(0, n));
  const data = patchesFromImages(be, set.images, n, image);
  const shape: ModelShape = { patchDim: data.patchDim, patches: data.patches, filters: K, outputs: 10, readout: "dense" };
  const init = initParams(shape, { seed: seed + 1 });
  const purifier = await createPurifier({ shape, init, data, subspace: "linearized", backend: be, admm: { maxIter: 150 } });
  const L = layoutOf(shape);
  // the tensors a file holds, found as check finds them (conv.weight, conv.bias, fc.weight)
  const t = modelToTensors({ shape, image }, codes(L.size));
  const groups = groupsOf(encodeSafetensors(t.tensors, t.metadata), "safetensors");
  const target = new Rng(seed ^ 0x9e3779b9).int(10);
  const atk = attackerSet(pool, target);
  const attackData = patchesFromImages(be, atk.attack.images, atk.attack.samples, image), attackTriggered = patchesFromImages(be, atk.triggered, atk.attack.samples, image);
  return {
    describe: `one-hidden-layer CNN, n ${n}, K ${K}, 7x7 patches, ${epochs} epochs SGD (momentum 0.9, lr 0.05, batch 32) from one init; linearized span at init, 150 ADMM iterations`,
    P: L.size, groups,
    trainClean: async (s) => (await train(shape, init, data, set.labels, { epochs, lr: 0.05, momentum: 0.9, batchSize: 32, seed: seed * 7919 + s, backend: be })).params,
    fit: async (c) => (await purifier.purify(c, {})).params,
    backdoor: async (c, kind, s) => {
      const r = await backdoorAttack(shape, c, attackData, atk.attack.labels, attackTriggered, { kind, target, fraction: 0.02, lr: 0.01, seed: s, backend: be });
      return { params: r.params, changed: r.changed.length };
    },
    dispose: () => purifier.dispose(),
  };
}

/** The multi-layer experiment's network (conv 16@4x4/2, conv 32@3x3/2, dense 10) on n 100 images (quick: 20). */
async function multiLayerRecipe(be: Backend, dataset: DatasetName, quick: boolean, seed: number): Promise<Recipe> {
  const { train: pool } = split(dataset, { seed, train: loadAll(dataset).samples - 2000, test: 2000 });
  const n = quick ? 20 : 100, epochs = quick ? 5 : 30;
  const set = subset(pool, range(0, n));
  const model: SequentialModel = { input: { C: 1, H: 28, W: 28 }, layers: DEEP_LAYERS };
  const plan = planLayers(model.input, model.layers);
  const init = initSequential(model, seed + 1);
  const purifier = await createPurifier({ model, init, data: { samples: n, values: set.images }, subspace: "linearized", backend: be, admm: { maxIter: 150 } });
  // the tensors an ONNX export holds (l<i>.weight, l<i>.bias), found as check finds them
  const groups = groupsOf(encodeSequentialOnnx(model, codes(plan.size), { dtype: "f64" }), "onnx");
  const target = new Rng(seed ^ 0x9e3779b9).int(10);
  const atk = attackerSet(pool, target), nA = atk.attack.samples;
  const poisonedX = new Float64Array((nA + atk.np) * 784), poisonedY = new Float64Array(nA + atk.np);
  poisonedX.set(atk.attack.images); poisonedX.set(atk.triggered.subarray(0, atk.np * 784), nA * 784);
  poisonedY.set(atk.attack.labels); poisonedY.fill(target, nA);
  const triggeredX = atk.triggered.subarray(0, atk.np * 784), targetY = new Float64Array(atk.np).fill(target);
  return {
    describe: `multi-layer CNN (${DEEP_LAYERS.map((l) => l.type).join(" ")}), n ${n}, ${epochs} epochs SGD (lr 0.02, batch 32) from one init; linearized span at init, 150 ADMM iterations`,
    P: plan.size, groups,
    trainClean: (s) => trainSequential(model, init, set.images, set.labels, { epochs, lr: 0.02, batchSize: 32, seed: seed * 7919 + s, backend: be }),
    fit: async (c) => (await purifier.purify(c)).params,
    backdoor: async (c, kind, s) => {
      const mask = kind === "sparse" ? largestEntries(await gradientSequential(model, c, poisonedX, poisonedY, be), 0.02).mask : undefined;
      const r = await fineTuneUntil(c, 0.95, 20,
        (params, e) => trainSequential(model, params, poisonedX, poisonedY, { epochs: 1, lr: 0.01, batchSize: 32, seed: s + e, updateMask: mask, backend: be }),
        (params) => evaluateSequential(model, params, triggeredX, targetY, be));
      return { params: r.params, changed: mask ? mask.reduce((a, v) => a + v, 0) : c.length };
    },
    dispose: () => purifier.dispose(),
  };
}
