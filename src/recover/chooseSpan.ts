// The defaults that choose the method, in one place: which span `auto` purifies in, whether the
// readout was trained, how long ADMM runs, and the warnings an explicit choice earns when its span
// cannot remove anything. Every threshold is here, with the measurement it comes from.
import type { ModelShape } from "../model/shape.js";
import { layoutOf } from "../model/shape.js";
import { memoryEstimate, sequentialMemoryEstimate, WASM_MEMORY_LIMIT } from "./memory.js";
import type { planLayers } from "../deep/sequential.js";

export type SpanName = "patch" | "linearized" | "relinearized" | "layerwise";

export const SPAN_RULE = {
  /**
   * The patch span is used while n k / (p + 1) <= 0.5. The phase diagram (docs/phase) measures the
   * breakdown rho* = 0.45 at a ratio of 0.12, 0.30 at 0.25, 0.15 at 0.37, 0.10 at 0.49, 0.05 at
   * 0.62 and none from 0.74: up to 0.5 the patch span removes at least 10% contamination exactly.
   */
  patchRatio: 0.5,
  /** The linearized spans are re-linearized while n O <= 3,000 (the union's NTK is 2 n O square). */
  relinearizeColumns: 3000,
  /** A readout equal to init in at least this fraction of its entries was frozen (see chooseReadout). */
  frozenReadoutFraction: 0.5,
  /** ADMM's cap on approximate spans, and on exact ones (patch; layerwise). */
  approximateMaxIter: 150,
  exactMaxIter: 5000,
  /**
   * Warn when the span leaves more than this share of the model's change unexplained (spanFit):
   * measured values are in the README's multi-layer section (LeNet-5 against the networks where
   * purification works).
   */
  unexplainedWarn: 0.5,
  /**
   * BatchNorm's gamma and beta (per-channel scalars no span constrains, src/deep/layerwise.ts): an
   * update beyond this many robust standard deviations of its tensor's is restored. PyTorch's
   * BatchNorm fixture: clean updates reach 1.6, outliers of 10 std of the tensor 5.6-9.3 (and two at
   * 1.7-1.8, indistinguishable from training); a normal update passes 3.5 with probability 5e-4.
   */
  channelOutlierZ: 3.5,
} as const;

/** The warning a purification earns when its span cannot hold the model's change, or null. */
export function spanHoldWarning(unexplained: number, subspace: string): string | null {
  if (!(unexplained > SPAN_RULE.unexplainedWarn)) return null;
  return `the ${subspace} span leaves ${(100 * unexplained).toFixed(0)}% of the model's change unexplained (on the entries not flagged as contaminated; ` +
    `a span that holds the training's update leaves ~0%, > ${100 * SPAN_RULE.unexplainedWarn}% warns): it cannot hold this training's update, and the purified model is not a recovery of the clean one`;
}

export interface SpanChoice {
  subspace: SpanName;
  /** One line: the span and why. */
  reason: string;
  /** Spans that cannot remove anything, said with the numbers. */
  warnings: string[];
  /** The chosen span is the whole space for some rows: nothing there can be located or certified. */
  covers: boolean;
}

const fmt = (x: number) => x.toLocaleString("en-US");

const linearizedWarnings = (nO: number, P: number) =>
  nO >= P ? [`the linearized span has n O = ${fmt(nO)} columns for ${fmt(P)} parameters: it covers them all, nothing can be removed; use fewer samples`] : [];

/** The linearized family for a model whose update has `P` entries and span n O columns. */
function linearizedChoice(nO: number, P: number, why: string, fits: (s: string) => boolean): SpanChoice {
  const warnings = linearizedWarnings(nO, P), covers = warnings.length > 0;
  if (nO <= SPAN_RULE.relinearizeColumns && fits("relinearized")) {
    return { subspace: "relinearized", reason: `${why}: using relinearized (n O = ${fmt(nO)} <= ${fmt(SPAN_RULE.relinearizeColumns)})`, warnings, covers };
  }
  const not = nO > SPAN_RULE.relinearizeColumns ? `n O = ${fmt(nO)} > ${fmt(SPAN_RULE.relinearizeColumns)}` : "the union's NTK would exceed the memory limit";
  return { subspace: "linearized", reason: `${why}: using linearized (not relinearized: ${not})`, warnings, covers };
}

/**
 * The span for the one-hidden-layer model. `requested` "auto" (or undefined) applies the rule;
 * an explicit span is kept, with warnings when it covers the whole space.
 */
