// The multi-layer experiment: a two-conv-layer + dense CNN trained on MNIST / Fashion-MNIST, the
// real-data scenarios (sparse outliers, f32 bit flips, sparse backdoor), and both recovery methods
// of DESIGN.md section 4 — (a) layerwise patch spans, (b) the global linearized span, and (b)
// re-linearized (with the span at the first-pass model) — beside the
// naive baselines. Time and peak WebAssembly memory per method. Node only (data from npm packages).
import { spanFit } from "../recover/report.js";
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { backdoorAttack } from "../attack/backdoor.js";
import { bitFlips, sparseOutliers } from "../contaminate.js";
import type { DatasetName } from "../data/datasets.js";
import type { LayerSpec } from "../deep/sequential.js";
import { planLayers } from "../deep/sequential.js";
import { reluFlipRate } from "../deep/patterns.js";
import type { SequentialModel } from "../deep/train.js";
import { initSequential } from "../deep/train.js";
import { checkOptionNames } from "../errors.js";
import { createPurifier, purify } from "../recover/purify.js";
import { bestBaseline } from "../recover/baselines.js";
import { train } from "../train/train.js";
import type { ScenarioName } from "./realData.js";
import { attackerImages, experimentSplit, samplesOf, testScores } from "./setup.js";

export type DeepMethod = "layerwise" | "linearized" | "relinearized";

export interface DeepScenario {
  name: ScenarioName;
  level: number;
  method: DeepMethod;
  accContaminated: number;
  accPurified: number;
  /** Best of: reset to init, zero entries beyond c robust stds (best c in hindsight), clip to init's range. */
  accBaseline: number;
  asrBefore?: number;
  asrAfter?: number;
  benignFraction?: number;
  seconds: number;
  /** Peak WebAssembly memory while purifying (bytes). */
  peakBytes: number;
  /** The share of the model's change the span leaves unexplained (spanFit, no clean model needed). */
  unexplained: number;
}

export interface DeepResult {
  dataset: DatasetName;
  quick: boolean;
  regimes: Array<{
    /** K: the first conv layer's filters (layers lists them all). */
    n: number; K: number; params: number; ratio: number; accClean: number; accInit: number;
    /** Fraction of ReLU inputs (all layers, training images) whose sign differs between init and clean. */
    flipRate: number;
    spanResidual: number; ntkSeconds: number;
    layers: string; layerSpans: Array<{ layer: number; spanDim: number; rowLength: number; covers: boolean }>;
    scenarios: DeepScenario[];
  }>;
  seconds: number;
}

/** 28x28 -> conv 16@4x4 stride 2 (13x13) -> ReLU -> conv 32@3x3 stride 2 (6x6) -> ReLU -> dense 10. */
export const DEEP_LAYERS: LayerSpec[] = [
  { type: "conv", filters: 16, kernel: 4, stride: 2 }, { type: "relu" },
  { type: "conv", filters: 32, kernel: 3, stride: 2 }, { type: "relu" },
  { type: "flatten" }, { type: "dense", units: 10 },
];

export interface DeepOptions {
  dataset?: DatasetName;
  quick?: boolean;
  seed?: number;
  backend?: Backend | string;
  /** Training samples (default 100 quick, 200 full): the NTK is (10 n)^2. */
  samples?: number;
  epochs?: number;
  test?: number;
  onProgress?: (step: string, done: number, total: number) => void;
}

