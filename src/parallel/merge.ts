// Merging the solutions of consecutive shares of a batch into the solution of the whole batch.
import type { BatchSolution } from "../recover/solve.js";

/** sols[i] solved problems [shares[i][0], shares[i][1]); N rows per problem. */
export function mergeShares(sols: BatchSolution[], shares: Array<[number, number]>, N: number): BatchSolution {
  const K = shares[shares.length - 1][1];
  const m = sols[0].u.length / (shares[0][1] - shares[0][0]);
  const out: BatchSolution = {
    u: new Float64Array(m * K), fitted: new Float64Array(K * N), residual: new Float64Array(K * N),
    objective: 0, iterations: 0, converged: true, primal: 0, dual: 0, ridge: 0, polished: [], f32Iterations: 0,
  };
  sols.forEach((s, i) => {
    const [from, to] = shares[i], B = to - from;
    for (let c = 0; c < m; c++) for (let b = 0; b < B; b++) out.u[c * K + from + b] = s.u[c * B + b];
    out.fitted.set(s.fitted, from * N);
    out.residual.set(s.residual, from * N);
    out.polished.push(...s.polished);
    out.objective += s.objective;
    out.iterations = Math.max(out.iterations, s.iterations);
    out.f32Iterations = Math.max(out.f32Iterations, s.f32Iterations);
    out.converged &&= s.converged;
    out.primal = Math.max(out.primal, s.primal);
    out.dual = Math.max(out.dual, s.dual);
    out.ridge = Math.max(out.ridge, s.ridge);
  });
  return out;
}
