// Runs one solver over the B problems that share an operator and returns, per problem, the fit
// A u, the coefficients and the exactness certificate. Solver choice lives here, once.
import type { Buf } from "../backend/types.js";
import type { GramFactor, GramRecord } from "../linalg/cholesky.js";
import { factorGram } from "../linalg/cholesky.js";
import type { AdmmOptions, AdmmState } from "./admm.js";
import { admmLad } from "./admm.js";
import { highsLad } from "./highs.js";
import { irlsLad } from "./irls.js";
import type { LinearOperator } from "./operator.js";
import { polishOne } from "./polish.js";

export type SolverName = "admm" | "irls" | "highs";
export const SOLVER_NAMES: readonly SolverName[] = ["admm", "irls", "highs"];

/**
 * "mixed": ADMM over a dense span finds the support in f32, then polish in f64; problems whose
 * polish is not an exact fit continue in f64 from the f32 state. "auto" (default): mixed where it
 * pays (a SIMD binary, at least MIXED_MIN_WORK per product), else f64. "f64": f64 throughout.
 * Certificates are always evaluated in f64 on the final answer.
 */
export type Arithmetic = "auto" | "mixed" | "f64";
export const ARITHMETIC_NAMES: readonly Arithmetic[] = ["auto", "mixed", "f64"];

/**
 * Below this much work per ADMM product (m rows x N x B problems) f32's lanes cannot pay for the
 * rounding of A and A^+ and a possible f64 continuation: "auto" stays f64 there.
 */
export const MIXED_MIN_WORK = 1 << 15;

/**
 * What "auto" means for B problems of N rows sharing an m-column dense span on this backend: mixed
 * on a SIMD binary from MIXED_MIN_WORK on, else f64. "mixed" and "f64" are kept.
 */
export function arithmeticFor(arithmetic: Arithmetic | undefined, be: { simd: boolean }, m: number, N: number, B: number): "mixed" | "f64" {
  const a = arithmetic ?? "auto";
  return a === "auto" ? (be.simd && m * N * B >= MIXED_MIN_WORK ? "mixed" : "f64") : a;
}

/**
 * Spans with fewer columns stay in f64 under "auto": their Gram is then too cheap to form and
 * factor for f32 to matter (the NTK of a linearized span is (n O)^2).
 */
export const GRAM_F32_MIN_COLS = 1024;

/**
 * The factored Gram A^T A of a span: formed and factored in f32 where the arithmetic allows it
 * ("mixed"; "auto" on a SIMD binary from GRAM_F32_MIN_COLS columns) and the operator can form it
 * in f32 and the f32 factor's measured solve error allows (factorGram), else in f64; the record
 * says which and why.
 */
export function factorSpan(op: LinearOperator, arithmetic: Arithmetic | undefined): { factor: GramFactor; record: GramRecord } {
  const a = arithmetic ?? "auto", m = op.cols;
  const tryF32 = a === "mixed" || (a === "auto" && op.be.simd && m >= GRAM_F32_MIN_COLS);
  const multiply = (x: Buf, out: Buf) => {
    const t = op.be.alloc(op.rows);
    try { op.apply(x, t, 1); op.applyT(t, out, 1); } finally { op.be.free(t); }
  };
  return factorGram(op.be, m, (g) => op.gram(g), op.gram32 && ((g) => op.gram32!(g)), tryF32, multiply);
}

export interface SolveOptions {
  solver: SolverName;
  arithmetic?: Arithmetic;
  admm?: AdmmOptions;
  polish?: boolean;
  /** Warm start, m x B. */
  warmStart?: Float64Array;
  erased?: Array<Int32Array | null>;
  /** ADMM: the Cholesky factor of A^T A when the caller already holds it (reused across calls). */
  factor?: GramFactor;
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
  /** ADMM iterations run in f32 (0 when the arithmetic was f64 throughout). */
  f32Iterations: number;
}

