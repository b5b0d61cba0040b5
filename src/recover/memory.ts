// How much working memory purify() needs, from the problem's dimensions alone, so that callers
// (the CLI, the edge handler) can refuse a request up front with the number instead of failing
// midway when WebAssembly memory cannot grow.
import type { PatchData } from "../model/data.js";
import type { ModelShape } from "../model/shape.js";
import { layoutOf } from "../model/shape.js";
import type { planLayers } from "../deep/sequential.js";
import { workspaceEntries } from "../deep/sequential.js";
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
 * vectors, and the data; for the linearized spans also, per linearization point (two when
 * re-linearized), the operator's workspace and scratch, its kept NTK and its NTK factors. m is n O
 * (linearized; 2 n O re-linearized) or the largest thin layer's patch count (layerwise).
 */
export function sequentialMemoryEstimate(plan: Plan, samples: number, method: string): number {
  const O = plan.output.C, nO = samples * O;
  const thin = plan.layers.filter((l) => l.rows).map((l) => { const k = samples * l.output.H * l.output.W; return k < l.rowLength ? k : 0; });
  const m = method !== "layerwise" ? nO * (method === "relinearized" ? 2 : 1) : Math.max(0, ...thin);
  const d = plan.layers[0].input, input = samples * d.C * d.H * d.W;
  let points = 0;
  if (method !== "layerwise") {
    // per point: the structured NTK's factors (src/deep/ntk.ts) and work buffers, the operator's workspace and kept NTK
    let factors = 0, extra = 0;
    for (const c of ntkChoices(plan, samples)) {
      const l = plan.layers[c.layer], HW = l.output.H * l.output.W, size = nO * (c.kind === "explicit" ? l.params : l.rows * HW);
      factors += size;
      if (c.kind === "filters") extra = Math.max(extra, 2 * nO * l.rowLength);
      // a conv contraction: (n O)^2 work in the NTK, filter-major copies in a weighted one
      // a dense contraction's weighted rows (denseRows)
      if (c.kind === "contraction" && HW === 1) extra = Math.max(extra, 2 * l.rows * nO + l.rows * l.rowLength + l.rows * samples + samples * samples);
      if (c.kind === "contraction" && HW > 1) extra = Math.max(extra, 2 * nO * nO + samples * samples + samples * nO, 2 * size + 2 * nO * l.rowLength);
    }
    points = (method === "relinearized" ? 2 : 1) * (factors + workspaceEntries(plan, samples) + nO * nO + 3 * plan.size + input + nO) + extra;
  }
  return 8 * (3 * m * m + 12 * plan.size + 4 * input + points);
}

/** WebAssembly (32-bit) memory cannot exceed 4 GiB; keep a margin for the allocator and the data. */
export const WASM_MEMORY_LIMIT = 3.5 * 1024 ** 3;
