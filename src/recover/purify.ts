// purify(): robust recovery of a contaminated CNN (DESIGN.md sections 2-4), the one-hidden-layer
// model (options.shape) or a sequential one (options.model), both solved on the model's plan.
//   "patch":        (one-hidden) each filter row [w_j ; b_j] is recovered in the span of the augmented
//                   training patches (exact for any SGD trajectory), all K rows as one batched
//                   problem; beta then in the span of the hidden features at the recovered filters.
//   "layerwise":    (sequential) the same, layer by layer bottom-up (src/deep/layerwise.ts).
//   "linearized":   all parameters jointly in the span of the Jacobian at init (exact while masks
//                   stay fixed).
//   "relinearized": the union of the linearized spans at init and at a first-pass purified model.
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { OptionError, ShapeError, checkFinite, checkOptionNames, shown } from "../errors.js";
import type { PatchData } from "../model/data.js";
import { uploadAugmented } from "../model/data.js";
import { preciseStatistics, withStatisticsOf } from "../deep/sequential.js";
import { SequentialLinearizedOperator } from "../deep/linearized.js";
import type { SequentialModel } from "../deep/train.js";
import type { ModelShape } from "../model/shape.js";
import { layoutOf } from "../model/shape.js";
import type { AdmmOptions } from "./admm.js";
import { checkAdmmOptions } from "./admm.js";
import type { LinearOperator } from "./operator.js";
import { AppendColumnOperator, PatchSpanOperator } from "./operator.js";
import type { LayerReport } from "../deep/layerwise.js";
import { layerFloors, layerwiseOnPlan } from "../deep/layerwise.js";
import type { Arithmetic, BatchSolution, SolverName } from "./solve.js";
import { ARITHMETIC_NAMES, SOLVER_NAMES, factorSpan, solveBatch } from "./solve.js";
import { detectionScores, flaggedEntries, recoveryErrors, spanFit } from "./report.js";
import type { RecoveryErrors } from "./report.js";
import type { GramFactor, GramRecord } from "../linalg/cholesky.js";
import { Cholesky } from "../linalg/cholesky.js";
import type { SpanChoice } from "./chooseSpan.js";
import { chooseSpan, spanHoldWarning } from "./chooseSpan.js";
import { checkInputs, viewOf } from "../model/planView.js";
import type { NetworkInputs } from "../model/planView.js";
import type { PlanView } from "../model/planView.js";
import { hasWorkers } from "../parallel/pool.js";
import { relinearizedSolve } from "./relinearize.js";
import { mergeShares } from "../parallel/merge.js";

export type SubspaceName = "patch" | "layerwise" | "linearized" | "relinearized";
/** The spans of the one-hidden-layer model, and of a sequential one. */
export const SUBSPACE_NAMES: readonly SubspaceName[] = ["patch", "linearized", "relinearized"];
export const SEQUENTIAL_SUBSPACES: readonly SubspaceName[] = ["layerwise", "linearized", "relinearized"];

export interface PurifyProgress {
  /** "filters": the patch span's layers (the filters, then the readout); "layerwise": a multi-layer model's. */
  stage: "filters" | "layerwise" | "linearized" | "relinearized";
  iteration: number;
  primal: number;
  dual: number;
}

