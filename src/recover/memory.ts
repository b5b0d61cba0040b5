// How much working memory purify() needs, from the problem's dimensions alone, so that callers
// (the CLI, the edge handler) can refuse a request up front with the number instead of failing
// midway when WebAssembly memory cannot grow.
import { OptionError, checkInt } from "../errors.js";
import type { Network } from "../model/planView.js";
import { viewOf } from "../model/planView.js";
import type { planLayers } from "../deep/sequential.js";
import { workspaceEntries } from "../deep/sequential.js";
import { GROUP_ENTRIES, ntkChoices } from "../deep/ntk.js";

type Plan = ReturnType<typeof planLayers>;

/**
 * Bytes purify needs for a network of the one family on n samples in this span (an upper estimate:
 * Grams, factors, ADMM state, data), counted on its plan (planMemoryEstimate; the one-hidden
 * model's patch span is the layerwise method on its plan).
 */
export function memoryEstimate(net: Network, samples: number, subspace: string): number {
  checkInt("memoryEstimate", "samples", samples);
  const spans = ["patch", "layerwise", "linearized", "relinearized"];
  if (!spans.includes(subspace)) throw new OptionError(`memoryEstimate: unknown subspace "${subspace}" (known: ${spans.join(", ")})`);
  return planMemoryEstimate(viewOf(net).plan, samples, subspace === "patch" ? "layerwise" : subspace);
}

/**
 * Entries of one point's structured NTK factors (src/deep/ntk.ts) for n samples, and the largest
 * work buffers a layer's product takes while it is formed.
 */
function ntkEntries(plan: Plan, samples: number, frozen: readonly number[] = []): { factors: number; extra: number } {
  const O = plan.output.C, nO = samples * O;
  let factors = 0, extra = 0;
  for (const c of ntkChoices(plan, samples, frozen)) {
    const l = plan.layers[c.layer], HW = l.output.H * l.output.W, size = c.kind === "factored" ? 0 : nO * (c.kind === "explicit" ? l.params : l.rows * HW);
    factors += size;
    // filter by filter: two groups of filters' rows (at one point: one, and its f32 copies, one
    // group's bytes), the group's weights; factored also their signals and the mask, readout block and its copies
    const group = Math.max(nO * l.rowLength, Math.min(GROUP_ENTRIES, l.rows * nO * l.rowLength));
    if (c.kind === "filters") extra = Math.max(extra, 2 * group + l.rows * l.rowLength);
    if (c.kind === "factored") extra = Math.max(extra, 2 * group + l.rows * l.rowLength + 3 * nO * HW + samples * HW + O * HW + O);
    // an explicit block's f32 copy and a chunk of rows in f32 (an NTK summed in f32)
    if (c.kind === "explicit") extra = Math.max(extra, size / 2 + (1 << 19));
    // a dense contraction's weighted rows (denseRows)
    if (c.kind === "contraction" && HW === 1) extra = Math.max(extra, 2 * l.rows * nO + l.rows * l.rowLength + l.rows * samples + samples * samples);
    // a conv contraction: (n O)^2 work in the NTK, filter-major copies in a weighted one
    if (c.kind === "contraction" && HW > 1) extra = Math.max(extra, 2 * nO * nO + samples * samples + samples * nO, 2 * size + 2 * nO * l.rowLength);
  }
  return { factors, extra };
}

/**
 * Bytes a purification on a plan needs: the span's Gram and factor and polish's weighted Gram (m x m;
 * the linearized span keeps no NTK beside its factor, src/recover/purify.ts keeps it only for the
 * re-linearized union), parameter-sized vectors, and the data; for the linearized spans also, per
 * linearization point (two when re-linearized), the operator's workspace and scratch and its NTK
 * factors. m is n O (linearized; 2 n O re-linearized). Layerwise: see below.
 */
export function planMemoryEstimate(plan: Plan, samples: number, method: string): number {
  const O = plan.output.C, nO = samples * O;
  const d = plan.layers[0].input, input = samples * d.C * d.H * d.W;
  if (method === "layerwise") {
    // the plan's workspace (every layer's outputs and patch rows) and the data, held throughout; per
    // thin layer, solved one at a time: its Gram, factor and weighted Gram (m x m), the rows' ADMM
    // vectors (m per row) and copies of its patch rows (polish's scaled ones, a worker's share)
    const solve = plan.layers.filter((l) => l.rows).map((l) => { const m = samples * l.output.H * l.output.W; return m < l.rowLength ? 3 * m * m + 3 * m * l.rows + 5 * m * l.rowLength : 0; });
    return 8 * (Math.max(0, ...solve) + 12 * plan.size + input + workspaceEntries(plan, samples, true));
  }
  const m = nO * (method === "relinearized" ? 2 : 1), ntk = ntkEntries(plan, samples);
  const points = (method === "relinearized" ? 2 : 1) * (ntk.factors + workspaceEntries(plan, samples) + 3 * plan.size + input) + ntk.extra;
  return 8 * ((method === "linearized" ? 2 : 3) * m * m + 12 * plan.size + 3 * input + points);
}

/** WebAssembly (32-bit) memory cannot exceed 4 GiB; keep a margin for the allocator and the data. */
export const WASM_MEMORY_LIMIT = 3.5 * 1024 ** 3;