export function chooseSpan(shape: ModelShape, samples: number,
  o: { requested?: string; trainedReadout?: boolean; weightDecay?: boolean; memoryLimit?: number; rowTensors?: string[] } = {}): SpanChoice {
  const L = layoutOf(shape);
  // the weight-decay column (init row) is one more column of the span, not more data: the ratio is the data's
  const cols = samples * shape.patches + (o.weightDecay ? 1 : 0), ratio = samples * shape.patches / L.row;
  const P = o.trainedReadout === false ? L.wSize : L.size, nO = samples * shape.outputs;
  const patchWhy = `patch span: ${fmt(cols)} patches for filter rows of p + 1 = ${fmt(L.row)} entries (ratio ${ratio.toFixed(2)})`;
  const covers = cols >= L.row ? [`the patch span covers R^${L.row} (${fmt(cols)} patches >= ${fmt(L.row)}): every filter row [w_j ; b_j] (${o.rowTensors?.join(", ") || "the convolution's weight and bias"}) is in it, nothing can be removed there`] : [];
  const requested = o.requested ?? "auto";
  if (requested === "patch") return { subspace: "patch", reason: `patch span as asked (${fmt(cols)} patches, rows of ${fmt(L.row)})`, warnings: covers, covers: covers.length > 0 };
  const limit = o.memoryLimit ?? WASM_MEMORY_LIMIT;
  const fits = (s: string) => memoryEstimate(shape, { samples, patches: shape.patches }, s) <= limit;
  if (requested === "linearized" || requested === "relinearized") {
    const warnings = linearizedWarnings(nO, P);
    return { subspace: requested, reason: `${requested} span as asked (n O = ${fmt(nO)} columns, P = ${fmt(P)})`, warnings, covers: warnings.length > 0 };
  }
  if (ratio <= SPAN_RULE.patchRatio) return { subspace: "patch", reason: `${patchWhy} <= ${SPAN_RULE.patchRatio}: exact recovery`, warnings: [], covers: false };
  return linearizedChoice(nO, P, `${patchWhy} > ${SPAN_RULE.patchRatio}${cols >= L.row ? ", it covers R^" + L.row : ""}`, fits);
}

type Plan = ReturnType<typeof planLayers>;

/**
 * The span for a sequential (multi-layer) model: layerwise when every trained conv/dense layer's
 * own patch span is thin (or the layer is frozen), else the linearized family.
 */
export function chooseSequentialSpan(plan: Plan, samples: number,
  o: { requested?: string; frozen?: number[]; memoryLimit?: number; layerTensors?: (layer: number) => string[] } = {}): SpanChoice {
  const frozen = new Set(o.frozen ?? []);
  const layers = plan.layers.map((l, i) => ({ i, l })).filter(({ i, l }) => l.rows && !frozen.has(i));
  const ratios = layers.map(({ i, l }) => ({ i, type: l.spec.type, cols: samples * l.output.H * l.output.W, row: l.rowLength }));
  const wide = ratios.filter((r) => r.cols >= r.row);
  const covers = wide.map((r) => `layer ${r.i} (${r.type}${o.layerTensors ? ": " + o.layerTensors(r.i).join(", ") : ""}): its patch span covers R^${r.row} (${fmt(r.cols)} patches >= ${fmt(r.row)}), nothing can be removed there layerwise`);
  const O = plan.output.C, nO = samples * O;
  const requested = o.requested ?? "auto";
  if (requested === "layerwise") return { subspace: "layerwise", reason: "layerwise as asked", warnings: covers, covers: covers.length > 0 };
  const limit = o.memoryLimit ?? WASM_MEMORY_LIMIT;
  const fits = (s: string) => sequentialMemoryEstimate(plan, samples, s) <= limit;
  if (requested === "linearized" || requested === "relinearized") {
    const warnings = linearizedWarnings(nO, plan.size);
    return { subspace: requested, reason: `${requested} span as asked (n O = ${fmt(nO)} columns, P = ${fmt(plan.size)})`, warnings, covers: warnings.length > 0 };
  }
  const thick = ratios.filter((r) => r.cols / r.row > SPAN_RULE.patchRatio);
  if (!thick.length) {
    return { subspace: "layerwise", reason: `every trained layer's patch span is thin (ratio <= ${SPAN_RULE.patchRatio}${frozen.size ? `; frozen: ${[...frozen].join(", ")}` : ""}): layerwise`, warnings: [], covers: false };
  }
  const t = thick[0];
  return linearizedChoice(nO, plan.size, `layer ${t.i} (${t.type}) has ${fmt(t.cols)} patches for rows of ${fmt(t.row)}`, fits);
}

/**
 * Whether training updated the readout, from the files: a readout equal to its init in at least
 * half its entries was frozen. Any SGD step moves essentially every entry of a trained readout, and
 * contamination changes only a fraction of a frozen one (the issue's 99% would call a frozen readout
 * with 8% of its entries hit "trained"; then its span is only approximate and exactness is lost).
 */
export function chooseReadout(contaminated: ArrayLike<number>, init: ArrayLike<number>, from: number): { trained: boolean; reason: string } {
  let same = 0;
  const n = init.length - from;
  for (let i = from; i < init.length; i++) if (contaminated[i] === init[i]) same++;
  const f = n ? same / n : 0;
  const trained = f < SPAN_RULE.frozenReadoutFraction;
  return { trained, reason: `readout ${trained ? "trained" : "frozen"}: ${(100 * f).toFixed(1)}% of its entries equal init (${trained ? "<" : ">="} ${100 * SPAN_RULE.frozenReadoutFraction}%)` };
}