export interface PurifyOptions {
  /** The one-hidden-layer model; or `model`, a sequential one (parameters in its plan's layout). */
  shape?: ModelShape;
  model?: SequentialModel;
  /** theta0: the parameters training started from (or a trusted reference). */
  init: Float64Array;
  /** The training inputs: patch vectors (one-hidden), or n images (C x H x W each, sequential). */
  data: PatchData | NetworkInputs;
  /** Sequential: the layers training left at init (restored; no span column of theirs). */
  frozen?: number[];
  /** The span (default "auto": chosen by chooseSpan's rule, named with its reason in the report). */
  subspace?: SubspaceName | "auto";
  solver?: SolverName;
  /**
   * "auto" (default): ADMM over a dense span (the patch span) finds the support in f32 where that
   * pays (a SIMD binary, a large enough batch), polish and certificate in f64 (problems whose polish
   * is not an exact fit continue in f64); "mixed": so wherever the span is dense; "f64": f64
   * throughout. See Arithmetic.
   */
  arithmetic?: Arithmetic;
  backend?: Backend | string;
  /** Patch and layerwise spans: add each row's init as one more column (weight decay; a folded BatchNorm). */
  weightDecay?: boolean;
  /** The clean model, when known: adds recovery errors and detection precision/recall. */
  clean?: Float64Array;
  admm?: AdmmOptions;
  /**
   * Whether training updated beta (default true). false: beta's span is {0}, so beta is restored to
   * init and the linearized spans use the Jacobian wrt (W, b) only.
   */
  trainedReadout?: boolean;
  /**
   * Finite entries whose change exceeds this many robust scales (median |theta~ - theta0|) are
   * erased like NaN/Inf before solving (default 1e6): values like 1e38 from exponent bit flips would
   * otherwise swamp f64 precision in the solver.
   */
  grossFactor?: number;
  /**
   * Patch and layerwise spans: split a layer's row problems over up to this many workers (each with
   * its own WASM instance), at least MIN_ROWS_PER_WORKER (32) rows each: smaller shares cost more to send
   * than to solve, and run in the calling thread. Results are bit-identical to one thread. Needs the
   * Node or browser entry point. Progress callbacks are not forwarded from workers. Default 1.
   */
  workers?: number;
  /** Least-squares polishing on the exactly-fit rows (default true). */
  polish?: boolean;
  /**
   * The precision the model was trained and stored in (default "f64"). A model stored in f32 (or
   * f16, bf16) fits its span only up to that rounding: a row counts as fit (certificate, polish,
   * detection) when its residual is within precisionFloor (64 units of roundoff of the entry's scale).
   */
  precision?: ModelPrecision;
  onProgress?: (p: PurifyProgress) => void;
}

const PURIFY_OPTIONS = ["shape", "model", "frozen", "init", "data", "subspace", "solver", "arithmetic", "backend", "weightDecay", "clean", "admm", "polish", "onProgress", "trainedReadout", "grossFactor", "workers", "precision"];

export type ModelPrecision = "f64" | "f32" | "f16" | "bf16";
/** Unit roundoff of each storage precision (f64's is far below every tolerance: no floor). */
const ROUNDOFF: Record<ModelPrecision, number> = { f64: 0, f32: 2 ** -24, f16: 2 ** -11, bf16: 2 ** -8 };

/**
 * Per parameter, the residual a model trained and stored in `precision` may keep while fitting its
 * span exactly: 64 units of roundoff of the largest of |init|, |contaminated| (finite) and the rms of
 * init. Storing rounds once (1 unit); training in that precision rounds every step, and a PyTorch
 * model trained 100 SGD steps in f32 keeps up to ~15 units (measured on test/fixtures/pytorch/exact),
 * so 64 leaves a margin while a change of 1e-3 of a tensor's rms is still 15x above it. null for f64.
 */
export function precisionFloor(precision: ModelPrecision, init: ArrayLike<number>, contaminated: ArrayLike<number>): Float64Array | null {
  const u = ROUNDOFF[precision];
  if (u === undefined) throw new OptionError(`purify: unknown precision "${precision}" (known: ${Object.keys(ROUNDOFF).join(", ")})`);
  if (!u) return null;
  let ss = 0;
  for (let i = 0; i < init.length; i++) ss += init[i] * init[i];
  const rms = Math.sqrt(ss / Math.max(init.length, 1));
  const f = new Float64Array(init.length);
  for (let i = 0; i < f.length; i++) f[i] = 64 * u * Math.max(Math.abs(init[i]), Number.isFinite(contaminated[i]) ? Math.abs(contaminated[i]) : 0, rms);
  return f;
}

