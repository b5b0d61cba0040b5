// How much working memory purify() needs, from the problem's dimensions alone, so that callers
// (the CLI, the edge handler) can refuse a request up front with the number instead of failing
// midway when WebAssembly memory cannot grow.
import type { PatchData } from "../model/data.js";
import type { ModelShape } from "../model/shape.js";
import { layoutOf } from "../model/shape.js";
import type { planLayers } from "../deep/sequential.js";
import { ntkChoices } from "../deep/ntk.js";

type Plan = ReturnType<typeof planLayers>;

/** Bytes purify needs for this problem (an upper estimate: Grams, factors, ADMM state, data). */
export function memoryEstimate(shape: ModelShape, data: Pick<PatchData, "samples" | "patches">, subspace: string): number {
  const L = layoutOf(shape);
  const rows = data.samples * data.patches;
  const m = subspace === "patch" ? rows : data.samples * shape.outputs * (subspace === "relinearized" ? 2 : 1);
  return 8 * (12 * L.size + 3 * rows * (L.row) + 3 * m * m + 3 * rows * shape.filters + 2 * m * L.row);
}

/**
 * Bytes a multi-layer purification needs: the span's Gram and factor (m x m), parameter-sized
 * vectors, and the data. m is n O (linearized; 2 n O re-linearized) or the largest thin layer's
 * patch count (layerwise).
 */
export function sequentialMemoryEstimate(plan: Plan, samples: number, method: string): number {
  const O = plan.output.C, nO = samples * O;
  const thin = plan.layers.filter((l) => l.rows).map((l) => { const k = samples * l.output.H * l.output.W; return k < l.rowLength ? k : 0; });
  const m = method !== "layerwise" ? nO * (method === "relinearized" ? 2 : 1) : Math.max(0, ...thin);
  const d = plan.layers[0].input;
  // the structured NTK's factors (two points at once for a cross block) and its work buffers
  let factors = 0, contraction = false;
  if (method !== "layerwise") {
    for (const c of ntkChoices(plan, samples)) {
      const l = plan.layers[c.layer];
      factors += nO * (c.kind === "explicit" ? l.params : l.rows * l.output.H * l.output.W) + (c.kind === "filters" ? 2 * nO * l.rowLength : 0);
      contraction ||= c.kind === "contraction";
    }
    factors = (method === "relinearized" ? 2 : 1) * factors + (contraction ? 2 * nO * nO + samples * samples + samples * nO : 0);
  }
  return 8 * (3 * m * m + 12 * plan.size + 4 * samples * d.C * d.H * d.W + factors);
}

/** WebAssembly (32-bit) memory cannot exceed 4 GiB; keep a margin for the allocator and the data. */
export const WASM_MEMORY_LIMIT = 3.5 * 1024 ** 3;
