// Least absolute deviations min_u || A u - r ||_1 by over-relaxed ADMM (DESIGN.md section 3), for
// B problems sharing A:  z = A u - r;  u <- G^-1 A^T (r + z - y);  z <- soft(A u - r + y, 1/mu);
// y <- y + A u - r - z. G = A^T A is factored once; mu is per problem (residual balancing), which
// costs nothing because the u-step does not involve mu in the scaled form.
import type { Buf, Buf32 } from "../backend/types.js";
import type { GramFactor } from "../linalg/cholesky.js";
import { Cholesky } from "../linalg/cholesky.js";
import type { LinearOperator } from "./operator.js";
import { OptionError, checkOptionNames, shown } from "../errors.js";

export interface AdmmOptions {
  /** Iteration cap (default 5000; polishing finishes the job when the support is found). */
  maxIter?: number;
  /** Absolute and relative tolerances of Boyd et al. section 3.3 (defaults 1e-12, 1e-10). */
  absTol?: number;
  relTol?: number;
  /** Over-relaxation in (0, 2), usually 1.5-1.8 (default 1.6). */
  alpha?: number;
  /** Initial penalty; default 1 / rms(r) per problem. */
  mu?: number;
  /**
   * Stop when the total l1 objective improved by less than this fraction over the last 200
   * iterations (checked every 50; default 1e-5). Approximate spans never meet relTol, and their
   * answer stops changing long before maxIter; exact ones converge first and are then polished.
   */
  stallTol?: number;
  /** Residual balancing every 10 iterations (default true). */
  balance?: boolean;
  /** Warm start U0 (m x B, column per problem). */
  warmStart?: Float64Array;
  /**
   * Per problem, indices of erased rows (NaN/Inf in the data): they are dropped from the objective
   * by imputing r there from the current fit A u every iteration, so they never count as residual
   * (r's values there are restored before returning).
   */
  erased?: Array<Int32Array | null>;
  /** Called every 25 iterations with the worst problem's residuals. */
  onIteration?: (it: number, primal: number, dual: number, done: number) => void;
}

/** The ADMM options a purification's caller sets (the solver supplies warm starts, erasures and callbacks itself). */
export const ADMM_OPTION_NAMES = ["maxIter", "absTol", "relTol", "alpha", "mu", "stallTol", "balance"] as const;

/**
 * Checks a caller's ADMM options once at a public boundary: their names, and numbers that would
 * make the iteration meaningless (a negative cap ran no iteration and reported -10; "x" reported NaN).
 */
export function checkAdmmOptions(where: string, o: unknown): void {
  if (o === undefined) return;
  if (!o || typeof o !== "object" || Array.isArray(o)) throw new OptionError(`${where}: admm must be an object with any of ${ADMM_OPTION_NAMES.join(", ")}`);
  checkOptionNames(`${where}: admm`, o, ADMM_OPTION_NAMES);
  const v = o as Record<string, unknown>, bad = (k: string, want: string) => new OptionError(`${where}: admm.${k} must be ${want}, got ${shown(v[k])}`);
  if (v.maxIter !== undefined && !(Number.isInteger(v.maxIter) && (v.maxIter as number) >= 1)) throw bad("maxIter", "an integer >= 1");
  for (const k of ["absTol", "relTol", "stallTol"]) if (v[k] !== undefined && !(typeof v[k] === "number" && (v[k] as number) >= 0 && Number.isFinite(v[k]))) throw bad(k, "a finite number >= 0");
  if (v.mu !== undefined && !(typeof v.mu === "number" && v.mu > 0 && Number.isFinite(v.mu))) throw bad("mu", "a finite number > 0");
  if (v.alpha !== undefined && !(typeof v.alpha === "number" && v.alpha > 0 && v.alpha < 2)) throw bad("alpha", "a number in (0, 2)");
  if (v.balance !== undefined && typeof v.balance !== "boolean") throw bad("balance", "true or false");
}

export interface LadSolution {
  /** m x B coefficients (column per problem). */
  u: Float64Array;
  /** B x rows residuals A u - r (the estimated contamination, with sign flipped). */
  residual: Float64Array;
  /** ||A u - r||_1 per problem. */
  objective: Float64Array;
  iterations: number;
  converged: boolean;
  /** Stopped because the objective stalled (see stallTol), not because the tolerances were met. */
  stalled: boolean;
  /** Final primal and dual residual norms per problem. */
  primal: Float64Array;
  dual: Float64Array;
  /** Ridge the Gram needed (0 when A has full column rank). */
  ridge: number;
}

