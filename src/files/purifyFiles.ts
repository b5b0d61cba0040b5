// Purification of model files, from bytes to bytes, in any runtime: the CLI's purify command and
// the edge handler's multipart requests both run this. Opening checks everything (formats, shapes,
// the same network in model and init, the data's image size) and sizes the work before anything
// is allocated; running purifies and writes the result into the user's own file (only the
// purified tensors' data change, each in its own dtype).
import { resolveBackend } from "../backend/index.js";
import type { Backend } from "../backend/types.js";
import { planLayers, withStatisticsOf } from "../deep/sequential.js";
import { InputFileError, OptionError, shown } from "../errors.js";
import type { ModelFormat, OpenedModel } from "../io/modelSource.js";
import { MODEL_EXTENSIONS, formatOfName, openModel } from "../io/modelSource.js";
import type { WriteBack } from "../io/storedModel.js";
import { patchesFromImages } from "../model/data.js";
import { memoryEstimate } from "../recover/memory.js";
import type { SpanChoice } from "../recover/chooseSpan.js";
import { SPAN_RULE, chooseFrozen, chooseReadout, chooseSpan, spanHoldWarning } from "../recover/chooseSpan.js";
import { spanFit } from "../recover/report.js";
import type { ModelPrecision, PurifyReport, SubspaceName } from "../recover/purify.js";
import { Purifier } from "../recover/purify.js";
import { layoutOf } from "../model/shape.js";
import type { ImageShape, ModelShape } from "../model/shape.js";
import type { Network } from "../model/planView.js";
import { inputsOf, viewOf } from "../model/planView.js";
import type { Arithmetic, SolverName } from "../recover/solve.js";
import { evaluate } from "../train/train.js";
import type { NamedFile } from "./inputs.js";
import { decodeImages, decodeLabels, labelOf, parseInput } from "./inputs.js";

export interface ModelFiles {
  model: NamedFile;
  init: NamedFile;
  /** Training inputs, .npy/.npz of shape (n, C, H, W) or (n, H, W). */
  data: NamedFile;
  /** Optional labels of the data, and a held-out set: accuracy before and after. */
  labels?: NamedFile;
  evalData?: NamedFile;
  evalLabels?: NamedFile;
}

export interface FilePurifyOptions {
  /**
   * "auto" (default: src/recover/chooseSpan.ts's rule), or patch, linearized, relinearized
   * (one-hidden-layer); layerwise, linearized, relinearized (multi-layer).
   */
  subspace?: string;
  solver?: SolverName;
  /** ADMM's arithmetic and the NTK's precision (see Arithmetic; default auto). */
  arithmetic?: Arithmetic;
  /** One-hidden-layer: whether training updated the readout (default: judged from the files, chooseReadout). */
  trainedReadout?: boolean;
  /** ADMM iteration cap (default 150 on approximate spans, 5000 on exact ones). */
  maxIter?: number;
  /** Multi-layer: indices of layers training left at init (default: judged from the files, chooseFrozen; [] for none). */
  frozen?: number[];
  /**
   * Each filter row's span also holds its own init row (patch and layerwise spans): training with
   * weight decay, or a BatchNorm that the export folded into the convolution (a per-filter rescale).
   */
  initRows?: boolean;
}

export const FILE_OPTION_NAMES = ["subspace", "solver", "arithmetic", "trainedReadout", "maxIter", "frozen", "initRows"] as const;

export interface FilePurifyResult {
  params: Float64Array;
  /** The init's parameters, and the precision exactness was judged at (the file's coarsest dtype). */
  init: Float64Array;
  precision: ModelPrecision;
  /** The purified file: the model file's bytes with the new parameter values. */
  file: WriteBack;
  /** The model as opened (kind, network, format, dtypes). */
  model: OpenedModel;
  /** One line per quantity (the CLI's summary table). */
  summary: Record<string, unknown>;
  /** The purifier's report (the layerwise method's per-layer reports in its layers). */
  detail: PurifyReport;
}

/** A purification of files, checked and sized, ready to run. */
export interface FileProblem {
  model: OpenedModel;
  /** The span the run will use, why, and any warning that it cannot remove anything. */
  choice: SpanChoice;
  /** ADMM's iteration cap for the run. */
  maxIter: number;
  /** Bytes of working memory the run needs (an upper estimate, before any allocation). */
  memoryBytes: number;
  run(o?: { backend?: Backend | string; onProgress?: (iteration: number, text: string) => void; spans?: SpanCache }): Promise<FilePurifyResult>;
}