export interface PurifyReport {
  backend: string;
  /** The kernel binary that ran ("simd", "scalar"; "js" for the TypeScript backend). */
  binary: string;
  subspace: SubspaceName;
  /** Why this span: the rule's reason for "auto", or "as asked". */
  spanReason: string;
  /** Spans that cannot remove anything (the whole space for some rows), or cannot hold the model's change. */
  warnings: string[];
  /** The share of the model's change the span leaves unexplained (spanFit): ~0 where the span holds it. */
  unexplained: number;
  solver: SolverName;
  /** Subspace dimension m per problem and number of problems B. */
  spanDim: number;
  problems: number;
  iterations: number;
  /** ADMM iterations run in f32 by the mixed-precision solver (0: f64 throughout). */
  f32Iterations: number;
  primalResidual: number;
  dualResidual: number;
  objective: number;
  seconds: number;
  converged: boolean;
  /** Ridge the Gram needed: > 0 means the span's columns are linearly dependent. */
  ridge: number;
  /**
   * The linearized spans: how the NTK the answer was solved over was formed and factored (f32 when
   * its estimated condition allows, else f64, with the reason); null for the patch span.
   */
  gram: GramRecord | null;
  /**
   * Exactness certificate of the filter rows (W, b) — all parameters for the linearized spans:
   * within every block of rows (one filter's [w_j ; b_j], and beta when it was trained) at least
   * m + margin rows are fit exactly, margin = max(8, 10% of the block's rows beyond m). A vector
   * outside the span fits at most m generic rows of a block exactly, so this holds only for exact
   * fits. Blocks matter: a shared u can fit one filter's block exactly while missing another's.
   * False means "not certified exact", e.g. too much contamination, or a span that is only approximate.
   */
  recovered: boolean;
  /** Same certificate for beta ("patch" only; beta's span is approximate, so usually false). */
  betaRecovered: boolean | null;
  /** min over blocks of (exactly fit rows - m - margin): >= 0 exactly when `recovered`. */
  certificateSlack: number;
  /** Indices (into theta) judged contaminated: large residual, or erased. */
  estimatedContaminated: Int32Array;
  /** Indices that were NaN/Inf in the input: dropped from the fit and restored from the span. */
  erasures: Int32Array;
  /** Finite indices erased for being gross (see grossFactor), restored the same way. */
  grossOutliers: Int32Array;
  /** The layerwise span: each layer's span, iterations and certificate. */
  layers?: LayerReport[];
  /** Present when options.clean was given (one-hidden-layer model). */
  errors?: RecoveryErrors;
  /** Residual of the clean update outside the span, relative (options.clean given). */
  cleanSpanResidual?: number;
  precision?: number;
  recall?: number;
}

export interface PurifyResult {
  params: Float64Array;
  report: PurifyReport;
  /**
   * A re-linearized run that made a second pass: the first pass's answer, which is the linearized
   * span's (the same as a "linearized" run on this purifier), with its own report.
   */
  firstPass?: PurifyResult;
}

/** One answer of a purification, before its report: parameters, solutions, certificate and the entries its residuals flag. */
interface Answer {
  out: Float64Array; solutions: BatchSolution[]; slack: number; betaRecovered: boolean | null; spanDim: number; problems: number; layers?: LayerReport[];
  estimated: number[]; cleanSpanResidual?: number; gram: GramRecord | null; subspace: SubspaceName; seconds: number;
}


const isLinearized = (s: string | undefined) => s === "linearized" || s === "relinearized";

/** The exactness margin: how many more exactly fit rows than unknowns certify a block. */
export function certificateMargin(rows: number, m: number): number {
  return Math.max(8, Math.ceil(0.1 * (rows - m)));
}

/**
 * min over blocks [start, start + len) of (rows with |res| <= 1e-9 rms(r) - m - margin), erased
 * rows excluded. res and r are one problem's residual and right-hand side.
 */
export function certificateSlack(res: Float64Array, r: Float64Array, blocks: Array<[number, number]>, m: number, erased: Set<number>, floor?: Float64Array | null): number {
  let ss = 0;
  for (let i = 0; i < r.length; i++) ss += r[i] * r[i];
  const tol = 1e-9 * Math.sqrt(ss / Math.max(r.length, 1));
  let slack = Infinity;
  for (const [start, len] of blocks) {
    let fit = 0;
    for (let i = start; i < start + len; i++) if (!erased.has(i) && Math.abs(res[i]) <= (floor ? Math.max(tol, floor[i]) : tol)) fit++;
    slack = Math.min(slack, fit - m - certificateMargin(len, m));
  }
  return slack;
}


export interface PurifyRunOptions {
  /** The clean model, when known: adds recovery errors and detection precision/recall. */
  clean?: Float64Array;
  /**
   * A purifier prepared for "linearized" or "relinearized" can run either on each call (both start
   * from the span at init, which is formed once); a "patch" or "layerwise" one only that.
   */
  subspace?: SubspaceName;
  onProgress?: (p: PurifyProgress) => void;
}

/**
 * One span, prepared once, for many contaminated versions of one model (like a factorization that
 * solves many right-hand sides): the training data are uploaded and, for the linearized spans, the
 * NTK is formed and factored when the purifier is built. `purify(c, options)` is
 * `createPurifier(options).purify(c)` followed by `dispose()`.
 */
export class Purifier {
  private lin0: SequentialLinearizedOperator | null = null;
  private factor0: GramFactor | null = null;
  private record0: GramRecord | null = null;