/** ADMM's iterates where a run stopped (B x rows z and y, m x B u, per-problem mu): a later run resumes from them. */
export interface AdmmState {
  u: Float64Array;
  z: Float64Array;
  y: Float64Array;
  mu: Float64Array;
}

/**
 * One precision's buffers and products: the loop below is written once over them. f64 runs on the
 * backend's kernels; f32 (the mixed-precision first phase) on backend.f32, with A and A^+ rounded
 * to f32 once.
 */
interface AdmmVectors {
  /** Per problem b, the rows of z, y, A u and r (views for the kernels, by index). */
  readonly B: number;
  rhs(): void;
  uStep(): void;
  apply(): void;
  /** The z and y steps of every active problem (t: thresholds 1 / mu, active 0/1, stats B x 5; all f64). */
  update(alpha: number, t: Buf, active: Buf, stats: Buf): void;
  scaleY(b: number, s: number): void;
  /** sum |A u - r| over problem b's rows. */
  l1(b: number): number;
  /** Live views of r and A u (erased rows of r take the fit). */
  views(): { r: ArrayLike<number> & { [i: number]: number }; au: ArrayLike<number> };
  /** u in f64 (m x B) where the run stopped. */
  u64(): Buf;
  /** The f32 run's iterates, promoted, for an f64 run to resume from (f64 runs have none to give). */
  state?(): Omit<AdmmState, "mu">;
  dispose(): void;
}

function f64Vectors(op: LinearOperator, r: Buf, B: number, chol: GramFactor, pinv: Buf | null, init: AdmmState | null, warmU?: Float64Array): AdmmVectors {
  const be = op.be, N = op.rows, m = op.cols;
  const z = be.alloc(B * N), y = be.alloc(B * N), au = be.alloc(B * N), q = be.alloc(B * N), u = be.alloc(m * B);
  // A factor held in f32 solves G to ~condition x 2^-24 only: the u-step then corrects u by
  // G~^-1 A^T (q - A u) (one refinement step against the f64 operator, at the cost of the plain
  // step), so ADMM's fixed point is the f64 one and the f32 factor only sets how fast it is reached.
  const du = chol.precision === "f32" && !pinv ? be.alloc(m * B) : null;
  // a dense span's A^+ and A^T are the same operands every iteration: packed once for the GEMM
  const packedP = pinv ? be.prepack("a", be.alloc(be.packedLength("a", m, N)), pinv, false, N, m, N) : null;
  const packedAt = pinv ? be.prepack("b", be.alloc(be.packedLength("b", m, N)), op.transposed!(), false, N, m, N) : null;
  const rows = (buf: Buf) => Array.from({ length: B }, (_, b) => be.slice(buf, b * N, N));
  const ys = rows(y), aus = rows(au), rs = rows(r), qs = rows(q);
  if (init) { be.upload(u, init.u); be.upload(z, init.z); be.upload(y, init.y); if (du) op.apply(u, au, B); }
  else {
    // start: z = A u0 - r (u0 = 0 or the warm start), y = 0
    if (warmU) be.upload(u, warmU);
    op.apply(u, au, B);
    be.sub(z, au, r);
  }
  return {
    B,
    rhs() { be.sub(q, r, y); be.axpy(q, 1, z); },
    uStep() {
      if (packedP) be.gemmPrepacked("a", packedP, q, true, N, m, B, N, 0, u, B);
      else if (du) { be.sub(q, q, au); op.applyT(q, du, B); chol.solve(du, B); be.axpy(u, 1, du); }
      else { op.applyT(q, u, B); chol.solve(u, B); }
    },
    // A u = (u^T A^T)^T: the operator's own product, from the packed A^T
    apply() { if (packedAt) be.gemmPrepacked("b", packedAt, u, true, B, B, N, m, 0, au, N); else op.apply(u, au, B); },
    update(alpha, t, active, stats) { be.admmUpdateBatch(z, y, au, r, alpha, t, active, B, stats); },
    scaleY(b, s) { be.scale(ys[b], s); },
    l1(b) { be.sub(qs[b], aus[b], rs[b]); return be.asum(qs[b]); },
    views: () => ({ r: be.view(r), au: be.view(au) }),
    u64: () => u,
    dispose() { for (const buf of [z, y, au, q, u, du, packedP, packedAt]) if (buf) be.free(buf); },
  };
}

