// Certify a checkpoint: is this model what its init and training data allow, and where was it
// changed? In the exact regime (a thin patch span, or layerwise with every trained layer thin or
// frozen) a model that training produced fits its span exactly in every row, up to its own storage
// precision; one changed entry breaks its row. The verdict then comes from the same certificate
// purify reports, with no purified model needed by the caller. Approximate spans give no
// certificate; their verdict is statistical (src/recover/detection.ts): residuals beyond cutoffs
// calibrated on clean models of the same recipe (checkCalibrate), and "undetermined" without one.
//
// Threat model: check trusts the init and the training data it is given; it detects changes made
// after training, not a training run on other data.
import type { Backend } from "../backend/types.js";
import { InputFileError, OptionError } from "../errors.js";
import type { Calibration, ParameterGroup } from "../recover/detection.js";
import { calibrate, residualScores, statisticalVerdict } from "../recover/detection.js";
import { VERSION } from "../version.js";
import type { NamedFile } from "./inputs.js";
import { labelOf } from "./inputs.js";
import type { FilePurifyOptions, FilePurifyResult, ModelFiles } from "./purifyFiles.js";
import { SpanCache, openFileProblem } from "./purifyFiles.js";
import type { OpenedModel } from "../io/modelSource.js";

export type CheckVerdict = "consistent" | "changed" | "undetermined";

export interface Suspect {
  tensor: string;
  /** Flat index of the element within its tensor. */
  index: number;
  /** The value in the file, and the value the span predicts for it. */
  value: number;
  predicted: number;
}

export interface CheckResult {
  verdict: CheckVerdict;
  /** True when the verdict rests on the exact-fit certificate (the exact regime). */
  certified: boolean;
  /** What the verdict rests on: the certificate, a calibration on clean models, or nothing. */
  basis: "certificate" | "calibration" | "none";
  /** One line: why this verdict. */
  reason: string;
  span: string;
  spanReason: string;
  /** Entries whose value the span cannot explain, per tensor, and the largest of them. */
  suspects: { total: number; perTensor: Record<string, number>; top: Suspect[] };
  /** The statistic the verdict compares: exactly fit rows beyond the certificate's margin. */
  statistic: { name: string; value: number; threshold: number; falseAlarmRate?: number };
  files: Record<string, string>;
  version: string;
  options: FilePurifyOptions;
}

/** Exit code of a verdict in the CLI. */
export const VERDICT_EXIT: Record<CheckVerdict, number> = { consistent: 0, changed: 4, undetermined: 5 };

/** SHA-256 of a file's bytes, hex (Web Crypto: every runtime). */
export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The SHA-256 of every input file, by role. */
export async function fileDigests(files: Record<string, NamedFile | undefined>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [k, f] of Object.entries(files)) if (f) out[k] = await sha256(f.bytes);
  return out;
}

/** The file's tensors as parameter groups (every parameter stored in the file, by tensor name). */
export function tensorGroups(model: OpenedModel): ParameterGroup[] {
  const by = new Map<string, number[]>();
  for (let i = 0; i < model.theta.length; i++) {
    const at = model.locate(i);
    if (!at) continue;
    let list = by.get(at.tensor);
    if (!list) by.set(at.tensor, (list = []));
    list.push(i);
  }
  return [...by].map(([name, list]) => ({ name, indices: Int32Array.from(list) }));
}

const hasBatchNorm = (m: OpenedModel) => m.kind === "sequential" && m.model.layers.some((l) => l.type === "batchnorm");

/**
 * Calibrates check's statistical verdict on clean models of one recipe (trained from the same init
 * on the same data, e.g. with other shuffles or seeds): each model's largest residual z per tensor,
 * in the span check will use; the cutoffs are `margin` times the largest. The models share one
 * init and data, and so one prepared span.
 */