  /** view: the model as the plan every span is solved on (the linearized spans work in its coordinates). */
  private constructor(readonly be: Backend, readonly shape: ModelShape | undefined, private readonly o: PurifyOptions & { subspace: SubspaceName },
    readonly choice: SpanChoice, private readonly view: PlanView) {}

  /** The plan's linearized span at theta (the plan's coordinates); frozen layers (an untrained readout) have no rows. */
  private spanAt(theta: Float64Array): SequentialLinearizedOperator {
    const { data } = this.o, v = this.view;
    return new SequentialLinearizedOperator(this.be, v.plan, data.values, data.samples, theta, v.frozen);
  }

  /** || (I - Proj)(clean - init) || / || clean - init || over the one-hidden filters' rows: the span of the data's augmented patches. */
  private filterSpanResidual(clean: Float64Array): number {
    const { be } = this, data = this.o.data as PatchData, shape = this.shape!, L = layoutOf(shape), cols = uploadAugmented(be, data);
    const base = new PatchSpanOperator(be, cols, data.samples * data.patches, L.row, shape.filters);
    try { return spanResidualOf(be, base, clean, this.o.init, 0, L.row, shape.filters); } finally { base.dispose(); be.free(cols); }
  }

  /** Validates the options once and prepares the span; throws the errors listed on purify(). */
  static async create(options: PurifyOptions): Promise<Purifier> {
    const where = "purify";
    checkOptionNames(where, options, PURIFY_OPTIONS);
    const { shape, model, init, data } = options;
    if (!init || !data || !shape === !model) throw new OptionError(`${where}: options.init, options.data and one of options.shape (one-hidden-layer) or options.model (sequential) are required`);
    const net = (shape ?? model)!, view = viewOf(net, options, where), size = view.index.length;
    checkInputs(where, net, data);
    const what = shape ? ` (K ${shape.filters} x (p ${shape.patchDim} + 1) + beta ${layoutOf(shape).betaSize})` : "";
    const choice = chooseSpan(net, data.samples, { requested: options.subspace, where, trainedReadout: options.trainedReadout, frozen: options.frozen, weightDecay: options.weightDecay });
    for (const [name, v] of [["init", init], ["clean", options.clean]] as const) {
      if (v && v.length !== size) throw new ShapeError(`${where}: ${name} has length ${v.length}, expected ${size} parameters${what}`);
    }
    checkFinite(where, "init", init);
    if (options.clean) checkFinite(where, "clean", options.clean);
    const subspace = choice.subspace as SubspaceName;
    // JSON callers (the edge handler) send strings and nulls: "false" would have read as true
    for (const k of ["weightDecay", "polish"] as const) if (options[k] !== undefined && typeof options[k] !== "boolean") throw new OptionError(`${where}: ${k} must be true or false, got ${shown(options[k])}`);
    const { grossFactor: gross } = options;
    if (gross !== undefined && !(typeof gross === "number" && gross > 1)) throw new OptionError(`${where}: grossFactor must be a number > 1 (robust scales of the change), got ${shown(gross)}`);
    checkAdmmOptions(where, options.admm);
    if (options.workers !== undefined && (!Number.isInteger(options.workers) || options.workers < 1)) {
      throw new OptionError(`${where}: workers must be an integer >= 1, got ${options.workers}`);
    }
    if ((options.workers ?? 1) > 1 && isLinearized(subspace)) choice.warnings.push(`workers split the patch and layerwise spans' row problems; the ${subspace} span runs on one thread`);
    // asked for workers where none can start: said at once, whether or not this problem would split
    if ((options.workers ?? 1) > 1 && !isLinearized(subspace) && !hasWorkers()) {
      throw new OptionError(`${where}: workers > 1 needs worker support, which this runtime's entry point does not provide (use the Node or browser build)`);
    }
    const solver = options.solver ?? "admm";
    if (!SOLVER_NAMES.includes(solver)) throw new OptionError(`${where}: unknown solver "${solver}" (known: ${SOLVER_NAMES.join(", ")})`);
    if (options.arithmetic !== undefined && !ARITHMETIC_NAMES.includes(options.arithmetic)) throw new OptionError(`${where}: unknown arithmetic "${options.arithmetic}" (known: ${ARITHMETIC_NAMES.join(", ")})`);
    const be = await resolveBackend(options.backend);
    const p = new Purifier(be, shape, { ...options, subspace, solver }, choice, view);
    if (isLinearized(subspace)) p.linearized();
    return p;
  }

