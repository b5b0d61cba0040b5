// How much working memory purify() needs, from the problem's dimensions alone, so that callers
// (the CLI, the edge handler) can refuse a request up front with the number instead of failing
// midway when WebAssembly memory cannot grow.
import type { PatchData } from "../model/data.js";
import type { ModelShape } from "../model/shape.js";
import { layoutOf } from "../model/shape.js";

/** Bytes purify needs for this problem (an upper estimate: Grams, factors, ADMM state, data). */
export function memoryEstimate(shape: ModelShape, data: Pick<PatchData, "samples" | "patches">, subspace: string): number {
  const L = layoutOf(shape);
  const rows = data.samples * data.patches;
  const m = subspace === "patch" ? rows : data.samples * shape.outputs * (subspace === "relinearized" ? 2 : 1);
  return 8 * (12 * L.size + 3 * rows * (L.row) + 3 * m * m + 3 * rows * shape.filters + 2 * m * L.row);
}

/** WebAssembly (32-bit) memory cannot exceed 4 GiB; keep a margin for the allocator and the data. */
export const WASM_MEMORY_LIMIT = 3.5 * 1024 ** 3;
