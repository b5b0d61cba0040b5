// Splitting the K filter problems of the patch span over workers. Each worker has its own WASM
// instance and solves a contiguous share; the shares are merged in order. The environment supplies
// how a worker is started (worker_threads in Node, Web Workers in browsers) via setWorkerFactory:
// the core itself imports neither, so it stays loadable in edge runtimes.
import { OptionError } from "../errors.js";
import type { BatchSolution } from "../recover/solve.js";
import type { FilterShareRequest, FilterShareResponse } from "./protocol.js";
import { mergeShares } from "./merge.js";

/** A started worker: answers FilterShareRequests one at a time. */
export interface PoolWorker {
  run(req: FilterShareRequest): Promise<FilterShareResponse>;
  /** Lets the process exit while this worker sits idle in the pool (Node), or nothing. */
  idle(): void;
  terminate(): void;
}
export type WorkerFactory = () => PoolWorker;

let factory: WorkerFactory | null = null;
// Idle workers are kept for the next call: starting one (loading the code, compiling the WASM,
// warming the JIT) costs more than a small problem's whole solve.
const idleWorkers: PoolWorker[] = [];

/** Registered by the Node and browser entry points; edge builds leave it unset (one thread). */
export function setWorkerFactory(f: WorkerFactory | null): void {
  closeWorkers();
  factory = f;
}

/** Terminates the idle workers kept between calls. */
export function closeWorkers(): void {
  while (idleWorkers.length) idleWorkers.pop()!.terminate();
}

export function hasWorkers(): boolean {
  return factory !== null;
}

/** Solves the filter problems in `workers` shares; merges the solutions as one batch would. */
export async function solveFiltersInWorkers(req: FilterShareRequest, workers: number): Promise<BatchSolution> {
  if (!factory) throw new OptionError("purify: workers > 1 needs worker support, which this runtime's entry point does not provide (use the Node or browser build)");
  const K = req.filters, N = req.rowLength;
  const shares: Array<[number, number]> = [];
  const size = Math.ceil(K / workers);
  for (let s = 0; s < K; s += size) shares.push([s, Math.min(K, s + size)]);
  const started = shares.map(() => idleWorkers.pop() ?? factory!());
  let failed = false;
  try {
    const parts = await Promise.all(shares.map(([from, to], i) => started[i].run({
      ...req, filters: to - from, r: req.r.slice(from * N, to * N), erased: req.erased.slice(from, to), floor: req.floor?.slice(from * N, to * N),
    })));
    const sols = parts.map((p) => { if (!p.ok) throw new Error(`purify worker: ${p.error}`); return p.solution; });
    return mergeShares(sols, shares, N);
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    for (const w of started) {
      if (failed) w.terminate();
      else { w.idle(); idleWorkers.push(w); }
    }
  }
}

