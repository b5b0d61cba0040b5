// Runs one solver over the B problems that share an operator and returns, per problem, the fit
// A u, the coefficients and the exactness certificate. Solver choice lives here, once.
import type { Cholesky } from "../linalg/cholesky.js";
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
  /** ADMM: the Cholesky factor of A^T A when the caller already holds it (reused across calls). */
  factor?: Cholesky;
  onIteration?: AdmmOptions["onIteration"];
  /** Per row of r (B x rows): residuals up to this count as fit (a model's storage rounding; precisionFloor). */
  floor?: Float64Array;
}

export interface BatchSolution {
  /** m x B */
  u: Float64Array;
  /** B x rows: A u, the part of r the subspace explains (also on erased rows: the restored values). */
  fitted: Float64Array;
  /** B x rows: A u - r (meaningless on erased rows, which every consumer skips). */
  residual: Float64Array;
  objective: number;
  iterations: number;
  converged: boolean;
  primal: number;
  dual: number;
  ridge: number;
  /** Per problem: whether polishing was accepted. */
  polished: boolean[];
}

/** Solves min ||A u_b - r_b||_1 for b < B; r (B x rows, host) is not modified. */
export async function solveBatch(op: LinearOperator, rHost: Float64Array, B: number, o: SolveOptions): Promise<BatchSolution> {
  const be = op.be, N = op.rows, m = op.cols;
  const r = be.upload(be.alloc(B * N), rHost);
  const u = new Float64Array(m * B), polished: boolean[] = [];
  let iterations = 0, converged = true, primal = 0, dual = 0, ridge = 0;
  const ub = be.alloc(m), col = be.alloc(N);
  try {
    const perProblem: Array<{ u: Float64Array; res: Float64Array }> = [];
    if (o.solver === "admm") {
      const s = admmLad(op, r, B, { ...o.admm, warmStart: o.warmStart, erased: o.erased, onIteration: o.onIteration }, o.factor);
      iterations = s.iterations; converged = s.converged; ridge = s.ridge;
      primal = Math.max(...s.primal); dual = Math.max(...s.dual);
      for (let b = 0; b < B; b++) {
        const x = new Float64Array(m);
        for (let i = 0; i < m; i++) x[i] = s.u[i * B + b];
        perProblem.push({ u: x, res: s.residual.subarray(b * N, (b + 1) * N) });
      }
    } else {
      for (let b = 0; b < B; b++) {
        const rb = be.slice(r, b * N, N);
        const erased = o.erased?.[b] ?? null;
        if (o.solver === "irls") {
          const s = irlsLad(op, rb, { erased });
          iterations = Math.max(iterations, s.iterations); converged &&= s.converged;
          perProblem.push({ u: s.u, res: s.residual });
        } else {
          const s = await highsLad(op, be.download(rb), { skip: erased });
          op.apply(be.upload(ub, s.u), col, 1);
          perProblem.push({ u: s.u, res: be.download(be.sub(col, col, rb)) });
        }
      }
    }
    for (let b = 0; b < B; b++) {
      const { u: x, res } = perProblem[b];
      const p = polishOne(op, be.slice(r, b * N, N), x, Float64Array.from(res), {
        erased: o.erased?.[b] ?? null, enabled: o.polish !== false && o.solver !== "highs", floor: o.floor?.subarray(b * N, (b + 1) * N),
      });
      for (let i = 0; i < m; i++) u[i * B + b] = p.u[i];
      polished.push(p.polished);
    }
    // The fit is A u, computed once for every problem; the residual follows from it.
    const fitted = new Float64Array(B * N), residual = new Float64Array(B * N);
    for (let b = 0; b < B; b++) {
      const x = be.view(ub);
      for (let i = 0; i < m; i++) x[i] = u[i * B + b];
      op.apply(ub, col, 1);
      fitted.set(be.view(col), b * N);
    }
    for (let i = 0; i < B * N; i++) residual[i] = fitted[i] - rHost[i];
    let objective = 0;
    for (let b = 0; b < B; b++) {
      const e = new Set(o.erased?.[b] ?? []);
      for (let i = 0; i < N; i++) if (!e.has(i)) objective += Math.abs(residual[b * N + i]);
    }
    return { u, fitted, residual, objective, iterations, converged, primal, dual, ridge, polished };
  } finally {
    be.free(r);
    be.free(ub);
    be.free(col);
  }
}
