// The defaults that choose the method, in one place: which span `auto` purifies in, whether the
// readout was trained, how long ADMM runs, and the warnings an explicit choice earns when its span
// cannot remove anything. Every threshold is here, with the measurement it comes from.
import { OptionError, checkInt } from "../errors.js";
import type { Network } from "../model/planView.js";
import { isSequential, viewOf } from "../model/planView.js";
import { planMemoryEstimate, WASM_MEMORY_LIMIT } from "./memory.js";
import type { planLayers } from "../deep/sequential.js";

type Plan = ReturnType<typeof planLayers>;

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
  /** A layer (a multi-layer model's, or the one-hidden readout) equal to init in at least this fraction of its entries was frozen (chooseFrozen, chooseReadout). */
  frozenFraction: 0.5,
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
 * The span for a network of the one family. `requested` "auto" (or undefined) applies the rule:
 * each layer's own patch span (the one-hidden model's "patch" span, a multi-layer model's
 * "layerwise") while every trained layer below the readout is thin and no layer the certificate
 * covers is covered by its span, else the linearized family. A thick readout that its span does not
 * cover decides nothing: it is solved last and feeds no layer, and giving up the lower layers'
 * exactness for it would lose what their thin spans hold. The one-hidden model's certificate is its
 * filters' (its readout's fit is betaRecovered), a multi-layer model's every trained layer's. An
 * explicit span is kept, with warnings naming the layers it covers (`layerTensors`: tensor names).
 */
export function chooseSpan(net: Network, samples: number,
  o: { requested?: string; trainedReadout?: boolean; frozen?: number[]; weightDecay?: boolean; memoryLimit?: number; layerTensors?: (layer: number) => string[]; where?: string } = {}): SpanChoice {
  // the family's options checked here too: the edge handler sizes a request by this rule before purify() sees it
  checkInt(o.where ?? "chooseSpan", "samples", samples);
  const seq = isSequential(net), view = viewOf(net, o, o.where ?? "");
  const { plan, frozen, caller } = view, exact: SpanName = seq ? "layerwise" : "patch";
  const requested = o.requested ?? "auto", names = [exact, "linearized", "relinearized"];
  if (requested !== "auto" && !names.includes(requested)) {
    throw new OptionError(`${o.where ? `${o.where}: ` : ""}unknown subspace "${requested}" for ${seq ? "a sequential" : "the one-hidden-layer"} model (known: auto, ${names.join(", ")})`);
  }
  const readout = plan.layers.reduce((k, l, i) => (l.rows ? i : k), -1);
  // the weight-decay column (init row) is one more column of a layer's span, not more data: the ratio is the data's
  const trained = plan.layers.flatMap((l, i) => (l.rows && !frozen.includes(i) ? [{ i, type: l.spec.type, data: samples * l.output.H * l.output.W, row: l.rowLength }] : []))
    .map((r) => ({ ...r, cols: r.data + (o.weightDecay ? 1 : 0), ratio: r.data / r.row }));
  // the one-hidden model's certificate is its filters' (the readout's span is approximate: betaRecovered)
  const certified = trained.filter((r) => seq || r.i !== readout);
  const rowsOf = (r: { i: number; type: string; row: number }) => (seq ? `layer ${r.i} (${r.type}) rows of ${fmt(r.row)}` : `filter rows of p + 1 = ${fmt(r.row)}`);
  const tensors = (i: number) => o.layerTensors?.(i).join(", ") || (seq ? "" : "the convolution's weight and bias");
  const coverWarnings = certified.filter((r) => r.cols >= r.row)
    .map((r) => `the ${exact} span covers R^${r.row} for ${rowsOf(r)} (${fmt(r.cols)} patches >= ${fmt(r.row)}; ${tensors(r.i) || `layer ${r.i}`}): nothing can be removed there`);
  let P = 0;
  for (const [i, l] of plan.layers.entries()) if (!frozen.includes(i)) for (let j = l.offset; j < l.offset + l.params; j++) if (caller[j] >= 0) P++;
  const O = plan.output.C, nO = samples * O;
  if (requested === exact) return { subspace: exact, reason: `${exact} span as asked`, warnings: coverWarnings, covers: coverWarnings.length > 0 };
  if (requested === "linearized" || requested === "relinearized") {
    const warnings = linearizedWarnings(nO, P);
    return { subspace: requested, reason: `${requested} span as asked (n O = ${fmt(nO)} columns, P = ${fmt(P)})`, warnings, covers: warnings.length > 0 };
  }
  // what decides: the thickest trained layer below the readout, and whether the span covers a layer it certifies
  const judged = trained.filter((r) => r.i !== readout).sort((a, b) => b.ratio - a.ratio)[0];
  const frozenNote = seq && frozen.length ? `; frozen: ${frozen.join(", ")}` : "";
  const why = judged ? `${exact} span: ${fmt(judged.data)} patches for ${rowsOf(judged)} entries (ratio ${judged.ratio.toFixed(2)})` : `${exact} span: only the readout is trained`;
  const thin = !judged || judged.ratio <= SPAN_RULE.patchRatio, covered = certified.find((r) => r.cols >= r.row);
  if (thin && !covered) return { subspace: exact, reason: `${why}${judged ? ` <= ${SPAN_RULE.patchRatio}` : ""}${frozenNote}: ${seq ? "each layer in its patch span" : "exact recovery"}`, warnings: [], covers: false };
  const limit = o.memoryLimit ?? WASM_MEMORY_LIMIT;
  const fits = (s: string) => planMemoryEstimate(plan, samples, s) <= limit;
  return linearizedChoice(nO, P, thin ? `${why}${frozenNote}, but it covers R^${covered!.row} for ${rowsOf(covered!)}` : `${why} > ${SPAN_RULE.patchRatio}${judged.data >= judged.row ? ", it covers R^" + judged.row : ""}`, fits);
}