export async function checkCalibrate(files: { models: ModelFiles["model"][]; init: ModelFiles["init"]; data: ModelFiles["data"] }, options: FilePurifyOptions = {},
  o: { backend?: Backend | string; margin?: number; holdout?: number; onModel?: (done: number, total: number) => void } = {}): Promise<Calibration> {
  const holdout = o.holdout ?? 0;
  if (!Number.isInteger(holdout) || holdout < 0 || holdout >= files.models.length) throw new OptionError(`holdout must be an integer in [0, ${files.models.length - 1}] (models beyond the calibration's), got ${holdout}`);
  let names: string[] | null = null, subspace = "", maxIter = 0;
  const maxZ: number[][] = [], scores: Array<{ z: Float64Array; maxZ: number[]; groups: ParameterGroup[] }> = [];
  const spans = new SpanCache();
  try {
    for (const [k, model] of files.models.entries()) {
      o.onModel?.(k, files.models.length);
      const problem = openFileProblem({ model, init: files.init, data: files.data }, options);
      if (hasBatchNorm(problem.model)) throw new OptionError(`${labelOf(model)}: check does not judge BatchNorm models, so there is nothing to calibrate`);
      if (problem.choice.subspace === "patch" || problem.choice.subspace === "layerwise") {
        throw new OptionError(`the ${problem.choice.subspace} span is exact here (${problem.choice.reason}): check certifies without a calibration`);
      }
      const r = await problem.run({ backend: o.backend, spans });
      const groups = tensorGroups(r.model);
      const here = groups.map((g) => g.name);
      if (names && here.join() !== names.join()) throw new InputFileError(`${labelOf(model)}: tensors ${here.join(", ")}, the first model has ${names.join(", ")}: calibrate on one network`);
      names = here; subspace = problem.choice.subspace; maxIter = problem.maxIter;
      const s = residualScores(r.model.theta, r.params, groups);
      if (k < files.models.length - holdout) maxZ.push(s.maxZ);
      else scores.push({ z: s.z, maxZ: s.maxZ, groups });
    }
  } finally {
    spans.dispose();
  }
  o.onModel?.(files.models.length, files.models.length);
  const cal = calibrate(names ?? [], maxZ, { margin: o.margin, subspace, maxIter, version: VERSION, files: await fileDigests({ init: files.init, data: files.data }) });
  // the held-out models measure the false-alarm rate of these cutoffs
  if (holdout) cal.heldOut = { models: holdout, falseAlarms: scores.filter((q) => statisticalVerdict(q.z, q.maxZ, q.groups, cal).suspects.length > 0).length };
  return cal;
}

/**
 * Checks one model file against its init and training data. Throws like purify on bad input.
 * `spans`: prepared spans shared by several models of this init and data (the caller disposes it).
 */
export async function checkModel(files: ModelFiles, options: FilePurifyOptions = {},
  o: { backend?: Backend | string; top?: number; calibration?: Calibration; spans?: SpanCache } = {}): Promise<CheckResult> {
  const problem = openFileProblem(files, options);
  const cal = o.calibration;
  if (cal && !["patch", "layerwise"].includes(problem.choice.subspace) && (cal.subspace !== problem.choice.subspace || cal.maxIter !== problem.maxIter)) {
    throw new OptionError(`the calibration was made in the ${cal.subspace} span with ${cal.maxIter} ADMM iterations, this check uses ${problem.choice.subspace} with ${problem.maxIter}: give --subspace ${cal.subspace} --max-iter ${cal.maxIter}`);
  }
  const digests = await fileDigests({ model: files.model, init: files.init, data: files.data });
  if (cal) {
    for (const k of ["init", "data"]) {
      if (cal.files[k] !== undefined && cal.files[k] !== digests[k]) throw new InputFileError(`the calibration's ${k} (SHA-256 ${cal.files[k].slice(0, 12)}...) is not this ${k} (${digests[k].slice(0, 12)}...): calibrate on clean models of this init and data`);
    }
  }
  const r = await problem.run({ backend: o.backend, spans: o.spans });
  // exact spans certify only where they are thin: a span that is the whole space for some rows fits anything there
  // BatchNorm's scale and shift have no span, and a file's running statistics are running averages
  // over batches at earlier parameters: nothing there fits exactly, so such a model is not certified
  const batchNorm = hasBatchNorm(problem.model);
  const exactRegime = (problem.choice.subspace === "patch" || problem.choice.subspace === "layerwise") && !problem.choice.covers && !batchNorm;
  const m = r.model, params = r.params, detail = r.detail;
  // suspects: the entries the purifier flags (flaggedEntries, the rule of every span); certified when
  // every block (layerwise: every trained layer's rows) fits beyond the certificate's margin
  const uncertified = detail.layers?.filter((l) => !l.frozen && !l.recovered).length ?? 0;
  const certificate = detail.recovered, flagged = Array.from(detail.estimatedContaminated);
  const statistic: CheckResult["statistic"] = detail.layers
    ? { name: "trained layers whose rows fit their patch span beyond the certificate's margin in no block", value: uncertified, threshold: 0 }
    : { name: "certificate slack (exactly fit rows - span dimension - margin, worst block)", value: detail.certificateSlack, threshold: 0 };
  let verdict: CheckVerdict, certified: boolean, reason: string, basis: CheckResult["basis"] = exactRegime ? "certificate" : "none";
  if (!exactRegime && cal && !batchNorm && !problem.choice.covers) {
    return statistical(problem.choice, r, cal, digests, options, o.top ?? 10);
  }
  if (!exactRegime) {
    verdict = "undetermined"; certified = false;
    reason = batchNorm
      ? "a BatchNorm layer's scale and shift lie in no span and its running statistics are averages over past batches: no exact-fit certificate covers them, so check does not certify BatchNorm models"
      : problem.choice.covers
      ? `the ${problem.choice.subspace} span is the whole space for some rows (${problem.choice.warnings.join("; ")}): it fits any change there, so it certifies nothing`
      : `the ${problem.choice.subspace} span is approximate: no exact-fit certificate; a statistical verdict needs a calibration on clean models of this recipe (cnn-purify check-calibrate, then --calibration)`;
  } else if (certificate) {
    certified = true;
    verdict = flagged.length ? "changed" : "consistent";
    reason = flagged.length
      ? `the span fits every row exactly but ${flagged.length} entries: they were changed after training`
      : "every entry fits the span exactly (to the model's storage precision): consistent with this init and data";
  } else {
    verdict = "changed"; certified = false;
    reason = "no exact fit beyond the certificate's margin: a model training produced would fit its span exactly, so it was changed (too much to locate every change)";
  }
  return {
    verdict, certified, basis, reason, span: problem.choice.subspace, spanReason: problem.choice.reason,
    suspects: describeSuspects(m, params, flagged, o.top ?? 10),
    statistic,
    files: digests,
    version: VERSION, options,
  };
}

