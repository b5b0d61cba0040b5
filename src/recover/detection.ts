// The statistical verdict of check on approximate spans (linearized, re-linearized): a clean model
// does not fit such a span exactly (part of its update lies outside), so "changed" cannot be
// certified. What separates a change from training is size relative to the span's own misfit: per
// tensor, the residuals (file - span's fit) of a clean model are spread with a robust standard
// deviation sigma (1.4826 MAD); a changed entry stands out by many sigma. How many is learned from
// clean models of the same recipe (calibrate): a tensor's cutoff is `margin` times the largest z
// any calibration model reached there. An entry beyond its cutoff is a suspect; one suspect makes
// the verdict "changed". The false-alarm rate is measured on clean models not used to calibrate
// (the detection experiment), not assumed.
import { ValueError } from "../errors.js";

/** One group of parameters (a tensor), by index into theta. */
export interface ParameterGroup { name: string; indices: Int32Array }

/** Each group's robust sigma and every entry's z = |file - fit| / sigma (NaN/Inf in the file: Infinity). */
export function residualScores(file: ArrayLike<number>, fit: ArrayLike<number>, groups: ParameterGroup[]): { sigma: number[]; z: Float64Array; maxZ: number[] } {
  const z = new Float64Array(file.length);
  const sigma: number[] = [], maxZ: number[] = [];
  for (const g of groups) {
    const a = Float64Array.from(g.indices, (i) => Math.abs(file[i] - fit[i])).filter(Number.isFinite).sort();
    const med = a.length ? a[a.length >> 1] : 0;
    // a group fit exactly (sigma 0: frozen, or a span that holds it) judges by its largest clean residual instead
    const s = Math.max(1.4826 * med, 1e-12 * (a.length ? a[a.length - 1] : 0), 1e-300);
    let m = 0;
    for (const i of g.indices) {
      const d = Math.abs(file[i] - fit[i]);
      z[i] = Number.isFinite(d) ? d / s : Infinity;
      m = Math.max(m, z[i]);
    }
    sigma.push(s); maxZ.push(m);
  }
  return { sigma, z, maxZ };
}

export const CALIBRATION_FORMAT = "cnn-purify/check-calibration";

/** What check-calibrate writes and check reads. */
export interface Calibration {
  format: typeof CALIBRATION_FORMAT;
  version: string;
  /** The span and ADMM cap the residuals came from: check must use the same. */
  subspace: string;
  maxIter: number;
  margin: number;
  /** Per group (tensor): the cutoff on z, and the largest z of each calibration model. */
  groups: Array<{ name: string; cutoff: number; cleanMaxZ: number[] }>;
  /** SHA-256 of the init and data the calibration models were trained from. */
  files: Record<string, string>;
  /** Held-out clean models (not used for the cutoffs) the verdict flagged: the measured false-alarm rate. */
  heldOut?: { models: number; falseAlarms: number };
}

/** Default safety factor over the largest clean z (measured: docs/detection). */
export const CALIBRATION_MARGIN = 1.5;

/** Cutoffs from the per-model largest z of each group (models x groups). */
export function calibrate(names: string[], maxZ: number[][], o: { margin?: number; subspace: string; maxIter: number; version: string; files: Record<string, string> }): Calibration {
  if (!maxZ.length) throw new ValueError("calibrate: no clean models given");
  for (const row of maxZ) if (row.length !== names.length) throw new ValueError(`calibrate: ${row.length} groups in a model, expected ${names.length}`);
  const margin = o.margin ?? CALIBRATION_MARGIN;
  if (!(margin >= 1)) throw new ValueError(`calibrate: margin must be >= 1, got ${margin}`);
  return {
    format: CALIBRATION_FORMAT, version: o.version, subspace: o.subspace, maxIter: o.maxIter, margin, files: o.files,
    groups: names.map((name, g) => {
      const clean = maxZ.map((row) => row[g]);
      if (clean.some((v) => !Number.isFinite(v))) throw new ValueError(`calibrate: a calibration model has NaN/Inf in ${name}: it is not clean`);
      return { name, cutoff: margin * Math.max(...clean), cleanMaxZ: clean };
    }),
  };
}

/** Suspects (entries beyond their group's cutoff) and the statistic max_g maxZ_g / cutoff_g (> 1: changed). */
export function statisticalVerdict(z: Float64Array, maxZ: number[], groups: ParameterGroup[], calibration: Calibration): { suspects: number[]; statistic: number } {
  const byName = new Map(calibration.groups.map((g) => [g.name, g.cutoff]));
  const suspects: number[] = [];
  let statistic = 0;
  groups.forEach((g, k) => {
    const cutoff = byName.get(g.name);
    if (cutoff === undefined) throw new ValueError(`the calibration has no tensor "${g.name}" (it has ${calibration.groups.map((q) => q.name).join(", ")}): calibrate on models of this network`);
    statistic = Math.max(statistic, maxZ[k] / cutoff);
    for (const i of g.indices) if (z[i] > cutoff) suspects.push(i);
  });
  return { suspects: suspects.sort((a, b) => a - b), statistic };
}

/** Reads a calibration file's JSON; throws naming what is wrong. */
export function parseCalibration(text: string, where: string): Calibration {
  let c: Calibration;
  try { c = JSON.parse(text); } catch (e) { throw new ValueError(`${where}: not JSON (${(e as Error).message})`); }
  if (c?.format !== CALIBRATION_FORMAT) throw new ValueError(`${where}: not a check calibration (format "${String(c?.format)}", expected "${CALIBRATION_FORMAT}"); make one with cnn-purify check-calibrate`);
  if (!Array.isArray(c.groups) || !c.groups.every((g) => typeof g.name === "string" && g.cutoff > 0 && Number.isFinite(g.cutoff))) throw new ValueError(`${where}: its groups must each have a name and a positive cutoff`);
  if (typeof c.subspace !== "string" || !(c.maxIter >= 1)) throw new ValueError(`${where}: subspace and maxIter are missing`);
  return c;
}