/** Runs the experiment (one regime: n samples); every random choice follows from seed. */
export async function runDeep(o: DeepOptions = {}): Promise<DeepResult> {
  checkOptionNames("runDeep", o, ["dataset", "quick", "seed", "backend", "samples", "epochs", "test", "onProgress"]);
  const dataset = o.dataset ?? "mnist", quick = o.quick ?? false, seed = o.seed ?? 1;
  const { pool, test, target } = experimentSplit("runDeep", dataset, seed, o.test ?? 2000);
  const be = await resolveBackend(o.backend);
  const t0 = performance.now();
  const n = o.samples ?? (quick ? 100 : 200);
  const set = samplesOf(pool, 0, n), data = { samples: n, values: set.images };
  const model: SequentialModel = { input: { C: 1, H: 28, W: 28 }, layers: DEEP_LAYERS };
  const plan = planLayers(model.input, model.layers);
  const levels = { outliers: quick ? [0.01, 0.05] : [0.01, 0.05, 0.1], flips: quick ? [1e-3] : [1e-4, 1e-3] };
  const steps = 3 + levels.outliers.length + levels.flips.length + 1;
  let done = 0;
  const step = (what: string) => o.onProgress?.(what, done++, steps);

  step("training");
  const init = initSequential(model, seed + 1);
  const clean = (await train(model, init, data, set.labels, { epochs: o.epochs ?? 30, lr: 0.02, batchSize: 32, seed: seed + 2, backend: be })).params;
  const { acc, asr } = testScores(be, model, test, target);
  const accClean = await acc(clean), accInit = await acc(init);
  const flipRate = reluFlipRate(be, plan, set.images, n, init, clean);

  step("forming the NTK (composed per layer)");
  be.resetPeak();
  let t1 = performance.now();
  // prepared for the re-linearized span, so its NTK at init is kept for the union; it runs linearized too
  const purifier = await createPurifier({ model, init, data, subspace: "relinearized", backend: be, admm: { maxIter: 150 } });
  const ntkSeconds = (performance.now() - t1) / 1000;
  const ntkPeak = be.peakBytes();
  // the clean update's part outside the span, through the factored Gram
  const spanResidual = purifier.spanResidual(clean);

  const scenarios: DeepScenario[] = [];
  let layerSpans: DeepResult["regimes"][0]["layerSpans"] = [];
  const record = async (name: ScenarioName, level: number, c: Float64Array, extra: Partial<DeepScenario> = {}) => {
    const accContaminated = await acc(c), accBaseline = (await bestBaseline(model, c, init, acc)).best;
    for (const method of ["layerwise", "linearized", "relinearized"] as const) {
      be.resetPeak();
      t1 = performance.now();
      const r = method === "layerwise" ? await purify(c, { model, init, data, subspace: method, backend: be }) : await purifier.purify(c, { subspace: method });
      if (method === "layerwise") layerSpans = r.report.layers!.map((l) => ({ layer: l.layer, spanDim: l.spanDim, rowLength: plan.layers[l.layer].rowLength, covers: l.covers }));
      const row: DeepScenario = {
        name, level, method, accContaminated, accPurified: await acc(r.params), accBaseline, ...extra,
        seconds: (performance.now() - t1) / 1000, peakBytes: Math.max(be.peakBytes(), method === "linearized" ? ntkPeak : 0),
        unexplained: spanFit(c, init, r.params).unexplained,
      };
      if (extra.asrBefore !== undefined) row.asrAfter = await asr(r.params);
      scenarios.push(row);
    }
  };
  for (const rho of levels.outliers) { step(`outliers rho=${rho}`); await record("outliers", rho, sparseOutliers(clean, { rho, scale: 10, seed: seed + 10 }).params); }
  for (const rate of levels.flips) { step(`bit flips ${rate}`); await record("bitflips", rate, bitFlips(clean, { rate, seed: seed + 20 }).params); }
  step("backdoor (sparse)");
  const attacker = attackerImages(pool), nA = attacker.set.samples;
  const atk = await backdoorAttack(model, clean, { samples: nA, values: attacker.set.images }, attacker.set.labels, { samples: nA, values: attacker.triggered },
    { kind: "sparse", target, fraction: 0.02, lr: 0.01, seed: seed + 40, backend: be });
  await record("backdoor-sparse", atk.changed.length / plan.size, atk.params, { asrBefore: await asr(atk.params), benignFraction: 1 });
  purifier.dispose();
  o.onProgress?.("done", steps, steps);
  return {
    dataset, quick, seconds: (performance.now() - t0) / 1000,
    regimes: [{ n, K: (DEEP_LAYERS[0] as { filters: number }).filters, flipRate, params: plan.size, ratio: (n * plan.output.C) / plan.size, accClean, accInit, spanResidual, ntkSeconds, layers: describe(DEEP_LAYERS), layerSpans, scenarios }],
  };
}

function describe(layers: LayerSpec[]): string {
  return layers.map((l) => (l.type === "conv" ? `conv${l.filters}@${l.kernel}/${l.stride ?? 1}` : l.type === "dense" ? `dense${l.units}` : l.type)).join(" ");
}