/**
 * Whether training updated the readout, from the files: a readout equal to its init in at least
 * half its entries was frozen. Any SGD step moves essentially every entry of a trained readout, and
 * contamination changes only a fraction of a frozen one (the issue's 99% would call a frozen readout
 * with 8% of its entries hit "trained"; then its span is only approximate and exactness is lost).
 */
export function chooseReadout(contaminated: ArrayLike<number>, init: ArrayLike<number>, from: number): { trained: boolean; reason: string } {
  const f = equalShare(contaminated, init, from, init.length), trained = f < SPAN_RULE.frozenFraction;
  return { trained, reason: `readout ${trained ? "trained" : "frozen"}: ${(100 * f).toFixed(1)}% of its entries equal init (${trained ? "<" : ">="} ${100 * SPAN_RULE.frozenFraction}%)` };
}

/** The share of entries [from, to) equal to init (0 for none). */
function equalShare(contaminated: ArrayLike<number>, init: ArrayLike<number>, from: number, to: number): number {
  let same = 0;
  for (let i = from; i < to; i++) if (contaminated[i] === init[i]) same++;
  return to > from ? same / (to - from) : 0;
}

/**
 * The layers of a multi-layer model that training left at init, from the files (chooseReadout's
 * rule for every layer with parameters: fine-tuning the top of a pretrained network freezes the
 * layers below, and any SGD step moves essentially every entry of a trained layer, while
 * contamination changes only a fraction of a frozen one). theta and init in the plan's layout.
 */
export function chooseFrozen(plan: Plan, contaminated: ArrayLike<number>, init: ArrayLike<number>): { frozen: number[]; reason: string } {
  const shares = plan.layers.flatMap((l, i) => (l.params ? [{ i, type: l.spec.type, share: equalShare(contaminated, init, l.offset, l.offset + l.params) }] : []));
  const frozen = shares.filter((s) => s.share >= SPAN_RULE.frozenFraction), limit = `${100 * SPAN_RULE.frozenFraction}%`;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  if (!frozen.length) return { frozen: [], reason: `no layer frozen: at most ${pct(Math.max(0, ...shares.map((s) => s.share)))} of a layer's entries equal init (< ${limit})` };
  return { frozen: frozen.map((s) => s.i), reason: `frozen: ${frozen.map((s) => `${s.i} (${s.type}, ${pct(s.share)} of its entries equal init)`).join(", ")} (>= ${limit})` };
}