/**
 * Prepared spans (the linearized NTK and its factor) kept across runs: several models of ONE init
 * and data set (check's --model ...) share them instead of forming each again. Keyed by everything
 * the span depends on besides init and data; the caller disposes it.
 */
export class SpanCache {
  private readonly items = new Map<string, { value: unknown; dispose: () => void }>();
  async get<T>(key: string, make: () => Promise<T>, dispose: (value: T) => void): Promise<T> {
    const hit = this.items.get(key);
    if (hit) return hit.value as T;
    const value = await make();
    this.items.set(key, { value, dispose: () => dispose(value) });
    return value;
  }
  /** Spans prepared so far. */
  get size(): number { return this.items.size; }
  dispose(): void {
    for (const item of this.items.values()) item.dispose();
    this.items.clear();
  }
}

function modelFormat(f: NamedFile): ModelFormat {
  const format = formatOfName(f.name);
  if (!format) {
    const ext = /\.[^.]+$/.exec(f.name)?.[0] ?? "(none)";
    throw new OptionError(`${labelOf(f)}: unsupported model format "${ext}" (supported: ${Object.keys(MODEL_EXTENSIONS).join(", ")})`);
  }
  return format;
}

/** Opens and checks the files; throws InputFileError (bad file) or OptionError (bad choice). */
export function openFileProblem(files: ModelFiles, options: FilePurifyOptions = {}, context: { memoryLimit?: number } = {}): FileProblem {
  for (const k of Object.keys(options)) {
    if (!(FILE_OPTION_NAMES as readonly string[]).includes(k)) throw new OptionError(`unknown option "${k}" (known: ${FILE_OPTION_NAMES.join(", ")})`);
  }
  // the options purify() would check under its own names (admm.maxIter, weightDecay), checked by theirs
  if (options.maxIter !== undefined && !(Number.isInteger(options.maxIter) && options.maxIter >= 1)) throw new OptionError(`maxIter must be an integer >= 1, got ${shown(options.maxIter)}`);
  if (options.initRows !== undefined && typeof options.initRows !== "boolean") throw new OptionError(`initRows must be true or false, got ${shown(options.initRows)}`);
  if ((files.evalData === undefined) !== (files.evalLabels === undefined)) throw new OptionError("eval data and eval labels go together");
  const format = modelFormat(files.model);
  if (modelFormat(files.init) !== format) throw new InputFileError(`${labelOf(files.init)}: the init must be a .${format} file like the model`);
  const data = decodeImages(files.data);
  const [n, C, H, W] = data.dims;
  const size = { height: H, width: W };
  const model = parseInput(files.model, () => openModel(files.model.bytes, format, labelOf(files.model), size));
  const init = parseInput(files.init, () => openModel(files.init.bytes, format, labelOf(files.init), size));
  const network = (m: OpenedModel) => JSON.stringify(m.kind === "sequential" ? m.model : m.spec);
  if (model.kind !== init.kind || network(model) !== network(init)) {
    throw new InputFileError(`${labelOf(files.model)} and ${labelOf(files.init)} describe different networks: ${network(model)} vs ${network(init)}`);
  }
  if (init.theta.some((x) => !Number.isFinite(x))) throw new InputFileError(`${labelOf(files.init)}: contains NaN or Inf; the init must be finite`);
  const expect = model.kind === "sequential" ? model.model.input : { C: model.spec.image.channels, H: model.spec.image.height, W: model.spec.image.width };
  if (expect.C !== C || expect.H !== H || expect.W !== W) {
    throw new InputFileError(`${labelOf(files.data)}: images are ${C}x${H}x${W}, the model expects ${expect.C}x${expect.H}x${expect.W}`);
  }
  const outputs = model.kind === "sequential" ? planLayers(model.model.input, model.model.layers).output.C : model.spec.shape.outputs;
  const labels = files.labels && decodeLabels(files.labels, n, outputs);
  let evalSet: { images: Float64Array; n: number; labels: Float64Array } | undefined;
  if (files.evalData) {
    const e = decodeImages(files.evalData);
    if (e.dims[1] !== C || e.dims[2] !== H || e.dims[3] !== W) throw new InputFileError(`${labelOf(files.evalData)}: images are ${e.dims.slice(1).join("x")}, the data has ${C}x${H}x${W}`);
    evalSet = { images: e.values, n: e.dims[0], labels: decodeLabels(files.evalLabels!, e.dims[0], outputs) };
  }
  const common = { init: init.theta, data: data.values, n, labels, evalSet, options, memoryLimit: context.memoryLimit };
  return fileProblem({ ...common, model });
}

