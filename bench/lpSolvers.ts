// The LAD problem min ||A u - r||_1 as an LP, in each generic solver's own model format:
//   min sum_i t_i   s.t.  (A u)_i - t_i <= r_i,  (A u)_i + t_i >= r_i,  u free, t >= 0.
// Solvers whose variables are non-negative get u = u+ - u-.
import { ladToLp, loadHighs } from "../src/recover/highs.js";

export type LpSolverName = "highs" | "glpk.js" | "yalps" | "javascript-lp-solver";
export const LP_SOLVERS: LpSolverName[] = ["highs", "glpk.js", "yalps", "javascript-lp-solver"];

export interface LadLp { a: Float64Array; rows: number; m: number; r: Float64Array }

/** Solves one LAD problem; returns u (m). Throws when the solver does not report an optimum. */
export async function solveLp(name: LpSolverName, p: LadLp): Promise<Float64Array> {
  const { a, rows, m, r } = p;
  const u = new Float64Array(m);
  if (name === "highs") {
    const h = await loadHighs();
    const sol = h.solve(ladToLp(a, rows, m, r), { solver: "simplex" });
    if (sol.Status !== "Optimal") throw new Error(`highs: ${sol.Status}`);
    for (let c = 0; c < m; c++) u[c] = (sol.Columns as Record<string, { Primal: number }>)[`u${c}`]?.Primal ?? 0;
    return u;
  }
  if (name === "glpk.js") {
    const glpk = await (await import("glpk.js/node")).default();
    const vars = (i: number, sign: number) => [
      ...Array.from({ length: m }, (_, c) => ({ name: `u${c}`, coef: a[i * m + c] })).filter((v) => v.coef !== 0),
      { name: `t${i}`, coef: sign },
    ];
    const lp = {
      name: "lad",
      objective: { direction: glpk.GLP_MIN, name: "obj", vars: Array.from({ length: rows }, (_, i) => ({ name: `t${i}`, coef: 1 })) },
      subjectTo: Array.from({ length: rows }, (_, i) => [
        { name: `a${i}`, vars: vars(i, -1), bnds: { type: glpk.GLP_UP, ub: r[i], lb: 0 } },
        { name: `b${i}`, vars: vars(i, 1), bnds: { type: glpk.GLP_LO, ub: 0, lb: r[i] } },
      ]).flat(),
      bounds: Array.from({ length: m }, (_, c) => ({ name: `u${c}`, type: glpk.GLP_FR, ub: 0, lb: 0 })),
    };
    const res = glpk.solve(lp, { msglev: glpk.GLP_MSG_OFF });
    if (res.result.status !== glpk.GLP_OPT) throw new Error(`glpk.js: status ${res.result.status}`);
    for (let c = 0; c < m; c++) u[c] = res.result.vars[`u${c}`] ?? 0;
    return u;
  }
  // yalps and javascript-lp-solver share a model shape: variables map constraint names to coefficients.
  const constraints: Record<string, { max?: number; min?: number }> = {};
  const variables: Record<string, Record<string, number>> = {};
  for (let i = 0; i < rows; i++) {
    constraints[`a${i}`] = { max: r[i] };
    constraints[`b${i}`] = { min: r[i] };
    variables[`t${i}`] = { obj: 1, [`a${i}`]: -1, [`b${i}`]: 1 };
  }
  const split = name === "yalps";
  for (let c = 0; c < m; c++) {
    const col: Record<string, number> = {};
    for (let i = 0; i < rows; i++) {
      const v = a[i * m + c];
      if (v !== 0) { col[`a${i}`] = v; col[`b${i}`] = v; }
    }
    if (split) {
      variables[`up${c}`] = col;
      variables[`un${c}`] = Object.fromEntries(Object.entries(col).map(([k, v]) => [k, -v]));
    } else {
      variables[`u${c}`] = col;
    }
  }
  if (name === "yalps") {
    const { solve } = await import("yalps");
    const sol = solve({ direction: "minimize", objective: "obj", constraints, variables });
    if (sol.status !== "optimal") throw new Error(`yalps: ${sol.status}`);
    const vals = new Map(sol.variables);
    for (let c = 0; c < m; c++) u[c] = (vals.get(`up${c}`) ?? 0) - (vals.get(`un${c}`) ?? 0);
    return u;
  }
  const solver = (await import("javascript-lp-solver")).default as unknown as { Solve(model: unknown): Record<string, number | boolean> };
  const unrestricted = Object.fromEntries(Array.from({ length: m }, (_, c) => [`u${c}`, 1]));
  const sol = solver.Solve({ optimize: "obj", opType: "min", constraints, variables, unrestricted });
  if (!sol.feasible) throw new Error("javascript-lp-solver: infeasible");
  for (let c = 0; c < m; c++) u[c] = Number(sol[`u${c}`] ?? 0);
  return u;
}
