// The synthetic teacher-student experiment of the recovery issue: patch vectors drawn directly,
// a student trained by SGD far enough to flip activation patterns, sparse contamination, purify.
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { bitFlips, sparseOutliers } from "../contaminate.js";
import { OptionError, ValueError, checkInt, checkOptionNames } from "../errors.js";
import type { PatchData } from "../model/data.js";
import { initParams } from "../model/init.js";
import { reluFlipRate } from "../deep/patterns.js";
import { oneHiddenAsSequential } from "../model/asSequential.js";
import type { ModelShape } from "../model/shape.js";
import { Rng } from "../random.js";
import type { PurifyReport, SubspaceName } from "../recover/purify.js";
import { purify } from "../recover/purify.js";
import type { Arithmetic, SolverName } from "../recover/solve.js";
import { recoveryErrors } from "../recover/report.js";
import { evaluate, train } from "../train/train.js";

export interface SyntheticOptions {
  p?: number;
  patches?: number;
  samples?: number;
  filters?: number;
  rho?: number;
  seed?: number;
  backend?: Backend | string;
  subspace?: SubspaceName;
  solver?: SolverName;
  /** ADMM arithmetic (see Arithmetic; default auto). */
  arithmetic?: Arithmetic;
  /** "outliers" (default) or "bitflips" (f32 exponent flips: NaN/Inf and huge values). */
  contamination?: "outliers" | "bitflips";
  /** Outlier size in weight stds (default 10). */
  scale?: number;
  epochs?: number;
  lr?: number;
  momentum?: number;
  batchSize?: number;
  /** Train the readout beta too (default false: the theory's fixed readout). */
  trainReadout?: boolean;
}

export interface SyntheticResult {
  shape: ModelShape;
  data: PatchData;
  init: Float64Array;
  trained: Float64Array;
  contaminated: Float64Array;
  recovered: Float64Array;
  report: PurifyReport;
  /** The summary scripts rely on (the --json output). */
  summary: SyntheticSummary;
}

export interface SyntheticSummary {
  backend: string;
  subspace: SubspaceName;
  solver: SolverName;
  contamination: "outliers" | "bitflips";
  rho: number;
  seed: number;
  p: number;
  patches: number;
  samples: number;
  filters: number;
  ratio: number;
  weightRelError: number;
  biasRelError: number;
  betaRelError: number;
  contaminatedWeightRelError: number;
  flipRate: number;
  trainLossReduction: number;
  iterations: number;
  seconds: number;
  recovered: boolean;
  precision: number;
  recall: number;
  erasures: number;
  grossOutliers: number;
}

/** A trained teacher-student instance, before contamination. */
export interface TrainedInstance {
  shape: ModelShape;
  data: PatchData;
  init: Float64Array;
  trained: Float64Array;
  flipRate: number;
  lossReduction: number;
}

/** Draws data and a teacher, trains the student from a seeded init (the part shared across rho). */
export async function trainInstance(o: SyntheticOptions, be: Backend): Promise<TrainedInstance> {
  const p = o.p ?? 256, k = o.patches ?? 4, n = o.samples ?? 8, K = o.filters ?? 8, seed = o.seed ?? 1;
  for (const [name, v] of [["p", p], ["patches", k], ["samples", n], ["filters", K]] as const) checkInt("synthetic", name, v);
  const shape: ModelShape = { patchDim: p, patches: k, filters: K, outputs: 1, readout: "sum" };
  const rng = new Rng(seed);
  const data: PatchData = { samples: n, patches: k, patchDim: p, values: rng.normals(n * k * p) };
  const teacher = initParams(shape, { seed: seed * 3 + 1, biasStd: 0.5 });
  const targets = (await evaluate(shape, teacher, data, new Float64Array(n), { backend: be })).outputs;
  const init = initParams(shape, { seed: seed * 3 + 2, biasStd: 0.5 });
  const tr = await train(shape, init, data, targets, {
    epochs: o.epochs ?? 300, lr: o.lr ?? 0.02, momentum: o.momentum ?? 0.9, batchSize: o.batchSize ?? Math.max(1, n >> 1),
    seed, backend: be, trainReadout: o.trainReadout ?? false,
  });
  const { plan, toSequential: seq } = oneHiddenAsSequential(shape);
  return {
    shape, data, init, trained: tr.params,
    flipRate: reluFlipRate(be, plan, data.values, n, seq(init), seq(tr.params)),
    lossReduction: tr.initialLoss / Math.max(tr.finalLoss, 1e-300),
  };
}

/** Contaminates a trained instance and purifies it. */
export async function contaminateAndPurify(inst: TrainedInstance, o: SyntheticOptions, be: Backend): Promise<SyntheticResult> {
  const rho = o.rho ?? 0.2, seed = o.seed ?? 1;
  if (!(rho >= 0 && rho < 1)) throw new ValueError(`synthetic: rho must be in [0, 1), got ${rho}`);
  const contamination = o.contamination ?? "outliers";
  if (contamination !== "outliers" && contamination !== "bitflips") throw new OptionError(`synthetic: unknown contamination "${contamination}" (known: outliers, bitflips)`);
  const { shape, data, init, trained } = inst;
  const c = contamination === "outliers"
    ? sparseOutliers(trained, { rho, scale: o.scale ?? 10, seed: seed * 3 + 3 })
    : bitFlips(trained, { rate: rho, bits: "exponent", seed: seed * 3 + 3 });
  const { params: recovered, report } = await purify(c.params, {
    shape, init, data, subspace: o.subspace ?? "patch", solver: o.solver ?? "admm", arithmetic: o.arithmetic, backend: be, clean: trained,
    trainedReadout: o.trainReadout ?? false,
  });
  const cont = recoveryErrors(c.params, trained, shape);
  const errors = report.errors!;
  const summary: SyntheticSummary = {
    backend: be.name, subspace: report.subspace, solver: report.solver, contamination, rho, seed,
    p: shape.patchDim, patches: shape.patches, samples: data.samples, filters: shape.filters,
    ratio: (data.samples * shape.patches) / (shape.patchDim + 1),
    weightRelError: errors.weightRelError, biasRelError: errors.biasRelError, betaRelError: errors.betaRelError,
    contaminatedWeightRelError: cont.weightRelError,
    flipRate: inst.flipRate, trainLossReduction: inst.lossReduction,
    iterations: report.iterations, seconds: report.seconds, recovered: report.recovered,
    precision: report.precision ?? NaN, recall: report.recall ?? NaN,
    erasures: report.erasures.length, grossOutliers: report.grossOutliers.length,
  };
  return { shape, data, init, trained, contaminated: c.params, recovered, report, summary };
}

/** Runs one synthetic instance end to end. Deterministic for a given seed and backend. */
export async function runSynthetic(o: SyntheticOptions = {}): Promise<SyntheticResult> {
  checkOptionNames("runSynthetic", o, ["p", "patches", "samples", "filters", "rho", "seed", "backend", "subspace", "solver", "arithmetic", "contamination", "scale", "epochs", "lr", "momentum", "batchSize", "trainReadout"]);
  const be = await resolveBackend(o.backend);
  return contaminateAndPurify(await trainInstance(o, be), o, be);
}
