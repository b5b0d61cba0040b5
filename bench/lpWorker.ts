// Runs LP solves in a worker thread so the benchmark can stop a solver at its time cap.
import { parentPort } from "node:worker_threads";
import type { LadLp, LpSolverName } from "./lpSolvers.js";
import { solveLp } from "./lpSolvers.js";

parentPort!.on("message", async (msg: { solver: LpSolverName; problems: LadLp[] }) => {
  try {
    // Load and warm the solver on a 2-row problem so its startup is not timed.
    await solveLp(msg.solver, { a: new Float64Array([1, 1]), rows: 2, m: 1, r: new Float64Array([1, 2]) });
    const t0 = performance.now();
    const us: Float64Array[] = [];
    for (const p of msg.problems) us.push(await solveLp(msg.solver, p));
    parentPort!.postMessage({ ok: true, us, seconds: (performance.now() - t0) / 1000 });
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: String((e as Error).message ?? e) });
  }
});