function f32Vectors(op: LinearOperator, r: Buf, B: number, pinv: Buf, warmU?: Float64Array): AdmmVectors {
  const be = op.be, s = be.f32, N = op.rows, m = op.cols;
  const At = s.demote(s.alloc(m * N), op.transposed!()), P = s.demote(s.alloc(m * N), pinv), r32 = s.demote(s.alloc(B * N), r);
  const packedP = s.prepack("a", s.alloc(s.packedLength("a", m, N)), P, false, N, m, N);
  const packedAt = s.prepack("b", s.alloc(s.packedLength("b", m, N)), At, false, N, m, N);
  const z = s.alloc(B * N), y = s.alloc(B * N), au = s.alloc(B * N), q = s.alloc(B * N), u = s.alloc(m * B);
  const rows = (buf: Buf32) => Array.from({ length: B }, (_, b) => s.slice(buf, b * N, N));
  const ys = rows(y), aus = rows(au), rs = rows(r32);
  const apply = () => s.gemmPrepacked("b", packedAt, u, true, B, B, N, m, 0, au, N);
  if (warmU) s.view(u).set(warmU);
  apply();
  s.admmRhs(z, au, r32, q); // z = A u - r + 0 (q is still zero)
  const u64 = be.alloc(m * B);
  const f64 = (buf: Buf32) => { const t = be.alloc(buf.length); try { return be.download(s.promote(t, buf)); } finally { be.free(t); } };
  return {
    B,
    rhs() { s.admmRhs(q, r32, y, z); },
    uStep() { s.gemmPrepacked("a", packedP, q, true, N, m, B, N, 0, u, B); },
    apply,
    update(alpha, t, active, stats) { s.admmUpdateBatch(z, y, au, r32, alpha, t, active, B, stats); },
    scaleY(b, k) { s.scale(ys[b], k); },
    l1(b) { return s.l1Diff(aus[b], rs[b]); },
    views: () => ({ r: s.view(r32), au: s.view(au) }),
    u64: () => s.promote(u64, u),
    state: () => ({ u: f64(u), z: f64(z), y: f64(y) }),
    dispose() { for (const buf of [At, P, packedP, packedAt, r32, z, y, au, q, u]) s.free(buf); be.free(u64); },
  };
}

/** Tolerances the f32 phase stops at: its arithmetic cannot resolve residuals below ~1e-6 of the data. */
const F32_REL_TOL = 3e-6;

/**
 * Solves B LAD problems with ADMM; r is B x rows in backend memory. arithmetic "f32" runs the
 * iterations in single precision (dense operators: A^T and A^+ are rounded once) and returns its
 * state, promoted, for an f64 run to resume from (options.resume); the residual it reports is
 * computed in f64 at the promoted u.
 */
