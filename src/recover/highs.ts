// The LP form of LAD, solved by HiGHS (npm "highs"): the ground truth for tests and benchmarks.
//   min sum t   s.t.   A u - t <= r,   A u + t >= r,   u free, t >= 0.
import type { LinearOperator } from "./operator.js";
import { materialize } from "./operator.js";
import { NumericalError } from "../errors.js";

export interface HighsSolution { u: Float64Array; objective: number; status: string; seconds: number }

type HighsModule = { solve(problem: string, options?: Record<string, unknown>): { Status: string; ObjectiveValue: number; Columns: Record<string, { Primal: number }> } };
let highsPromise: Promise<HighsModule> | null = null;

export async function loadHighs(): Promise<HighsModule> {
  if (!highsPromise) {
    highsPromise = import("highs").then((m) => (m.default as unknown as () => Promise<HighsModule>)());
  }
  return highsPromise;
}

const num = (v: number): string => (v === 0 ? "0" : v.toPrecision(17));

/** The LP of min ||A u - r||_1 in CPLEX LP format, for a dense A (rows x m). */
export function ladToLp(a: Float64Array, rows: number, m: number, r: ArrayLike<number>, skip: Int32Array | null = null): string {
  const keep = new Uint8Array(rows).fill(1);
  if (skip) for (const i of skip) keep[i] = 0;
  const kept = Array.from({ length: rows }, (_, i) => i).filter((i) => keep[i]);
  const out: string[] = ["Minimize", " obj: " + kept.map((i) => `t${i}`).join(" + "), "Subject To"];
  for (const i of kept) {
    let expr = "";
    for (let c = 0; c < m; c++) {
      const v = a[i * m + c];
      if (v !== 0) expr += (v < 0 ? " - " : " + ") + num(Math.abs(v)) + " u" + c;
    }
    out.push(` a${i}:${expr} - t${i} <= ${num(r[i])}`);
    out.push(` b${i}:${expr} + t${i} >= ${num(r[i])}`);
  }
  out.push("Bounds");
  for (let c = 0; c < m; c++) out.push(` u${c} free`);
  out.push("End");
  return out.join("\n");
}

/**
 * Solves one LAD problem (r: rows values) with HiGHS' simplex; rows in `skip` (erasures) are left
 * out. Throws NumericalError if HiGHS does not report an optimum.
 */
export async function highsLad(op: LinearOperator, r: ArrayLike<number>, options: { timeLimit?: number; skip?: Int32Array | null } = {}): Promise<HighsSolution> {
  const h = await loadHighs();
  const a = materialize(op);
  const lp = ladToLp(a, op.rows, op.cols, r, options.skip ?? null);
  const t0 = performance.now();
  const sol = h.solve(lp, { solver: "simplex", primal_feasibility_tolerance: 1e-10, dual_feasibility_tolerance: 1e-10, ...(options.timeLimit ? { time_limit: options.timeLimit } : {}) });
  const seconds = (performance.now() - t0) / 1000;
  if (sol.Status !== "Optimal") throw new NumericalError(`highsLad: HiGHS ended with status "${sol.Status}"`);
  const u = new Float64Array(op.cols);
  for (let c = 0; c < op.cols; c++) u[c] = sol.Columns[`u${c}`]?.Primal ?? 0;
  return { u, objective: sol.ObjectiveValue, status: sol.Status, seconds };
}
