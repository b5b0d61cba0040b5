// The re-linearized span's two-pass solve, written once for every model: LAD in the span at init;
// unless that first pass is already certified exact, LAD again in the union with the span at the
// first pass's model (warm-started from the first pass, the union's Gram factored once).
import type { GramFactor, GramRecord } from "../linalg/cholesky.js";
import type { LinearOperator } from "./operator.js";
import { ConcatOperator } from "./operator.js";
import type { BatchSolution, SolveOptions } from "./solve.js";
import { factorSpan, solveBatch } from "./solve.js";

export interface RelinearizedSolution {
  first: BatchSolution;
  /** The answer: the first pass when it was exact (or relinearize was off), else the second. */
  solution: BatchSolution;
  /** The span of the answer and its factor (for reports); owned here until dispose(). */
  op: LinearOperator;
  factor: GramFactor | undefined;
  /** How the union's Gram was factored (undefined after one pass: the caller's factor). */
  record?: GramRecord;
  dispose(): void;
}

/**
 * delta: the contaminated change (one problem, the rows of op0). spanAt(theta1) builds the second
 * linearization at the first pass's parameters init + fit. exact(first) stops after the first pass
 * (a union of two nearly equal spans would only be ill-conditioned).
 */
export async function relinearizedSolve(op0: LinearOperator, factor0: GramFactor | undefined, delta: Float64Array, init: Float64Array,
  o: { relinearize: boolean; spanAt: (theta1: Float64Array) => LinearOperator; exact: (first: BatchSolution) => boolean;
    first: Omit<SolveOptions, "factor">; second: Omit<SolveOptions, "factor" | "warmStart"> }): Promise<RelinearizedSolution> {
  const first = await solveBatch(op0, delta, 1, { ...o.first, factor: factor0 });
  if (!o.relinearize || o.exact(first)) return { first, solution: first, op: op0, factor: factor0, dispose: () => {} };
  const op1 = o.spanAt(init.map((v, i) => v + first.fitted[i]));
  const both = new ConcatOperator(op0.be, [op0, op1]);
  let factor: GramFactor | undefined;
  const dispose = () => { factor?.dispose(); both.dispose(); op1.dispose(); };
  try {
    const f = factorSpan(both, o.second.arithmetic);
    factor = f.factor;
    const warm = new Float64Array(both.cols);
    warm.set(first.u);
    const solution = await solveBatch(both, delta, 1, { ...o.second, factor, warmStart: warm });
    return { first, solution, op: both, factor, record: f.record, dispose };
  } catch (e) {
    dispose();
    throw e;
  }
}