export function admmLad(op: LinearOperator, r: Buf, B: number, options: AdmmOptions & { arithmetic?: "f64" | "f32"; resume?: AdmmState } = {}, factor?: GramFactor): LadSolution & { state?: AdmmState } {
  const be = op.be, N = op.rows, m = op.cols;
  const single = options.arithmetic === "f32";
  if (single && !op.transposed) throw new Error("admmLad: f32 arithmetic needs a dense operator (transposed())");
  const maxIter = options.maxIter ?? 5000;
  const absTol = options.absTol ?? 1e-12, relTol = single ? Math.max(options.relTol ?? 1e-10, F32_REL_TOL) : options.relTol ?? 1e-10;
  const alpha = options.alpha ?? 1.6;
  const balance = options.balance ?? true;

  let chol: GramFactor | undefined = factor;
  let ownChol = false;
  if (!chol) {
    chol = Cholesky.fromGram(be, m, (g) => op.gram(g), true);
    ownChol = true;
  }
  // With a dense A^T at hand, A^+ = G^-1 A^T (m x rows) is formed once from the Cholesky factor, so
  // each u-step is one GEMM instead of a product and two triangular solves over the batch.
  let pinv: Buf | null = null;
  if (op.transposed) {
    pinv = be.alloc(m * N);
    be.copy(pinv, op.transposed());
    chol.solve(pinv, N);
  }
  const v = single ? f32Vectors(op, r, B, pinv!, options.warmStart) : f64Vectors(op, r, B, chol, pinv, options.resume ?? null, options.warmStart);
  // per-problem thresholds, active flags and the five sums, for the one batched update per iteration
  const tBuf = be.alloc(B), activeBuf = be.alloc(B), statsBuf = be.alloc(5 * B);
  const mu = new Float64Array(B), primal = new Float64Array(B), dual = new Float64Array(B);
  const done = new Uint8Array(B);
  // Erased rows of r are overwritten by the imputation below; their caller's values come back on exit.
  const savedErased = options.erased?.map((e, b) => (e ? Float64Array.from(e, (i) => be.view(r)[b * N + i]) : null));
  const rNorm = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    const rb = be.slice(r, b * N, N);
    rNorm[b] = Math.sqrt(be.dot(rb, rb));
    mu[b] = options.resume?.mu[b] ?? options.mu ?? 1 / Math.max(rNorm[b] / Math.sqrt(N), 1e-300);
  }

  let it = 0;
  let converged = false, stalled = false;
  const stallTol = options.stallTol ?? 1e-5;
  const history: number[] = [];
  try {
    for (it = 1; it <= maxIter; it++) {
      // u = A^+ (r + z - y), then A u
      v.rhs();
      v.uStep();
      v.apply();
      let all = true;
      let worstP = 0, worstD = 0, nDone = 0;
      if (options.erased) {
        const { r: rv, au: av } = v.views();
        for (let b = 0; b < B; b++) {
          const e = options.erased[b];
          if (e && !done[b]) for (const i of e) rv[b * N + i] = av[b * N + i];
        }
      }
      // A converged problem is frozen: its z and y stop changing, so its answer does not depend
      // on which other problems share the batch (the GEMMs treat columns independently). This
      // makes a split over workers give bit-identical results.
      const tv = be.view(tBuf), av = be.view(activeBuf);
      for (let b = 0; b < B; b++) { tv[b] = 1 / mu[b]; av[b] = done[b] ? 0 : 1; }
      v.update(alpha, tBuf, activeBuf, statsBuf);
      const sv = be.view(statsBuf);
      for (let b = 0; b < B; b++) {
        if (done[b]) { nDone++; continue; }
        const o = 5 * b;
        const rp = Math.sqrt(sv[o]);
        const sd = mu[b] * Math.sqrt(sv[o + 1]);
        const epsP = Math.sqrt(N) * absTol + relTol * Math.max(Math.sqrt(sv[o + 2]), Math.sqrt(sv[o + 3]), rNorm[b]);
        const epsD = Math.sqrt(N) * absTol + relTol * mu[b] * Math.sqrt(sv[o + 4]);
        primal[b] = rp; dual[b] = sd;
        done[b] = rp <= epsP && sd <= epsD ? 1 : 0;
        if (!done[b]) all = false; else nDone++;
        worstP = Math.max(worstP, rp / Math.max(epsP, 1e-300));
        worstD = Math.max(worstD, sd / Math.max(epsD, 1e-300));
        if (balance && it % 10 === 0 && !done[b]) {
          if (rp > 10 * sd) { mu[b] *= 2; v.scaleY(b, 0.5); }
          else if (sd > 10 * rp) { mu[b] /= 2; v.scaleY(b, 2); }
        }
      }
      if (options.onIteration && it % 25 === 0) options.onIteration(it, worstP, worstD, nDone);
      if (all) { converged = true; break; }
      if (it % 50 === 0) {
        let obj = 0;
        for (let b = 0; b < B; b++) obj += v.l1(b);
        history.push(obj);
        const h = history.length;
        if (h > 4 && history[h - 5] - obj <= stallTol * obj) { stalled = true; break; }
      }
    }
    // The objective at u itself (not at the split variable z), in f64; an f32 run also hands back
    // its iterates, promoted, for an f64 run to resume from.
    const u = v.u64(), au = be.alloc(B * N);
    try {
      op.apply(u, au, B);
      be.sub(au, au, r);
      const objective = new Float64Array(B);
      for (let b = 0; b < B; b++) objective[b] = be.asum(be.slice(au, b * N, N));
      return {
        u: be.download(u), residual: be.download(au), objective, iterations: Math.min(it, maxIter), converged, stalled,
        primal, dual, ridge: chol.ridge, state: v.state ? { ...v.state(), mu } : undefined,
      };
    } finally {
      be.free(au);
    }
  } finally {
    if (savedErased) {
      const rv = be.view(r);
      savedErased.forEach((vals, b) => { if (vals) options.erased![b]!.forEach((i, t) => { rv[b * N + i] = vals[t]; }); });
    }
    v.dispose();
    for (const buf of [tBuf, activeBuf, statsBuf]) be.free(buf);
    if (pinv) be.free(pinv);
    if (ownChol) chol.dispose();
  }
}
