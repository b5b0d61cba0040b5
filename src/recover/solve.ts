// Runs one solver over the B problems that share an operator and returns, per problem, the fit
// A u, the coefficients and the exactness certificate. Solver choice lives here, once.
import type { Buf } from "../backend/types.js";
import type { AdmmOptions } from "./admm.js";
import { admmLad } from "./admm.js";
import { highsLad } from "./highs.js";
import { irlsLad } from "./irls.js";
import type { LinearOperator } from "./operator.js";
import { polishOne } from "./polish.js";

export type SolverName = "admm" | "irls" | "highs";
export const SOLVER_NAMES: readonly SolverName[] = ["admm", "irls", "highs"];

export interface SolveOptions {
  solver: SolverName;
  admm?: AdmmOptions;
  polish?: boolean;
  /** Warm start, m x B. */
  warmStart?: Float64Array;
  erased?: Array<Int32Array | null>;
  onIteration?: AdmmOptions["onIteration"];
}

export interface BatchSolution {
  /** m x B */
  u: Float64Array;
  /** B x rows: A u, the part of r the subspace explains. */
  fitted: Float64Array;
  /** B x rows: A u - r. */
  residual: Float64Array;
  objective: number;
  iterations: number;
  converged: boolean;
  primal: number;
  dual: number;
  ridge: number;
  /** Per problem: rows fit to 1e-9 rms(r), and whether polishing was accepted. */
  inliers: Int32Array;
  polished: boolean[];
}

/** Solves min ||A u_b - r_b||_1 for b < B; r (B x rows, host) is not modified. */
export async function solveBatch(op: LinearOperator, rHost: Float64Array, B: number, o: SolveOptions): Promise<BatchSolution> {
  const be = op.be, N = op.rows, m = op.cols;
  const r = be.upload(be.alloc(B * N), rHost);
  const u = new Float64Array(m * B), residual = new Float64Array(B * N);
  const inliers = new Int32Array(B), polished: boolean[] = [];
  let iterations = 0, converged = true, primal = 0, dual = 0, ridge = 0;
  const single = be.alloc(m);
  try {
    const perProblem: Array<{ u: Float64Array; res: Float64Array }> = [];
    if (o.solver === "admm") {
      const s = admmLad(op, r, B, { ...o.admm, warmStart: o.warmStart, erased: o.erased, onIteration: o.onIteration });
      iterations = s.iterations; converged = s.converged; ridge = s.ridge;
      primal = Math.max(...s.primal); dual = Math.max(...s.dual);
      for (let b = 0; b < B; b++) {
        const ub = new Float64Array(m);
        for (let i = 0; i < m; i++) ub[i] = s.u[i * B + b];
        perProblem.push({ u: ub, res: s.residual.subarray(b * N, (b + 1) * N) });
      }
    } else {
      for (let b = 0; b < B; b++) {
        const rb = be.slice(r, b * N, N);
        const erased = o.erased?.[b] ?? null;
        if (o.solver === "irls") {
          if (erased) { const v = be.view(rb); for (const i of erased) v[i] = 0; }
          const s = irlsLad(op, rb);
          iterations = Math.max(iterations, s.iterations); converged &&= s.converged;
          perProblem.push({ u: s.u, res: s.residual });
        } else {
          const s = await highsLad(op, be.download(rb), { skip: erased });
          be.upload(single, s.u);
          const fit = be.alloc(N);
          op.apply(single, fit, 1);
          be.sub(fit, fit, rb);
          perProblem.push({ u: s.u, res: be.download(fit) });
          be.free(fit);
        }
      }
    }
    be.upload(r, rHost); // ADMM imputes erased rows in place; polish needs the original placeholders
    for (let b = 0; b < B; b++) {
      const rb = be.slice(r, b * N, N);
      const erased = o.erased?.[b] ?? null;
      const { u: ub, res } = perProblem[b];
      const p = polishOne(op, rb, ub, Float64Array.from(res), { erased, enabled: o.polish !== false && o.solver !== "highs" });
      for (let i = 0; i < m; i++) u[i * B + b] = p.u[i];
      residual.set(p.residual, b * N);
      inliers[b] = p.inliers;
      polished.push(p.polished);
    }
    const fitted = new Float64Array(B * N);
    for (let i = 0; i < B * N; i++) fitted[i] = residual[i] + rHost[i];
    // erased rows: r is a placeholder there, so the fit is A u itself
    if (o.erased) {
      const ub = be.alloc(m), col = be.alloc(N);
      for (let b = 0; b < B; b++) {
        const e = o.erased[b];
        if (!e || e.length === 0) continue;
        const h = new Float64Array(m);
        for (let i = 0; i < m; i++) h[i] = u[i * B + b];
        be.upload(ub, h);
        op.apply(ub, col, 1);
        const cv = be.view(col);
        for (const i of e) fitted[b * N + i] = cv[i];
      }
      be.free(ub); be.free(col);
    }
    let objective = 0;
    for (let b = 0; b < B; b++) {
      const e = new Set(o.erased?.[b] ?? []);
      for (let i = 0; i < N; i++) if (!e.has(i)) objective += Math.abs(residual[b * N + i]);
    }
    return { u, fitted, residual, objective, iterations, converged, primal, dual, ridge, inliers, polished };
  } finally {
    be.free(r);
    be.free(single);
  }
}