interface Parts {
  model: OpenedModel; init: Float64Array; data: Float64Array; n: number; labels?: Float64Array;
  evalSet?: { images: Float64Array; n: number; labels: Float64Array }; options: FilePurifyOptions; memoryLimit?: number;
}

const changedCount = (a: Float64Array, b: Float64Array) => a.reduce((c, v, i) => c + (Object.is(v, b[i]) ? 0 : 1), 0);
// NaN/Inf parameters would make every output NaN: the "before" accuracy counts them as 0
const finite = (t: Float64Array) => t.map((x) => (Number.isFinite(x) ? x : 0));

/** One run and one summary for both model families: the one Purifier, prepared once per span (SpanCache). */
function fileProblem(p: Parts): FileProblem {
  const { model, options: o } = p, seq = model.kind === "sequential";
  const net: Network = seq ? model.model : model.spec.shape, image = seq ? undefined : model.spec.image, { plan } = viewOf(net);
  // the exact spans: each row's own span, which init rows extend
  const exact = seq ? "layerwise" : "patch";
  // a multi-layer model's frozen layers as the one-hidden readout's: given, or judged from the files
  const judged = seq && o.frozen === undefined ? chooseFrozen(plan, model.theta, p.init) : null;
  // each family's option refused on the other (a multi-layer model's --trained-readout was ignored)
  const frozen = viewOf(net, { frozen: o.frozen ?? judged?.frozen, trainedReadout: seq ? o.trainedReadout : undefined }, "", "--trained-readout").frozen;
  const wSize = seq ? 0 : layoutOf(model.spec.shape).wSize;
  const readout = seq ? null : o.trainedReadout === undefined ? chooseReadout(model.theta, p.init, wSize)
    : { trained: o.trainedReadout, reason: `readout ${o.trainedReadout ? "trained" : "frozen"} as asked` };
  // a layer's tensors in the file (the one-hidden model's entries by the caller's index)
  const layerTensors = (i: number) => { const l = plan.layers[i]; return seq ? model.tensorNames(l.offset, l.offset + l.params) : i ? model.tensorNames(wSize, model.theta.length) : model.tensorNames(0, wSize); };
  const choice = chooseSpan(net, p.n, { requested: o.subspace, trainedReadout: readout?.trained, frozen, weightDecay: o.initRows, memoryLimit: p.memoryLimit, layerTensors });
  const subspace = choice.subspace as SubspaceName, precision = storagePrecision(model.dtypes);
  if (o.initRows && subspace !== exact) throw new OptionError(`init rows extend the ${exact} span; this purification uses the ${subspace} span (${choice.reason})`);
  const maxIter = o.maxIter ?? (subspace === exact ? SPAN_RULE.exactMaxIter : SPAN_RULE.approximateMaxIter);
  return {
    model, choice, maxIter, memoryBytes: memoryEstimate(net, p.n, subspace),
    async run(r = {}) {
      const be = await resolveBackend(r.backend), t0 = performance.now();
      const prepare = () => Purifier.create({
        ...(seq ? { model: model.model, data: { samples: p.n, values: p.data }, frozen } : { shape: net as ModelShape, data: patchesFromImages(be, p.data, p.n, image!), trainedReadout: readout!.trained }),
        init: p.init, subspace, solver: o.solver, arithmetic: o.arithmetic, backend: be, admm: { maxIter }, precision, weightDecay: o.initRows,
      });
      const key = JSON.stringify([model.kind, be.name, subspace, o.solver, o.arithmetic, maxIter, precision, o.initRows, frozen, readout?.trained]);
      const purifier = r.spans ? await r.spans.get(key, prepare, (q) => q.dispose()) : await prepare();
      let result;
      try {
        result = await purifier.purify(model.theta, { onProgress: r.onProgress && ((q) => r.onProgress!(q.iteration, `${q.stage} iteration ${q.iteration}`)) });
      } finally {
        if (!r.spans) purifier.dispose();
      }
      const { params, report } = result;
      const file = model.write(params);
      const summary: Record<string, unknown> = {
        model: seq ? "multi-layer" : "one-hidden-layer", subspace, span: choice.reason, ...(readout ? { readout: readout.reason } : { frozen: judged?.reason ?? `frozen: ${frozen.join(", ") || "none"} as asked`, ...statisticsReport(plan, model.theta, params, model.tensorNames) }),
        admmCap: maxIter, parameters: params.length, changed: changedCount(params, model.theta),
        estimatedContaminated: report.estimatedContaminated.length, erasures: report.erasures.length, grossOutliers: report.grossOutliers.length,
        spanDim: report.spanDim, iterations: report.iterations, seconds: (performance.now() - t0) / 1000, certifiedExact: report.recovered, precision,
        binary: be.binary, storedAs: model.dtypes.join(", "), elementsWritten: file.changedElements,
      };
      if (report.gram) summary.ntk = report.gram.reason;
      if (file.unstored.length) summary.unstored = file.unstored.length;
      // recomputed statistics are no change of the file's: the fit is judged without them
      addSpanFit(summary, withStatisticsOf(plan, model.theta, params), withStatisticsOf(plan, p.init, params), params, subspace, choice.warnings);
      await accuracies(summary, p, params, be, net, image);
      return { params, init: p.init, precision, file, model, summary, detail: report };
    },
  };
}

