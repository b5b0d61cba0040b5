// Training and layerwise purification of sequential CNNs (DESIGN.md section 4, method (a)).
//
// Layerwise patch span: with SGD, the update of a conv/dense layer's W~ lies in the span of that
// layer's augmented input patch rows (im2col of its input) over the training data. That span is
// fixed only while the layers below are fixed, so the method is exact when the lower layers were
// frozen (fine-tuning the top), approximate otherwise. Layers are purified bottom-up, each layer's
// patches computed from the already purified layers below; frozen layers are restored to init.
// BatchNorm's gamma and beta are per-channel scalars that no patch span constrains: an entry whose
// update is an outlier among its tensor's (channelOutliers) goes back to init plus the median update;
// its statistics are recomputed at the purified parameters (precise BatchNorm), never read from the file.
import type { Backend } from "../backend/types.js";
import { PatchSpanOperator } from "../recover/operator.js";
import type { AdmmOptions } from "../recover/admm.js";
import type { ModelPrecision } from "../recover/purify.js";
import { certificateSlack, perProblem, precisionFloor, solveEach } from "../recover/purify.js";
import { flaggedEntries } from "../recover/report.js";
import type { BatchSolution, SolveOptions } from "../recover/solve.js";
import { arithmeticFor, solveBatch } from "../recover/solve.js";
import { solveFiltersInWorkers } from "../parallel/pool.js";
import type { PlannedLayer } from "./layers/layer.js";
import { SequentialWorkspace, planLayers, preciseStatistics, sequentialForward } from "./sequential.js";
import { SPAN_RULE } from "../recover/chooseSpan.js";

export interface LayerReport {
  layer: number; type: string; rows: number; spanDim: number; iterations: number; frozen: boolean;
  /** The span has at least as many patches as a row has entries: it covers the layer, nothing can be removed. */
  covers: boolean;
  /** Entries judged contaminated (residual above the robust threshold, or NaN/Inf). */
  estimatedContaminated: number;
  /** The exactness certificate of the recovery issue, per filter row (false when covered or frozen). */
  recovered: boolean;
  /** min over rows of certificateSlack (>= 0 exactly when recovered; -1 when covered, 0 when frozen). */
  slack: number;
}

/**
 * Method (a), purify()'s "layerwise" and "patch" spans, on the model's plan: each trainable
 * conv/dense layer, bottom-up, in the span of its augmented input patches computed through the
 * already purified layers below; `frozen` layers go back to init. `initRows`: every row's span also
 * holds that row's init (weight decay, or a BatchNorm the export folded into the conv). purify()
 * gives contaminated with its statistics at init's, its change split into delta and erasures (plan
 * indices, sorted) and the storage floors, so the fit uses the very split and floors it reports.
 */