  /** The linearized span at init and its factored NTK, built on first use. */
  private linearized(): { op: SequentialLinearizedOperator; factor: GramFactor; record: GramRecord } {
    if (!this.lin0) {
      this.lin0 = this.spanAt(this.view.toPlan(this.o.init));
      // only the re-linearized union asks for the NTK again: elsewhere its factor is all that is used
      this.lin0.keepGram = this.o.subspace === "relinearized";
      const { factor, record } = factorSpan(this.lin0, this.o.arithmetic);
      this.factor0 = factor; this.record0 = record;
    }
    return { op: this.lin0, factor: this.factor0!, record: this.record0! };
  }

  /**
   * || (I - Proj)(clean - init) || / || clean - init ||: how far the true update lies outside the
   * first span (the patch span's filter rows, or the linearized span at init); 0 when it is exact.
   */
  spanResidual(clean: Float64Array): number {
    const { init } = this.o, size = this.view.index.length;
    if (clean.length !== size) throw new ShapeError(`purify: clean has length ${clean.length}, expected ${size} parameters`);
    checkFinite("purify", "clean", clean);
    if (this.o.subspace === "layerwise") throw new OptionError("purify: spanResidual measures one span; the layerwise method has one per layer");
    if (this.o.subspace === "patch") {
      return this.filterSpanResidual(clean);
    }
    const { op, factor } = this.linearized(), toPlan = this.view.toPlan;
    return spanResidualOf(this.be, op, toPlan(clean), toPlan(init), 0, op.rows, 1, factor);
  }