/** What recomputing BatchNorm statistics did: which tensors, from what, and how far the file's values were. */
function statisticsReport(plan: ReturnType<typeof planLayers>, file: Float64Array, params: Float64Array, names: (from: number, to: number) => string[]): { statistics?: Record<string, unknown> } {
  const layers = plan.layers.filter((l) => l.stats);
  if (!layers.length) return {};
  let largest = 0;
  for (const l of layers) {
    for (let i = l.offset + l.params; i < l.offset + l.params + l.stats; i++) {
      largest = Math.max(largest, Number.isFinite(file[i]) ? Math.abs(file[i] - params[i]) / Math.max(Math.abs(params[i]), 1e-12) : Infinity);
    }
  }
  return {
    statistics: {
      recomputed: layers.flatMap((l) => names(l.offset + l.params, l.offset + l.params + l.stats)),
      from: "the training inputs at the purified parameters (precise BatchNorm; PyTorch's unbiased running_var)",
      largestRelativeChangeFromFile: largest,
    },
  };
}

/** The coarsest precision the file stores parameters in: exactness is judged at that rounding. */
function storagePrecision(dtypes: string[]): ModelPrecision {
  return dtypes.includes("BF16") ? "bf16" : dtypes.includes("F16") ? "f16" : dtypes.includes("F32") ? "f32" : "f64";
}

/** The span's fit (how much of the change it leaves unexplained) and every warning, into the summary. */
function addSpanFit(summary: Record<string, unknown>, contaminated: Float64Array, init: Float64Array, params: Float64Array, span: string, warnings: string[]): void {
  const fit = spanFit(contaminated, init, params);
  summary.unexplained = fit.unexplained;
  const all = [...warnings];
  const hold = spanHoldWarning(fit.unexplained, span);
  if (hold) all.push(hold);
  if (all.length) summary.warnings = all;
}

/** Accuracy before and after on the training labels and the eval set, where given (the network's inputs: patches or images). */
async function accuracies(summary: Record<string, unknown>, p: Parts, params: Float64Array, be: Backend, net: Network, image: ImageShape | undefined): Promise<void> {
  const acc = async (images: Float64Array, n: number, labels: Float64Array, theta: Float64Array) => (await evaluate(net, theta, inputsOf(be, images, n, image), labels, { backend: be })).accuracy;
  if (p.labels) {
    summary.accuracyBefore = await acc(p.data, p.n, p.labels, finite(p.model.theta));
    summary.accuracyAfter = await acc(p.data, p.n, p.labels, params);
  }
  if (p.evalSet) {
    summary.evalAccuracyBefore = await acc(p.evalSet.images, p.evalSet.n, p.evalSet.labels, finite(p.model.theta));
    summary.evalAccuracyAfter = await acc(p.evalSet.images, p.evalSet.n, p.evalSet.labels, params);
  }
}
