// Activation patterns: how many ReLU units changed sign between two parameter vectors, the measure
// of how far training left the lazy regime (where the linearized span is exact).
import type { Backend } from "../backend/types.js";
import type { planLayers } from "./sequential.js";
import { SequentialWorkspace, sequentialForward } from "./sequential.js";

/**
 * Fraction of the ReLU inputs (every ReLU layer, n inputs x of the plan) whose sign differs between
 * theta a and theta b (plan coordinates; the one-hidden-layer CNN's through oneHiddenAsSequential).
 */
export function reluFlipRate(be: Backend, plan: ReturnType<typeof planLayers>, x: Float64Array, n: number, a: Float64Array, b: Float64Array): number {
  const ws = new SequentialWorkspace(be, plan, n);
  const xb = be.upload(be.alloc(x.length), x), t = be.alloc(plan.size);
  const signs = (theta: Float64Array) => {
    sequentialForward(ws, be.upload(t, theta), xb);
    return plan.layers.flatMap((l, i) => (l.spec.type === "relu" && i > 0 ? [be.download(ws.acts[i - 1]).map((v) => (v > 0 ? 1 : 0))] : []));
  };
  try {
    const sa = signs(a), sb = signs(b);
    let flips = 0, total = 0;
    sa.forEach((arr, k) => { for (let i = 0; i < arr.length; i++) { total++; if (arr[i] !== sb[k][i]) flips++; } });
    return total ? flips / total : 0;
  } finally {
    ws.dispose(); be.free(xb); be.free(t);
  }
}