export async function layerwiseOnPlan(be: Backend, plan: ReturnType<typeof planLayers>, contaminated: Float64Array, init: Float64Array, x: Float64Array, n: number,
  split: { delta: Float64Array; erasures: number[]; floors: Float64Array | null },
  o: { frozen?: number[]; admm?: AdmmOptions; initRows?: boolean; solve?: Omit<SolveOptions, "erased" | "floor"> & { workers?: number } }): Promise<LayerwisePurification> {
  const { delta, erasures, floors } = split;
  const out = contaminated.slice();
  const frozen = new Set(o.frozen ?? []);
  const ws = new SequentialWorkspace(be, plan, n);
  const xb = be.upload(be.alloc(x.length), x), theta = be.alloc(plan.size);
  const reports: LayerReport[] = [], flagged: number[] = [], solutions: BatchSolution[] = [];
  try {
    for (let i = 0; i < plan.layers.length; i++) {
      const l = plan.layers[i];
      if (l.spec.type === "batchnorm") {
        const from = l.offset, C = l.params / 2;
        let restored = 0;
        if (frozen.has(i)) out.set(init.subarray(from, from + l.params), from);
        else for (const part of [from, from + C]) restored += channelOutliers(contaminated, init, part, C, out);
        for (let q = from; q < from + l.params; q++) if (!Object.is(out[q], contaminated[q])) flagged.push(q);
        reports.push({ layer: i, type: "batchnorm", rows: C, spanDim: 0, iterations: 0, frozen: frozen.has(i), covers: true, estimatedContaminated: restored, recovered: false, slack: -1 });
        continue;
      }
      if (!l.rows) continue;
      const len = l.rows * l.rowLength;
      if (frozen.has(i)) {
        // training left it at init: every entry that differs was changed after training
        let changed = 0;
        for (let q = l.offset; q < l.offset + len; q++) if (!Object.is(contaminated[q], init[q])) { flagged.push(q); changed++; }
        out.set(init.subarray(l.offset, l.offset + len), l.offset);
        reports.push({ layer: i, type: l.spec.type, rows: l.rows, spanDim: 0, iterations: 0, frozen: true, covers: false, estimatedContaminated: changed, recovered: false, slack: 0 });
        continue;
      }
      // the patches of layer i from the purified layers below (forward with out and the statistics
      // it gives BatchNorm layers there; ws.cols[i] holds them)
      be.upload(theta, out.map((v) => (Number.isFinite(v) ? v : 0)));
      sequentialForward(ws, theta, xb, true);
      const m = n * l.output.H * l.output.W;
      const r = delta.slice(l.offset, l.offset + len);
      if (m >= l.rowLength) {
        // generic patches then span all of R^(p+1): every row fits exactly, only erasures can be
        // repaired (back to init), and the Gram would be m x m for nothing
        const here = erasures.filter((q) => q >= l.offset && q < l.offset + len);
        for (const q of here) { out[q] = init[q]; flagged.push(q); }
        reports.push({ layer: i, type: l.spec.type, rows: l.rows, spanDim: m, iterations: 0, frozen: false, covers: true, estimatedContaminated: here.length, recovered: false, slack: -1 });
        continue;
      }
      const erased = perProblem(erasures, l.offset, l.rowLength, l.rows);
      // a model stored in f32 (or coarser) fits its span only to that rounding: rows count as fit within it
      const floor = floors?.subarray(l.offset, l.offset + len);
      // initRows: each row's span also holds its own init row (weight decay; a BatchNorm folded into
      // the conv rescales a row along it)
      const { solution: sol, slack } = await solveLayerRows(ws, i, r, erased, { solver: "admm", admm: o.admm, ...o.solve, floor, initRows: o.initRows ? init.subarray(l.offset, l.offset + len) : undefined });
      solutions.push(sol);
      for (let q = 0; q < len; q++) out[l.offset + q] = init[l.offset + q] + sol.fitted[q];
      const erasedRows = erased.map((e) => new Set(e ?? []));
      // the rule purify() flags by (a fit's rounding, or the model's storage rounding, is no suspect)
      const R = l.rowLength, found = flaggedEntries(sol.residual, l.rows, R, (f, q) => r[f * R + q], floor ? (f, q) => floor[f * R + q] : null, (f, q) => erasedRows[f].has(q));
      for (const [f, q] of found) flagged.push(l.offset + f * R + q);
      reports.push({ layer: i, type: l.spec.type, rows: l.rows, spanDim: m, iterations: sol.iterations, frozen: false, covers: false, estimatedContaminated: found.length, recovered: slack >= 0, slack });
    }
  } finally {
    ws.dispose();
    be.free(xb); be.free(theta);
  }
  return { params: preciseStatistics(be, plan, out, x, n), layers: reports, flagged, solutions };
}

export interface LayerwisePurification {
  params: Float64Array;
  layers: LayerReport[];
  /** Entries judged contaminated (plan indices): flagged by their layer's fit, erased, or restored. */
  flagged: number[];
  /** Each solved layer's solution, bottom-up. */
  solutions: BatchSolution[];
}

/**
 * The rows of conv/dense layer i in the span of its augmented input patches (ws.cols(i), from the
 * last forward): l.rows problems of l.rowLength entries, r the layer's change (erased rows 0). The
 * layerwise method's step, and the one-hidden-layer patch span's (its filters and its readout are
 * the plan's two linear layers). initRows: the layer's init, each row's span one column more (weight
 * decay), solved row by row. slack: the certificate over the rows (certificateSlack, one block per
 * row); a bias-free layer's bias entry, which every fit matches, does not count as a fit row.
 */