/** Suspects per tensor and the largest ones, from flagged parameter indices. */
function describeSuspects(m: OpenedModel, params: Float64Array, flagged: number[], top: number): CheckResult["suspects"] {
  const theta = m.theta, perTensor: Record<string, number> = {};
  const located = flagged.map((i) => ({ i, at: m.locate(i) }));
  for (const { at } of located) if (at) perTensor[at.tensor] = (perTensor[at.tensor] ?? 0) + 1;
  const largest = located
    .sort((a, b) => Math.abs(theta[b.i] - params[b.i]) - Math.abs(theta[a.i] - params[a.i]) || a.i - b.i)
    .slice(0, top)
    .flatMap(({ i, at }) => (at ? [{ tensor: at.tensor, index: at.index, value: theta[i], predicted: params[i] }] : []));
  return { total: flagged.length, perTensor, top: largest };
}

/** The calibrated verdict on an approximate span. */
function statistical(choice: ReturnType<typeof openFileProblem>["choice"], r: FilePurifyResult, cal: Calibration, files: Record<string, string>,
  options: FilePurifyOptions, top: number): CheckResult {
  const groups = tensorGroups(r.model);
  const scores = residualScores(r.model.theta, r.params, groups);
  const { suspects, statistic } = statisticalVerdict(scores.z, scores.maxZ, groups, cal);
  const models = cal.groups[0]?.cleanMaxZ.length ?? 0;
  const verdict: CheckVerdict = suspects.length ? "changed" : "consistent";
  const reason = (suspects.length
    ? `${suspects.length} entries lie beyond their tensor's calibrated cutoff: changed`
    : "no entry lies beyond its tensor's calibrated cutoff: consistent") +
    ` (statistical, not certified: cutoffs ${cal.margin} x the largest residual z of ${models} clean models of this recipe; ` +
    (cal.heldOut ? `false alarms on ${cal.heldOut.models} held-out clean models: ${cal.heldOut.falseAlarms}` : "false-alarm rate not measured for this calibration (check-calibrate --holdout; the README's detection experiment)") + ")";
  return {
    verdict, certified: false, basis: "calibration", reason, span: choice.subspace, spanReason: choice.reason,
    suspects: describeSuspects(r.model, r.params, suspects, top),
    statistic: { name: "largest residual z over its tensor's calibrated cutoff", value: statistic, threshold: 1,
      ...(cal.heldOut ? { falseAlarmRate: cal.heldOut.falseAlarms / cal.heldOut.models } : {}) },
    files, version: VERSION, options,
  };
}