  /** Recovers one contaminated parameter vector (not modified); NaN/Inf entries are erasures. */
  async purify(contaminated: Float64Array, run: PurifyRunOptions = {}): Promise<PurifyResult> {
    const where = "purify";
    checkOptionNames(where, run, ["clean", "onProgress", "subspace"]);
    const { shape, model, init, data } = this.o, { plan, toPlan, fromPlan: back, index, blocks } = this.view;
    const be = this.be, size = index.length, precision = this.o.precision ?? "f64";
    const clean = run.clean ?? this.o.clean;
    const onProgress = run.onProgress ?? this.o.onProgress;
    for (const [name, v] of [["contaminated", contaminated], ["clean", clean]] as const) {
      if (v && v.length !== size) throw new ShapeError(`${where}: ${name} has length ${v.length}, expected ${size} parameters`);
    }
    if (clean) checkFinite(where, "clean", clean);
    const subspace = run.subspace ?? this.o.subspace!, solver = this.o.solver!, names = shape ? SUBSPACE_NAMES : SEQUENTIAL_SUBSPACES;
    if (!names.includes(subspace)) throw new OptionError(`${where}: unknown subspace "${subspace}" (known: ${names.join(", ")})`);
    if (subspace !== this.o.subspace && !(isLinearized(subspace) && isLinearized(this.o.subspace))) {
      throw new OptionError(`${where}: this purifier was prepared for the "${this.o.subspace}" span and cannot run "${subspace}"`);
    }
    const t0 = performance.now();
    // a sequential model's statistics (BatchNorm's running ones) are not parameters: never fitted, recomputed at the result
    if (model) contaminated = withStatisticsOf(plan, contaminated, init);
    const { delta, nonFinite, gross, erasures } = splitErasures(contaminated, init, this.o.grossFactor);
    // what a model stored in f32 (or coarser) may keep as residual while fitting its span exactly
    const floorS = layerFloors(plan, precision, toPlan(init), toPlan(contaminated)), floor = floorS && back(floorS);
    const solveOpts = (stage: PurifyProgress["stage"]) => ({
      solver, arithmetic: this.o.arithmetic, admm: this.o.admm, polish: this.o.polish,
      onIteration: onProgress ? (it: number, primal: number, dual: number) => onProgress({ stage, iteration: it, primal, dual }) : undefined,
    });
    const newAnswer = (sub: SubspaceName): Answer => ({ out: contaminated.slice(), solutions: [], slack: Infinity, betaRecovered: null, spanDim: 0, problems: 0, estimated: [], gram: null, subspace: sub, seconds: 0 });
    /** Marks the entries of problem b's rows (at param offsets) that the fit flags (flaggedEntries), and NaN/Inf ones. */
    const detect = (a: Answer, s: BatchSolution, rows: number, B: number, offsetOf: (b: number, i: number) => number): void => {
      for (const [b, i] of flaggedEntries(s.residual, B, rows, (b, i) => delta[offsetOf(b, i)], floor && ((b, i) => floor[offsetOf(b, i)]),
        (b, i) => !Number.isFinite(contaminated[offsetOf(b, i)]))) a.estimated.push(offsetOf(b, i));
    };
    const answers: Answer[] = [];
    const disposeAfter: Array<() => void> = [];
    try {
      if (subspace === "patch" || subspace === "layerwise") {
        // each linear layer's rows in the span of its input patches, bottom-up through the purified
        // layers below (src/deep/layerwise.ts); the one-hidden-layer patch span is its plan's two
        // layers: the filters in the span of the data's patches, the readout in that of their features
        const a = newAnswer(subspace);
        answers.push(a);
        const split = { delta: toPlan(delta), erasures: erasures.map((i) => index[i]).sort((x, y) => x - y), floors: floorS };
        const r = await layerwiseOnPlan(be, plan, toPlan(contaminated), toPlan(init), data.values, data.samples, split, {
          frozen: this.view.frozen, admm: this.o.admm, initRows: this.o.weightDecay, solve: { ...solveOpts(shape ? "filters" : "layerwise"), workers: this.o.workers },
        });
        const solved = r.layers.filter((l) => !l.frozen && l.type !== "batchnorm"), caller = this.view.caller;
        Object.assign(a, { out: back(r.params), estimated: r.flagged.map((j) => caller[j]).filter((i) => i >= 0), solutions: r.solutions, problems: solved.length, seconds: (performance.now() - t0) / 1000 });
        a.slack = Math.min(...solved.map((l) => l.slack)); a.spanDim = Math.max(0, ...solved.map((l) => l.spanDim));
        if (shape) {
          // the one-hidden report: the filters' certificate and span; the readout's fit as betaRecovered
          const [filters, readout] = r.layers;
          Object.assign(a, { slack: filters.slack, spanDim: filters.spanDim, problems: shape.filters, betaRecovered: readout.frozen || readout.slack >= 0 });
          if (clean) a.cleanSpanResidual = this.filterSpanResidual(clean);
        } else {
          a.layers = r.layers;
        }
      } else {
        // solved in the plan's coordinates (the one-hidden readout's bias-free entries are rows of A
        // that are 0, with 0 change), read back in the caller's layout for certificate, detection and report
        const { op: lin0, factor, record } = this.linearized();
        const initS = toPlan(init);
        const erased = [erasures.length ? Int32Array.from(erasures, (i) => index[i]).sort() : null];
        const erasedSet = new Set(erasures);
        let firstSeconds = 0;
        const two = await relinearizedSolve(lin0, factor, toPlan(delta), initS, {
          relinearize: subspace === "relinearized",
          spanAt: (theta1) => { firstSeconds = (performance.now() - t0) / 1000; return this.spanAt(theta1); },
          exact: (first) => certificateSlack(back(first.residual), delta, blocks, lin0.cols, erasedSet, floor) >= 0,
          first: { ...solveOpts("linearized"), erased, floor: floorS ?? undefined },
          second: { ...solveOpts("relinearized"), erased, floor: floorS ?? undefined },
        });
        disposeAfter.push(two.dispose);
        // the answer; after a second pass, the first pass's answer too (the linearized span's)
        const passes = [{ sol: two.solution, op: two.op, f: two.factor, gram: two.record ?? record, sub: subspace, solutions: two.solution === two.first ? [two.first] : [two.first, two.solution] }];
        if (two.solution !== two.first) passes.push({ sol: two.first, op: lin0, f: factor, gram: record, sub: "linearized", solutions: [two.first] });
        for (const p of passes) {
          const a = newAnswer(p.sub), sol = { ...p.sol, fitted: back(p.sol.fitted), residual: back(p.sol.residual) };
          answers.push(a);
          a.solutions = p.solutions; a.gram = p.gram; a.spanDim = p.op.cols; a.problems = 1;
          a.slack = certificateSlack(sol.residual, delta, blocks, a.spanDim, erasedSet, floor);
          for (let i = 0; i < size; i++) a.out[i] = init[i] + sol.fitted[i];
          if (model) a.out = preciseStatistics(be, plan, a.out, data.values, data.samples);
          detect(a, sol, size, 1, (_b, i) => i);
          if (clean) a.cleanSpanResidual = spanResidualOf(be, p.op, toPlan(clean), initS, 0, p.op.rows, 1, p.f);
          a.seconds = p.sub === subspace ? (performance.now() - t0) / 1000 : firstSeconds;
        }
      }
    } finally {
      for (const d of disposeAfter) d();
    }
    const results = answers.map((a) => this.result(a, contaminated, clean, { nonFinite, gross, solver }));
    if (results.length > 1) results[0].firstPass = results[1];
    return results[0];
  }

