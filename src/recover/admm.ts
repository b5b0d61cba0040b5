// Least absolute deviations min_u || A u - r ||_1 by over-relaxed ADMM (DESIGN.md section 3), for
// B problems sharing A:  z = A u - r;  u <- G^-1 A^T (r + z - y);  z <- soft(A u - r + y, 1/mu);
// y <- y + A u - r - z. G = A^T A is factored once; mu is per problem (residual balancing), which
// costs nothing because the u-step does not involve mu in the scaled form.
import type { Buf } from "../backend/types.js";
import { Cholesky } from "../linalg/cholesky.js";
import type { LinearOperator } from "./operator.js";

export interface AdmmOptions {
  /** Iteration cap (default 5000; polishing finishes the job when the support is found). */
  maxIter?: number;
  /** Absolute and relative tolerances of Boyd et al. section 3.3 (defaults 1e-12, 1e-10). */
  absTol?: number;
  relTol?: number;
  /** Over-relaxation in [1, 1.8] (default 1.6). */
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

/** Solves B LAD problems with ADMM; r is B x rows in backend memory. */
export function admmLad(op: LinearOperator, r: Buf, B: number, options: AdmmOptions = {}, factor?: Cholesky): LadSolution {
  const be = op.be, N = op.rows, m = op.cols;
  const maxIter = options.maxIter ?? 5000;
  const absTol = options.absTol ?? 1e-12, relTol = options.relTol ?? 1e-10;
  const alpha = options.alpha ?? 1.6;
  const balance = options.balance ?? true;

  let chol = factor;
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
  const z = be.alloc(B * N), y = be.alloc(B * N), au = be.alloc(B * N), q = be.alloc(B * N);
  const u = be.alloc(m * B);
  const stats = new Float64Array(5);
  const mu = new Float64Array(B), primal = new Float64Array(B), dual = new Float64Array(B);
  const done = new Uint8Array(B);
  const rows = (buf: Buf, b: number): Buf => be.slice(buf, b * N, N);

  // Per-problem slices, made once: the loop below runs thousands of times.
  const zs = Array.from({ length: B }, (_, b) => rows(z, b)), ys = Array.from({ length: B }, (_, b) => rows(y, b));
  const aus = Array.from({ length: B }, (_, b) => rows(au, b)), rs = Array.from({ length: B }, (_, b) => rows(r, b));
  const rowsQ = Array.from({ length: B }, (_, b) => rows(q, b));
  // Erased rows of r are overwritten by the imputation below; their caller's values come back on exit.
  const savedErased = options.erased?.map((e, b) => (e ? Float64Array.from(e, (i) => be.view(r)[b * N + i]) : null));
  const rNorm = new Float64Array(B);
  for (let b = 0; b < B; b++) {
    rNorm[b] = Math.sqrt(be.dot(rs[b], rs[b]));
    mu[b] = options.mu ?? 1 / Math.max(rNorm[b] / Math.sqrt(N), 1e-300);
  }
  // Start: z = A u0 - r (u0 = 0 or the warm start), y = 0.
  if (options.warmStart) be.upload(u, options.warmStart);
  op.apply(u, au, B);
  be.sub(z, au, r);

  let it = 0;
  let converged = false, stalled = false;
  const stallTol = options.stallTol ?? 1e-5;
  const history: number[] = [];
  try {
    for (it = 1; it <= maxIter; it++) {
      // u = G^-1 A^T (r + z - y)
      be.sub(q, r, y);
      be.axpy(q, 1, z);
      if (pinv) be.gemm(false, true, m, B, N, 1, pinv, N, q, N, 0, u, B);
      else { op.applyT(q, u, B); chol.solve(u, B); }
      op.apply(u, au, B);
      let all = true;
      let worstP = 0, worstD = 0, nDone = 0;
      if (options.erased) {
        const rv = be.view(r), av = be.view(au);
        for (let b = 0; b < B; b++) {
          const e = options.erased[b];
          if (e && !done[b]) for (const i of e) rv[b * N + i] = av[b * N + i];
        }
      }
      for (let b = 0; b < B; b++) {
        // A converged problem is frozen: its z and y stop changing, so its answer does not depend
        // on which other problems share the batch (the GEMMs treat columns independently). This
        // makes a split over workers give bit-identical results.
        if (done[b]) { nDone++; continue; }
        be.admmUpdate(zs[b], ys[b], aus[b], rs[b], alpha, 1 / mu[b], stats);
        const rp = Math.sqrt(stats[0]);
        const sd = mu[b] * Math.sqrt(stats[1]);
        const epsP = Math.sqrt(N) * absTol + relTol * Math.max(Math.sqrt(stats[2]), Math.sqrt(stats[3]), rNorm[b]);
        const epsD = Math.sqrt(N) * absTol + relTol * mu[b] * Math.sqrt(stats[4]);
        primal[b] = rp; dual[b] = sd;
        done[b] = rp <= epsP && sd <= epsD ? 1 : 0;
        if (!done[b]) all = false; else nDone++;
        worstP = Math.max(worstP, rp / Math.max(epsP, 1e-300));
        worstD = Math.max(worstD, sd / Math.max(epsD, 1e-300));
        if (balance && it % 10 === 0 && !done[b]) {
          if (rp > 10 * sd) { mu[b] *= 2; be.scale(ys[b], 0.5); }
          else if (sd > 10 * rp) { mu[b] /= 2; be.scale(ys[b], 2); }
        }
      }
      if (options.onIteration && it % 25 === 0) options.onIteration(it, worstP, worstD, nDone);
      if (all) { converged = true; break; }
      if (it % 50 === 0) {
        let obj = 0;
        for (let b = 0; b < B; b++) { be.sub(rowsQ[b], aus[b], rs[b]); obj += be.asum(rowsQ[b]); }
        history.push(obj);
        const h = history.length;
        if (h > 4 && history[h - 5] - obj <= stallTol * obj) { stalled = true; break; }
      }
    }
    // Report the objective at u itself (not at the split variable z).
    op.apply(u, au, B);
    be.sub(au, au, r);
    const objective = new Float64Array(B);
    for (let b = 0; b < B; b++) objective[b] = be.asum(aus[b]);
    return {
      u: be.download(u), residual: be.download(au), objective, iterations: Math.min(it, maxIter), converged, stalled,
      primal, dual, ridge: chol.ridge,
    };
  } finally {
    if (savedErased) {
      const rv = be.view(r);
      savedErased.forEach((vals, b) => { if (vals) options.erased![b]!.forEach((i, t) => { rv[b * N + i] = vals[t]; }); });
    }
    for (const buf of [z, y, au, q, u]) be.free(buf);
    if (pinv) be.free(pinv);
    if (ownChol) chol.dispose();
  }
}
