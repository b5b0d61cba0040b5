// End-to-end LAD recovery: purify() with ADMM on each backend, against generic LP solvers on the
// same problems (in a worker, stopped at a time cap). Every row carries its accuracy against the
// clean model, so speed is compared at equal accuracy.
import { Worker } from "node:worker_threads";
import type { Backend } from "../src/backend/types.js";
import { createBackend } from "../src/backend/index.js";
import { sparseOutliers } from "../src/contaminate.js";
import { trainInstance } from "../src/experiments/synthetic.js";
import type { TrainedInstance } from "../src/experiments/synthetic.js";
import { layoutOf } from "../src/model/shape.js";
import { SequentialLinearizedOperator } from "../src/deep/linearized.js";
import { oneHiddenAsSequential } from "../src/model/asSequential.js";
import { materialize } from "../src/recover/operator.js";
import { purify } from "../src/recover/purify.js";
import type { SubspaceName } from "../src/recover/purify.js";
import { recoveryErrors } from "../src/recover/report.js";
import { measure } from "./harness.js";
import { runNumpyPeer } from "./numpyPeer.js";
import { uploadAugmented } from "../src/model/data.js";
import type { LadLp, LpSolverName } from "./lpSolvers.js";

export interface RecoveryProblem {
  label: string;
  p: number; patches: number; samples: number; filters: number;
  subspace: SubspaceName;
  rho: number;
  /** SGD step: 0.02 flips patterns (patch span), 1e-7 keeps them (exact linearized span). */
  lr: number;
  lpSolvers: LpSolverName[];
}

export interface RecoveryRow {
  problem: string;
  params: number;
  nk: number;
  method: string;
  seconds: number | null;
  min: number | null;
  max: number | null;
  /** max(weight, bias) relative error against the clean model (null: did not finish). */
  error: number | null;
  status: "ok" | "timeout" | "failed";
  note?: string;
}

function maxErr(got: Float64Array, inst: TrainedInstance): number {
  const e = recoveryErrors(got, inst.trained, inst.shape);
  return Math.max(e.weightRelError, e.biasRelError);
}

/** A as a dense rows x m array, and the per-problem right-hand sides, for the LP solvers. */
async function lpProblems(inst: TrainedInstance, contaminated: Float64Array, subspace: SubspaceName): Promise<{ problems: LadLp[]; fit: (us: Float64Array[]) => Float64Array }> {
  const L = layoutOf(inst.shape), { data, init } = inst;
  if (subspace === "patch") {
    const m = data.samples * data.patches, p = data.patchDim, rows = L.row;
    const a = new Float64Array(rows * m);
    for (let c = 0; c < m; c++) { for (let q = 0; q < p; q++) a[q * m + c] = data.values[c * p + q]; a[p * m + c] = 1; }
    const problems = Array.from({ length: inst.shape.filters }, (_, j) => ({
      a, rows, m, r: Float64Array.from({ length: rows }, (_, q) => contaminated[j * rows + q] - init[j * rows + q]),
    }));
    const fit = (us: Float64Array[]) => {
      const out = init.slice();
      us.forEach((u, j) => { for (let q = 0; q < rows; q++) { let s = 0; for (let c = 0; c < m; c++) s += a[q * m + c] * u[c]; out[j * rows + q] += s; } });
      return out;
    };
    return { problems, fit };
  }
  const be = await createBackend("wasm");
  // the plan's span with the readout frozen, its rows read in the one-hidden layout
  const map = oneHiddenAsSequential(inst.shape);
  const op = new SequentialLinearizedOperator(be, map.plan, data.values, data.samples, map.toSequential(init), [map.readoutLayer]);
  const as = materialize(op), rows = init.length, m = op.cols;
  op.dispose();
  const a = new Float64Array(rows * m);
  for (let i = 0; i < rows; i++) a.set(as.subarray(map.index[i] * m, (map.index[i] + 1) * m), i * m);
  const r = Float64Array.from({ length: rows }, (_, i) => contaminated[i] - init[i]);
  const fit = (us: Float64Array[]) => {
    const out = init.slice();
    for (let i = 0; i < rows; i++) { let s = 0; for (let c = 0; c < m; c++) s += a[i * m + c] * us[0][c]; out[i] += s; }
    return out;
  };
  return { problems: [{ a, rows, m, r }], fit };
}

/** Where the built worker lives: next to the bundled bench (build/bench/lpWorker.mjs). */
export const LP_WORKER_URL = new URL("./lpWorker.mjs", import.meta.url);

function runLpWorker(workerUrl: URL, solver: LpSolverName, problems: LadLp[], capSeconds: number): Promise<{ status: "ok" | "timeout" | "failed"; us?: Float64Array[]; seconds?: number; error?: string }> {
  return new Promise((resolve) => {
    const w = new Worker(workerUrl);
    const timer = setTimeout(() => { void w.terminate(); resolve({ status: "timeout" }); }, capSeconds * 1000);
    w.once("message", (msg: { ok: boolean; us?: Float64Array[]; seconds?: number; error?: string }) => {
      clearTimeout(timer);
      void w.terminate();
      resolve(msg.ok ? { status: "ok", us: msg.us, seconds: msg.seconds } : { status: "failed", error: msg.error });
    });
    w.once("error", (e) => { clearTimeout(timer); resolve({ status: "failed", error: String(e) }); });
    w.postMessage({ solver, problems });
  });
}