  /** The report of one answer (see purify()). */
  private result(a: Answer, contaminated: Float64Array, clean: Float64Array | undefined, o: { nonFinite: number[]; gross: number[]; solver: SolverName }): PurifyResult {
    const { shape, model, init } = this.o, ss = a.solutions, plan = this.view.plan;
    const est = Int32Array.from(new Set(a.estimated)).sort();
    // recomputed statistics are no change of the model's: judged at the result's
    const { unexplained } = model ? spanFit(withStatisticsOf(plan, contaminated, a.out), withStatisticsOf(plan, init, a.out), a.out) : spanFit(contaminated, init, a.out);
    const hold = spanHoldWarning(unexplained, a.subspace);
    const report: PurifyReport = {
      backend: this.be.name, binary: this.be.binary, subspace: a.subspace,
      spanReason: a.subspace === this.o.subspace ? this.choice.reason : `${a.subspace} span as asked`,
      warnings: hold ? [...this.choice.warnings, hold] : this.choice.warnings, unexplained, solver: o.solver, spanDim: a.spanDim, problems: a.problems,
      iterations: ss.reduce((t, s) => t + s.iterations, 0), f32Iterations: ss.reduce((t, s) => t + s.f32Iterations, 0),
      primalResidual: Math.max(0, ...ss.map((s) => s.primal)), dualResidual: Math.max(0, ...ss.map((s) => s.dual)), objective: ss.reduce((t, s) => t + s.objective, 0),
      seconds: a.seconds, converged: ss.every((s) => s.converged), ridge: Math.max(0, ...ss.map((s) => s.ridge)), gram: a.gram,
      recovered: a.slack >= 0, betaRecovered: a.betaRecovered, certificateSlack: a.slack,
      estimatedContaminated: est, erasures: Int32Array.from(o.nonFinite), grossOutliers: Int32Array.from(o.gross),
    };
    if (a.layers) report.layers = a.layers;
    if (clean) {
      if (shape) report.errors = recoveryErrors(a.out, clean, shape);
      report.cleanSpanResidual = a.cleanSpanResidual;
      const truth = Uint8Array.from(a.out, (_, i) => (Object.is(contaminated[i], clean[i]) ? 0 : 1));
      Object.assign(report, detectionScores(est, truth));
    }
    return { params: a.out, report };
  }

  dispose(): void {
    this.lin0?.dispose();
    this.factor0?.dispose();
    this.lin0 = null; this.factor0 = null; this.record0 = null;
  }
}

/** Builds a Purifier (validating the options once). */
export function createPurifier(options: PurifyOptions): Promise<Purifier> {
  return Purifier.create(options);
}

/**
 * Recovers a contaminated parameter vector in the chosen span (see the file comment). Throws
 * OptionError / ShapeError / ValueError on bad options, NumericalError when a factorization fails.
 */
export async function purify(contaminated: Float64Array, options: PurifyOptions): Promise<PurifyResult> {
  const p = await Purifier.create(options);
  try {
    return await p.purify(contaminated);
  } finally {
    p.dispose();
  }
}

/**
 * The right-hand side delta = contaminated - init with its erased rows: NaN/Inf entries, and finite
 * changes above grossFactor (default 1e6) x the median |delta| of the changed entries (values like 1e38 from exponent bit flips
 * would swamp f64 precision in any solver). Erased rows of delta are 0; erasures is both, sorted.
 */
export function splitErasures(contaminated: Float64Array, init: Float64Array, grossFactor = 1e6): { delta: Float64Array; nonFinite: number[]; gross: number[]; erasures: number[] } {
  const nonFinite: number[] = [], gross: number[] = [];
  const delta = new Float64Array(contaminated.length);
  for (let i = 0; i < delta.length; i++) {
    if (Number.isFinite(contaminated[i])) delta[i] = contaminated[i] - init[i];
    else nonFinite.push(i);
  }
  const grossLimit = grossFactor * robustScale(delta, nonFinite);
  for (let i = 0; i < delta.length; i++) if (Math.abs(delta[i]) > grossLimit) { gross.push(i); delta[i] = 0; }
  return { delta, nonFinite, gross, erasures: [...nonFinite, ...gross].sort((a, b) => a - b) };
}

