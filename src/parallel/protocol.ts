// The message a worker receives to solve a share of a layer's row problems in its patch span (the
// one-hidden-layer filters, or any layer of the layerwise method), and what it sends back. Plain
// data (typed arrays), so it crosses worker_threads and Web Worker boundaries.
import type { BackendName } from "../backend/types.js";
import { createBackend } from "../backend/index.js";
import type { AdmmOptions } from "../recover/admm.js";
import { PatchSpanOperator } from "../recover/operator.js";
import type { Arithmetic, BatchSolution, SolverName } from "../recover/solve.js";
import { solveBatch } from "../recover/solve.js";
import { mergeShares } from "./merge.js";

export interface FilterShareRequest {
  backend: BackendName;
  /** The layer's augmented patch rows (patches x rowLength), which span each row's update. */
  cols: Float64Array;
  patches: number;
  /** rows x filters of this share: theta~ - theta0, one filter row after another. */
  r: Float64Array;
  filters: number;
  rowLength: number;
  erased: Array<Int32Array | null>;
  solver: SolverName;
  arithmetic?: Arithmetic;
  admm?: Omit<AdmmOptions, "onIteration" | "warmStart" | "erased">;
  polish?: boolean;
  /** Per entry of r: the storage-rounding floor (see precisionFloor), or absent for f64 models. */
  floor?: Float64Array;
}

export type FilterShareResponse = { ok: true; solution: BatchSolution } | { ok: false; error: string };

/** Filters solved together inside a worker: small enough that a batch's ADMM state stays in cache
 *  while the other core works on its own share. Results do not depend on it (converged problems
 *  are frozen and GEMM columns are independent). */
export const WORKER_CHUNK = 64;

/** Solves one share in the calling thread (what every worker runs), WORKER_CHUNK filters at a time. */
export async function solveFilterShare(req: FilterShareRequest): Promise<BatchSolution> {
  const be = await createBackend(req.backend);
  const xa = be.upload(be.alloc(req.cols.length), req.cols);
  const N = req.rowLength, m = req.patches;
  const parts: BatchSolution[] = [];
  const ranges: Array<[number, number]> = [];
  try {
    for (let from = 0; from < req.filters; from += WORKER_CHUNK) {
      const to = Math.min(req.filters, from + WORKER_CHUNK);
      const op = new PatchSpanOperator(be, xa, m, N, to - from);
      try {
        parts.push(await solveBatch(op, req.r.subarray(from * N, to * N), to - from,
          { solver: req.solver, arithmetic: req.arithmetic, admm: req.admm, polish: req.polish, erased: req.erased.slice(from, to), floor: req.floor?.subarray(from * N, to * N) }));
      } finally {
        op.dispose();
      }
      ranges.push([from, to]);
    }
  } finally {
    be.free(xa);
  }
  return mergeShares(parts, ranges, N);
}

export async function handleRequest(req: FilterShareRequest): Promise<FilterShareResponse> {
  try {
    return { ok: true, solution: await solveFilterShare(req) };
  } catch (e) {
    return { ok: false, error: (e as Error).message ?? String(e) };
  }
}