export async function solveLayerRows(ws: SequentialWorkspace, i: number, r: Float64Array, erased: Array<Int32Array | null>,
  o: Omit<SolveOptions, "erased"> & { initRows?: Float64Array; workers?: number }): Promise<{ solution: BatchSolution; slack: number }> {
  const be = ws.be, l = ws.plan.layers[i], R = l.rowLength, m = ws.n * l.output.H * l.output.W;
  const slackOf = (solution: BatchSolution) => ({ solution, slack: layerCertificate(l, m + (o.initRows ? 1 : 0), solution.residual, r, erased, o.floor) });
  // decided once for all rows, so that a split over workers solves each the same way
  const arithmetic = o.initRows ? o.arithmetic : arithmeticFor(o.arithmetic, be, m, R, l.rows);
  // workers take shares of at least MIN_ROWS_PER_WORKER rows (fewer: this thread)
  const shares = o.initRows ? 1 : Math.min(o.workers ?? 1, Math.floor(l.rows / MIN_ROWS_PER_WORKER));
  if (shares > 1) {
    const { solver = "admm", polish, floor, admm } = o;
    return slackOf(await solveFiltersInWorkers({ backend: be.name, cols: be.download(ws.cols(i)), patches: m, r, filters: l.rows, rowLength: R, erased, solver, arithmetic, polish, floor: floor?.slice(),
      // functions cannot cross to a worker
      admm: admm && (({ onIteration: _i, warmStart: _w, erased: _e, ...plain }) => plain)(admm) }, shares));
  }
  const op = new PatchSpanOperator(be, ws.cols(i), m, R, l.rows);
  try {
    return slackOf(o.initRows ? await solveEach(be, op, r, l.rows, R, o.initRows, erased, o) : await solveBatch(op, r, l.rows, { ...o, arithmetic, erased }));
  } finally {
    op.dispose();
  }
}

/** Rows per worker below which a share costs more to send than to solve: smaller splits stay in the calling thread. */
export const MIN_ROWS_PER_WORKER = 32;

/** min over a linear layer's rows of certificateSlack (span dimension m); see solveLayerRows. */
export function layerCertificate(l: PlannedLayer, m: number, residual: Float64Array, r: Float64Array, erased: Array<Int32Array | null>, floor?: Float64Array | null): number {
  const R = l.rowLength, fit = (l.spec as { bias?: boolean }).bias === false ? R - 1 : R;
  let slack = Infinity;
  for (let f = 0; f < l.rows; f++) {
    slack = Math.min(slack, certificateSlack(residual.subarray(f * R, f * R + fit), r.subarray(f * R, f * R + fit), [[0, fit]], m, new Set(erased[f] ?? []), floor?.subarray(f * R, f * R + fit)));
  }
  return slack;
}

/**
 * Per-channel scalars (BatchNorm's gamma or beta, C entries from `from`): entries that are not
 * finite, or whose update lies beyond SPAN_RULE.channelOutlierZ robust standard deviations (1.4826
 * MAD) of the tensor's updates, are set to init + the median update in out. Returns how many.
 */
export function channelOutliers(contaminated: Float64Array, init: Float64Array, from: number, C: number, out: Float64Array): number {
  const d = Array.from({ length: C }, (_, c) => contaminated[from + c] - init[from + c]);
  const finite = d.filter(Number.isFinite).sort((a, b) => a - b);
  const median = (a: number[]) => (a.length ? (a.length % 2 ? a[a.length >> 1] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2) : 0);
  const med = median(finite), sigma = 1.4826 * median(finite.map((v) => Math.abs(v - med)).sort((a, b) => a - b));
  let restored = 0;
  for (let c = 0; c < C; c++) {
    if (Number.isFinite(d[c]) && Math.abs(d[c] - med) <= SPAN_RULE.channelOutlierZ * sigma) continue;
    out[from + c] = init[from + c] + med;
    restored++;
  }
  return restored;
}

/**
 * The rounding each parameter may carry at the model's storage precision (precisionFloor), layer by
 * layer (a layer's scale sets its floor, not the whole model's); null in f64. The layerwise fit and
 * check's suspects use the same floors.
 */
export function layerFloors(plan: ReturnType<typeof planLayers>, precision: ModelPrecision, init: Float64Array, contaminated: Float64Array): Float64Array | null {
  if (precision === "f64") return null;
  const out = new Float64Array(init.length);
  for (const l of plan.layers) {
    const end = l.offset + l.params + l.stats;
    if (end > l.offset) out.set(precisionFloor(precision, init.subarray(l.offset, end), contaminated.subarray(l.offset, end))!, l.offset);
  }
  return out;
}
