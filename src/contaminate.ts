// Seeded contamination of a parameter vector. Each generator returns a new array and the set of
// entries it touched (the ground truth that detection precision/recall is measured against).
import { ValueError, checkOptionNames } from "./errors.js";
import { Rng } from "./random.js";

export interface Contamination {
  params: Float64Array;
  /** 1 where the entry was changed. */
  mask: Uint8Array;
  /** Indices of changed entries, ascending. */
  indices: Int32Array;
}

function std(x: Float64Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i];
  m /= x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i] - m) ** 2;
  return Math.sqrt(v / x.length) || 1;
}

function checkFraction(where: string, name: string, v: number): void {
  if (!(v >= 0 && v <= 1)) throw new ValueError(`${where}: ${name} must be in [0, 1], got ${v}`);
}

function finish(params: Float64Array, idx: Int32Array): Contamination {
  const mask = new Uint8Array(params.length);
  for (const i of idx) mask[i] = 1;
  return { params, mask, indices: idx };
}

export interface OutlierOptions {
  /** Fraction of entries hit. */
  rho: number;
  /** Outlier size in units of the std of theta (default 10). */
  scale?: number;
  seed?: number;
  /** Restrict to indices [from, to) (default: all). */
  range?: [number, number];
}

/** Sparse gross errors: a fraction rho of entries gets + scale * std(theta) * N(0, 1). */
export function sparseOutliers(theta: Float64Array, o: OutlierOptions): Contamination {
  checkOptionNames("sparseOutliers", o, ["rho", "scale", "seed", "range"]);
  checkFraction("sparseOutliers", "rho", o.rho);
  const rng = new Rng(o.seed ?? 0);
  const [from, to] = o.range ?? [0, theta.length];
  const idx = rng.sample(to - from, Math.round(o.rho * (to - from))).map((i) => i + from);
  const s = (o.scale ?? 10) * std(theta);
  const out = theta.slice();
  for (const i of idx) {
    let e = rng.normal();
    // Keep every outlier gross: |e| >= 0.5 std units, so "contaminated" never means "unchanged".
    if (Math.abs(e) < 0.5) e = e < 0 ? -0.5 : 0.5;
    out[i] += s * e;
  }
  return finish(out, idx);
}

/** Dense small noise N(0, (sigma std)^2) on every entry plus sparse outliers (mask: outliers only). */
export function denseNoiseAndOutliers(theta: Float64Array, o: OutlierOptions & { sigma: number }): Contamination {
  checkOptionNames("denseNoiseAndOutliers", o, ["rho", "scale", "seed", "range", "sigma"]);
  if (!(o.sigma >= 0)) throw new ValueError(`denseNoiseAndOutliers: sigma must be >= 0, got ${o.sigma}`);
  const c = sparseOutliers(theta, { rho: o.rho, scale: o.scale, seed: o.seed, range: o.range });
  const rng = new Rng((o.seed ?? 0) ^ 0x5bd1e995);
  const s = o.sigma * std(theta);
  for (let i = 0; i < c.params.length; i++) c.params[i] += s * rng.normal();
  return c;
}

export type BitClass = "any" | "exponent" | "sign-mantissa" | "top24";

export interface BitFlipOptions {
  /** Fraction of entries that get one flipped bit. */
  rate: number;
  /**
   * Which bits of the f32 encoding may flip: any of 32, the 8 exponent bits, sign and mantissa, or
   * top24 (sign, exponent and the 15 high mantissa bits: a flip of the 8 lowest changes an entry by at
   * most 2^-16 of itself, the rounding of an f32 model, not a change check should see).
   */
  bits?: BitClass;
  seed?: number;
  range?: [number, number];
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * Memory faults in an f32 copy of the weights: each hit entry is rounded to f32, one bit flips, and
 * it is widened back. Exponent flips make huge values, NaN and Inf; sign/mantissa flips stay in range.
 */
export function bitFlips(theta: Float64Array, o: BitFlipOptions): Contamination {
  checkOptionNames("bitFlips", o, ["rate", "bits", "seed", "range"]);
  checkFraction("bitFlips", "rate", o.rate);
  const bits = o.bits ?? "any";
  if (!["any", "exponent", "sign-mantissa", "top24"].includes(bits)) throw new ValueError(`bitFlips: unknown bits "${bits}" (known: any, exponent, sign-mantissa, top24)`);
  const rng = new Rng(o.seed ?? 0);
  const [from, to] = o.range ?? [0, theta.length];
  const idx = rng.sample(to - from, Math.round(o.rate * (to - from))).map((i) => i + from);
  const out = theta.slice();
  const changed: number[] = [];
  for (const i of idx) {
    let bit: number;
    if (bits === "exponent") bit = 23 + rng.int(8);
    else if (bits === "sign-mantissa") { const b = rng.int(24); bit = b === 23 ? 31 : b; }
    else if (bits === "top24") bit = 8 + rng.int(24);
    else bit = rng.int(32);
    f32[0] = out[i];
    u32[0] ^= 1 << bit;
    const v = f32[0];
    if (!Object.is(v, out[i])) { out[i] = v; changed.push(i); }
  }
  return finish(out, Int32Array.from(changed));
}

/** Targeted tampering: every entry of the chosen rows (e.g. filters [w_j ; b_j]) gets + scale * std * N(0,1). */
export function targetedRows(theta: Float64Array, o: { rows: number[]; rowLength: number; scale?: number; seed?: number }): Contamination {
  checkOptionNames("targetedRows", o, ["rows", "rowLength", "scale", "seed"]);
  const rng = new Rng(o.seed ?? 0);
  const s = (o.scale ?? 1) * std(theta);
  const out = theta.slice();
  const idx: number[] = [];
  for (const r of o.rows) {
    if (!Number.isInteger(r) || r < 0 || (r + 1) * o.rowLength > theta.length) throw new ValueError(`targetedRows: row ${r} is outside the parameters (${Math.floor(theta.length / o.rowLength)} rows of ${o.rowLength})`);
    for (let q = 0; q < o.rowLength; q++) { out[r * o.rowLength + q] += s * rng.normal(); idx.push(r * o.rowLength + q); }
  }
  return finish(out, Int32Array.from(idx.sort((a, b) => a - b)));
}
