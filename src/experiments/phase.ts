// The phase-transition experiment: exact-recovery success over (n k / (p + 1), rho), several seeds
// per cell; and the linearized span against the step size (pattern flips against error).
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { OptionError, checkInt, checkOptionNames, shown } from "../errors.js";
import { contaminateAndPurify, trainInstance } from "./synthetic.js";

export interface PhaseOptions {
  p?: number;
  patches?: number;
  filters?: number;
  samples?: number[];
  rhos?: number[];
  seeds?: number;
  /** Step sizes for the linearized-span sweep. */
  lrs?: number[];
  backend?: Backend | string;
  /** Called after each run with (done, total). */
  onProgress?: (done: number, total: number) => void;
}

export interface PhaseCell { samples: number; ratio: number; rho: number; successRate: number; medianWeightRelError: number; certifiedRate: number }
export interface LinearizedPoint { lr: number; flipRate: number; linearized: number; relinearized: number; patch: number }

export interface PhaseResult {
  p: number;
  patches: number;
  filters: number;
  seeds: number;
  cells: PhaseCell[];
  /** Per ratio: the largest rho at which >= half the seeds recovered exactly (0 if none). */
  breakdown: Array<{ ratio: number; rho: number }>;
  linearized: LinearizedPoint[];
  seconds: number;
}

export const PHASE_DEFAULTS = {
  p: 64, patches: 4, filters: 4,
  samples: [2, 4, 6, 8, 10, 12, 14, 16],
  rhos: [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5],
  seeds: 3,
  lrs: [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2],
};

const median = (a: number[]): number => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };

export async function runPhase(o: PhaseOptions = {}): Promise<PhaseResult> {
  checkOptionNames("runPhase", o, ["p", "patches", "filters", "samples", "rhos", "seeds", "lrs", "backend", "onProgress"]);
  const p = o.p ?? PHASE_DEFAULTS.p, k = o.patches ?? PHASE_DEFAULTS.patches, K = o.filters ?? PHASE_DEFAULTS.filters;
  const samples = o.samples ?? PHASE_DEFAULTS.samples, rhos = o.rhos ?? PHASE_DEFAULTS.rhos;
  const seeds = o.seeds ?? PHASE_DEFAULTS.seeds, lrs = o.lrs ?? PHASE_DEFAULTS.lrs;
  checkInt("runPhase", "seeds", seeds);
  for (const [k, v] of [["samples", samples], ["rhos", rhos], ["lrs", lrs]] as const) if (!Array.isArray(v)) throw new OptionError(`runPhase: ${k} must be a list of numbers, got ${shown(v)}`);
  const be = await resolveBackend(o.backend);
  const t0 = performance.now();
  const total = samples.length * seeds * rhos.length + lrs.length * 3;
  let done = 0;
  const tick = () => o.onProgress?.(++done, total);
  const cells: PhaseCell[] = [];
  for (const n of samples) {
    const errs: number[][] = rhos.map(() => []), ok: number[] = rhos.map(() => 0), cert: number[] = rhos.map(() => 0);
    for (let seed = 1; seed <= seeds; seed++) {
      const base = { p, patches: k, filters: K, samples: n, seed };
      const inst = await trainInstance(base, be);
      for (let ri = 0; ri < rhos.length; ri++) {
        const r = await contaminateAndPurify(inst, { ...base, rho: rhos[ri] }, be);
        const e = Math.max(r.summary.weightRelError, r.summary.biasRelError);
        errs[ri].push(e);
        if (e <= 1e-9) ok[ri]++;
        if (r.summary.recovered) cert[ri]++;
        tick();
      }
    }
    rhos.forEach((rho, ri) => cells.push({ samples: n, ratio: (n * k) / (p + 1), rho, successRate: ok[ri] / seeds, medianWeightRelError: median(errs[ri]), certifiedRate: cert[ri] / seeds }));
  }
  const breakdown = samples.map((n) => {
    const row = cells.filter((c) => c.samples === n && c.successRate >= 0.5);
    return { ratio: (n * k) / (p + 1), rho: row.length ? Math.max(...row.map((c) => c.rho)) : 0 };
  });
  const linearized: LinearizedPoint[] = [];
  for (const lr of lrs) {
    const base = { p, patches: k, filters: K, samples: 4, seed: 1, lr, epochs: 100, rho: 0.1 };
    const inst = await trainInstance(base, be);
    const errOf = async (subspace: "patch" | "linearized" | "relinearized") => {
      const r = await contaminateAndPurify(inst, { ...base, subspace }, be);
      tick();
      return Math.max(r.summary.weightRelError, r.summary.biasRelError);
    };
    linearized.push({ lr, flipRate: inst.flipRate, linearized: await errOf("linearized"), relinearized: await errOf("relinearized"), patch: await errOf("patch") });
  }
  return { p, patches: k, filters: K, seeds, cells, breakdown, linearized, seconds: (performance.now() - t0) / 1000 };
}