/** o.peer: run the numpy + scipy peer (bench/numpyPeer.ts) and ours with 2 workers on the patch-span problems. */
export async function benchRecovery(backends: Backend[], problems: RecoveryProblem[], o: { rounds: number; timeMs: number; lpCapSeconds: number; log: (s: string) => void; workerUrl?: URL; peer?: boolean }): Promise<RecoveryRow[]> {
  const rows: RecoveryRow[] = [];
  for (const pr of problems) {
    const inst = await trainInstance({ p: pr.p, patches: pr.patches, samples: pr.samples, filters: pr.filters, seed: 1, lr: pr.lr, epochs: pr.lr < 1e-4 ? 50 : 300 }, backends[0]);
    const L = layoutOf(inst.shape);
    const { params: contaminated } = sparseOutliers(inst.trained, { rho: pr.rho, scale: 10, seed: 2 });
    const base = { problem: pr.label, params: L.size, nk: pr.samples * pr.patches };
    const opts = (be: Backend, arithmetic: "auto" | "f64") => ({ shape: inst.shape, init: inst.init, data: inst.data, subspace: pr.subspace, backend: be, trainedReadout: false, arithmetic });
    const errors = new Map<string, number>();
    // every backend with the default arithmetic (mixed where the binary has SIMD), and the SIMD one in f64 throughout
    const runs = [...backends.map((be) => ({ be, name: be.name, arithmetic: "auto" as const })),
      ...backends.filter((be) => be.simd).map((be) => ({ be, name: `${be.name} f64`, arithmetic: "f64" as const }))];
    const contenders = runs.map(({ be, name, arithmetic }) => ({
      name,
      fn: async () => { const r = await purify(contaminated, opts(be, arithmetic)); errors.set(name, maxErr(r.params, inst)); },
    }));
    // the patch span's K filter problems split over two workers: what the native peer's two OpenBLAS threads face
    // (workers need the Node entry point, dist/node.js, which registers worker_threads; a pool keeps them)
    const simd = backends.find((be) => be.simd);
    if (pr.subspace === "patch" && simd && o.peer) {
      const node = await import(new URL("../../dist/node.js", import.meta.url).href);
      const name = `${simd.name}, 2 workers`, be = await node.createBackend(simd.name); // one instance, as the other contenders
      await node.purify(contaminated, { ...opts(simd, "auto"), backend: be, workers: 2 });
      contenders.push({ name, fn: async () => { const r = await node.purify(contaminated, { ...opts(simd, "auto"), backend: be, workers: 2 }); errors.set(name, maxErr(r.params, inst)); } });
    }
    const t = await measure(contenders, { ...o, iterations: 1 });
    for (const x of t) rows.push({ ...base, method: `admm (${x.name})`, seconds: x.seconds, min: x.min, max: x.max, error: errors.get(x.name)!, status: "ok" });
    o.log(`  ${pr.label}: ${t.map((x) => `${x.name} ${x.seconds.toFixed(3)}s`).join(", ")}`);
    if (pr.subspace === "patch" && o.peer) {
      // the same problems for numpy + scipy: A^T = the augmented patch rows, r = the filter rows' change
      const m = inst.data.samples * inst.data.patches, N = L.row, K = inst.shape.filters;
      const be = backends[0], xb = uploadAugmented(be, inst.data), xa = be.download(xb);
      be.free(xb);
      const r = Float64Array.from({ length: K * N }, (_, i) => contaminated[i] - inst.init[i]);
      for (const dtype of ["float64", "float32"] as const) {
        const run = runNumpyPeer(xa, m, N, r, K, { threads: 2, dtype, rounds: o.rounds });
        const out = inst.init.slice();
        for (let j = 0; j < K; j++) for (let q = 0; q < N; q++) { let v = 0; for (let c = 0; c < m; c++) v += run.u[c * K + j] * xa[c * N + q]; out[j * N + q] += v; }
        rows.push({ ...base, method: `numpy ${dtype === "float64" ? "f64" : "f32 ADMM + f64 polish"} (OpenBLAS ${run.threads} threads)`, seconds: run.seconds,
          min: Math.min(...run.times), max: Math.max(...run.times), error: maxErr(out, inst), status: "ok", note: `numpy ${run.numpy}, ${run.iterations} iterations` });
        o.log(`  ${pr.label}: numpy ${dtype} ${run.seconds.toFixed(3)}s`);
      }
      (await import(new URL("../../dist/node.js", import.meta.url).href)).closeWorkers();
    }
    if (pr.lpSolvers.length) {
      const lp = await lpProblems(inst, contaminated, pr.subspace);
      for (const solver of pr.lpSolvers) {
        const res = await runLpWorker(o.workerUrl ?? LP_WORKER_URL, solver, lp.problems, o.lpCapSeconds);
        const row: RecoveryRow = { ...base, method: solver, seconds: res.seconds ?? null, min: res.seconds ?? null, max: res.seconds ?? null, error: null, status: res.status };
        if (res.status === "ok") row.error = maxErr(lp.fit(res.us!), inst);
        if (res.status === "timeout") row.note = `no answer within ${o.lpCapSeconds} s`;
        if (res.status === "failed") row.note = res.error;
        rows.push(row);
        o.log(`  ${pr.label}: ${solver} ${res.status}${res.seconds ? ` ${res.seconds.toFixed(2)}s` : ""}`);
      }
    }
  }
  return rows;
}