/**
 * Median of |delta| over the finite entries that changed (1e-300 if none did): the unit of "gross".
 * Unchanged entries carry no scale: in a fine-tuned model half the entries can be frozen at 0 change,
 * and their zeros once made the median a rounding error (6e-8) and every real update "gross".
 */
function robustScale(delta: Float64Array, skip: number[]): number {
  const s = new Set(skip), a: number[] = [];
  for (let i = 0; i < delta.length; i++) if (!s.has(i) && delta[i] !== 0) a.push(Math.abs(delta[i]));
  const sorted = Float64Array.from(a).sort();
  return sorted.length ? Math.max(sorted[sorted.length >> 1], 1e-300) : 1e-300;
}

/** Splits global erasure indices into per-problem local indices (problems of `len` from `offset`). */
export function perProblem(erasures: number[], offset: number, len: number, B: number): Array<Int32Array | null> {
  const lists: number[][] = Array.from({ length: B }, () => []);
  for (const i of erasures) {
    const j = i - offset;
    if (j >= 0 && j < len * B) lists[Math.floor(j / len)].push(j % len);
  }
  return lists.map((l) => (l.length ? Int32Array.from(l) : null));
}

/** Weight decay: filter j's span gets its init row as an extra column, so problems are solved one by one. */
export async function solveEach(be: Backend, base: LinearOperator, r: Float64Array, B: number, rows: number, init: Float64Array,
  erased: Array<Int32Array | null>, opts: Parameters<typeof solveBatch>[3]): Promise<BatchSolution> {
  const col = be.alloc(rows), sols: BatchSolution[] = [];
  try {
    for (let b = 0; b < B; b++) {
      be.upload(col, init.subarray(b * rows, (b + 1) * rows));
      const op = new AppendColumnOperator(be, base, col);
      try {
        sols.push(await solveBatch(op, r.subarray(b * rows, (b + 1) * rows), 1, { ...opts, erased: [erased[b]], floor: opts.floor?.subarray(b * rows, (b + 1) * rows) }));
      } finally {
        op.dispose();
      }
    }
  } finally {
    be.free(col);
  }
  // one problem a share: merged as a worker pool's shares are
  return mergeShares(sols, sols.map((_, b) => [b, b + 1]), rows);
}

/**
 * || (I - Proj_span)(clean - init) || / || clean - init || over the B problems at offset: how far
 * the true update is from the span (0 when the span is exact). Least squares through the Gram.
 */
export function spanResidualOf(be: Backend, op: LinearOperator, clean: Float64Array, init: Float64Array, offset: number, rows: number, B: number, factor?: GramFactor): number {
  const m = op.cols;
  const d = new Float64Array(B * rows);
  for (let i = 0; i < B * rows; i++) d[i] = clean[offset + i] - init[offset + i];
  const chol: GramFactor = factor ?? Cholesky.fromGram(be, m, (g) => op.gram(g), true);
  const db = be.upload(be.alloc(B * rows), d), u = be.alloc(m), du = be.alloc(m), fit = be.alloc(rows);
  // an f32 factor solves to ~1e-5 here: refined against the operator in f64 until the fit stops improving (<= 6 steps)
  const steps = chol.precision === "f32" ? 6 : 1;
  let num = 0, den = 0;
  for (let b = 0; b < B; b++) {
    // one problem at a time so that single-problem operators work too
    const db1 = be.slice(db, b * rows, rows);
    be.fill(u, 0); be.fill(fit, 0);
    let ss = Infinity;
    for (let step = 0; step < steps; step++) {
      // u += G^-1 A^T (d - A u)
      be.sub(fit, db1, fit);
      op.applyT(fit, du, 1);
      chol.solve(du, 1);
      be.axpy(u, 1, du);
      op.apply(u, fit, 1);
      const fv = be.view(fit);
      let s = 0;
      for (let i = 0; i < rows; i++) s += (fv[i] - d[b * rows + i]) ** 2;
      if (!(s < ss * (1 - 1e-6))) { ss = Math.min(ss, s); break; }
      ss = s;
    }
    num += ss;
    for (let i = 0; i < rows; i++) den += d[b * rows + i] ** 2;
  }
  if (chol !== factor) chol.dispose();
  for (const x of [db, u, du, fit]) be.free(x);
  return Math.sqrt(num / Math.max(den, 1e-300));
}