/** Solves min ||A u_b - r_b||_1 for b < B; r (B x rows, host) is not modified. */
export async function solveBatch(op: LinearOperator, rHost: Float64Array, B: number, o: SolveOptions): Promise<BatchSolution> {
  const be = op.be, N = op.rows, m = op.cols;
  const r = be.upload(be.alloc(B * N), rHost);
  const u = new Float64Array(m * B), polished: boolean[] = [];
  let iterations = 0, converged = true, primal = 0, dual = 0, ridge = 0;
  const ub = be.alloc(m), col = be.alloc(N);
  try {
    let perProblem: Array<{ u: Float64Array; res: Float64Array }> = [];
    let f32Iterations = 0;
    const polishProblem = (b: number, tol0?: number) => polishOne(op, be.slice(r, b * N, N), perProblem[b].u, Float64Array.from(perProblem[b].res), {
      tol0, erased: o.erased?.[b] ?? null, enabled: o.polish !== false && o.solver !== "highs", floor: o.floor?.subarray(b * N, (b + 1) * N),
    });
    let results: Array<ReturnType<typeof polishProblem>>;
    if (o.solver === "admm") {
      const mixed = op.transposed !== undefined && o.polish !== false && arithmeticFor(o.arithmetic, be, m, N, B) === "mixed";
      const s = admmLad(op, r, B, { ...o.admm, warmStart: o.warmStart, erased: o.erased, onIteration: o.onIteration, arithmetic: mixed ? "f32" : "f64" }, o.factor);
      iterations = s.iterations; converged = s.converged; ridge = s.ridge;
      primal = Math.max(...s.primal); dual = Math.max(...s.dual);
      perProblem = Array.from({ length: B }, (_, b) => ({ u: columnOf(s.u, B, b, m), res: s.residual.subarray(b * N, (b + 1) * N) }));
      // after f32 ADMM the fit rows carry f32 rounding (~1e-7 of the data): the first inlier set allows for it
      results = perProblem.map((_, b) => polishProblem(b, mixed ? 1e-5 : undefined));
      if (mixed) {
        f32Iterations = s.iterations;
        // problems whose f32 support did not polish to an exact fit continue in f64 from where f32 stopped
        const again = results.flatMap((p, b) => (p.polished && p.exact ? [] : [b]));
        if (again.length) {
          const more = resumeInF64(op, rHost, again, s.state!, o);
          iterations += more.iterations; converged = more.converged;
          again.forEach((b, j) => { perProblem[b] = more.perProblem[j]; results[b] = polishProblem(b); });
        }
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
      results = perProblem.map((_, b) => polishProblem(b));
    }
    results.forEach((p, b) => {
      for (let i = 0; i < m; i++) u[i * B + b] = p.u[i];
      polished.push(p.polished);
    });
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
    return { u, fitted, residual, objective, iterations, converged, primal, dual, ridge, polished, f32Iterations };
  } finally {
    be.free(r);
    be.free(ub);
    be.free(col);
  }
}

/** Column b of a (rows x cols) row-major matrix: one problem's coefficients out of m x B. */
const columnOf = (u: Float64Array, cols: number, b: number, rows: number) => Float64Array.from({ length: rows }, (_, i) => u[i * cols + b]);

/**
 * The f64 continuation of the mixed-precision solver for the problems `which` (indices into the
 * batch): ADMM resumes from their f32 state. Returns their coefficients and residuals in that order.
 */
function resumeInF64(op: LinearOperator, rHost: Float64Array, which: number[], state: AdmmState, o: SolveOptions) {
  const be = op.be, N = op.rows, m = op.cols, B = state.mu.length, Bs = which.length;
  const rows = (from: Float64Array) => { const out = new Float64Array(Bs * N); which.forEach((b, j) => out.set(from.subarray(b * N, (b + 1) * N), j * N)); return out; };
  const u = new Float64Array(m * Bs);
  which.forEach((b, j) => { for (let i = 0; i < m; i++) u[i * Bs + j] = state.u[i * B + b]; });
  const sub: AdmmState = { u, z: rows(state.z), y: rows(state.y), mu: Float64Array.from(which, (b) => state.mu[b]) };
  const erased = o.erased ? which.map((b) => o.erased![b]) : undefined;
  const rs = rows(rHost), r = be.upload(be.alloc(Bs * N), rs);
  try {
    const s = admmLad(op, r, Bs, { ...o.admm, erased, arithmetic: "f64", resume: sub }, o.factor);
    const perProblem = which.map((_, j) => ({ u: columnOf(s.u, Bs, j, m), res: s.residual.subarray(j * N, (j + 1) * N) }));
    return { perProblem, iterations: s.iterations, converged: s.converged };
  } finally {
    be.free(r);
  }
}
