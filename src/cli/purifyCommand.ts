// `cnn-purify purify`: a contaminated model file, its init (or a trusted reference) and the
// training inputs in; the purified model file out. Inputs are only read; the output is written
// atomically and may not be any of the inputs.
import { basename, extname } from "node:path";
import { resolveBackend } from "../backend/index.js";
import { BACKEND_NAMES } from "../backend/types.js";
import { OptionError } from "../errors.js";
import type { ModelSpec } from "../io/modelFile.js";
import { modelToTensors } from "../io/modelFile.js";
import { encodeOnnx } from "../io/onnx.js";
import { encodeSafetensors } from "../io/safetensors.js";
import { patchesFromImages } from "../model/data.js";
import { WASM_MEMORY_LIMIT, memoryEstimate } from "../recover/memory.js";
import { SUBSPACE_NAMES, purify } from "../recover/purify.js";
import { SOLVER_NAMES } from "../recover/solve.js";
import { evaluate } from "../train/train.js";
import type { OptionSpec } from "./args.js";
import { choice, helpText, num, parse } from "./args.js";
import type { Command } from "./commands.js";
import { InputFileError, writeFileAtomic } from "./files.js";
import { MODEL_FORMATS, readImages, readLabels, readModel, sameFile } from "./purifyInputs.js";
import { isSequentialOnnx, runSequential } from "./purifySequential.js";
import { ProgressBar } from "./progress.js";
import { table } from "./table.js";

const spec: OptionSpec = {
  model: { type: "string", help: "the contaminated model: .onnx (Conv, Relu, Flatten/ReduceSum, Gemm) or .safetensors (conv.weight, conv.bias, fc.weight)" },
  init: { type: "string", help: "the parameters training started from, same format and shapes" },
  data: { type: "string", help: "training inputs, .npy (or .npz: its array \"data\" or its only one) of shape (n, C, H, W) or (n, H, W)" },
  labels: { type: "string", help: "optional .npy/.npz of n class labels: reports accuracy on the data before and after" },
  out: { type: "string", help: "where to write the purified model (.onnx or .safetensors); never one of the inputs" },
  precision: { type: "string", help: "f64 or f32 numbers in the output (default: f32 for .onnx, which runtimes execute; f64 for .safetensors)" },
  "eval-data": { type: "string", help: "optional held-out images .npy (same layout as --data): accuracy before/after on them" },
  "eval-labels": { type: "string", help: "their labels (.npy), required with --eval-data" },
  report: { type: "string", help: "optional path for the JSON report" },
  method: { type: "string", help: "the same as --subspace" },
  frozen: { type: "string", help: "multi-layer models: comma-separated layer indices training left at init (fine-tuning the top); restored to init" },
  "max-iter": { type: "string", help: "ADMM iteration cap (default 5000; it also stops when the l1 objective stalls)" },
  subspace: { type: "string", help: `recovery span: ${SUBSPACE_NAMES.join(", ")} for the one-hidden-layer model (default patch); layerwise or linearized for a multi-layer .onnx (default layerwise; also relinearized)` },
  solver: { type: "string", default: "admm", help: `LAD solver: ${SOLVER_NAMES.join(", ")}` },
  "trained-readout": { type: "string", default: "yes", help: "yes if training updated fc.weight, no if it stayed at init" },
  backend: { type: "string", default: "wasm", help: `kernel backend: ${BACKEND_NAMES.join(", ")}` },
  json: { type: "boolean", help: "print the summary as JSON" },
  help: { type: "boolean", help: "show this help" },
};

function sameSpec(a: ModelSpec, b: ModelSpec): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export const purifyCommand: Command = {
  summary: "purify a contaminated model file given its init and training inputs; writes the purified model",
  spec,
  async run(argv, out) {
    const v = parse("purify", argv, spec);
    if (v.help) { out(helpText("purify", this.summary, spec) + EXIT_CODES); return; }
    for (const k of ["model", "init", "data", "out"]) {
      if (typeof v[k] !== "string" || v[k] === "") throw new OptionError(`purify: --${k} is required (see: cnn-purify purify --help)`);
    }
    const paths = {
      model: v.model as string, init: v.init as string, data: v.data as string, labels: v.labels as string | undefined,
      "eval-data": v["eval-data"] as string | undefined, "eval-labels": v["eval-labels"] as string | undefined,
    };
    if ((paths["eval-data"] === undefined) !== (paths["eval-labels"] === undefined)) throw new OptionError("purify: --eval-data and --eval-labels go together");
    const maxIter = v["max-iter"] === undefined ? undefined : num("purify", "max-iter", v["max-iter"], { int: true, min: 1 });
    const outPath = v.out as string, reportPath = v.report as string | undefined;
    for (const [what, p] of Object.entries(paths)) {
      if (p !== undefined && sameFile(outPath, p)) throw new OptionError(`purify: --out ${outPath} is the --${what} file; the inputs are never overwritten: choose another path`);
      if (p !== undefined && reportPath !== undefined && sameFile(reportPath, p)) throw new OptionError(`purify: --report ${reportPath} is the --${what} file; choose another path`);
    }
    if (reportPath !== undefined && sameFile(reportPath, outPath)) throw new OptionError("purify: --report and --out are the same file");
    if (!MODEL_FORMATS.includes(extname(outPath).toLowerCase())) throw new OptionError(`purify: --out ${outPath}: unsupported model format "${extname(outPath) || "(none)"}" (supported: ${MODEL_FORMATS.join(", ")})`);
    if (v.subspace !== undefined && v.method !== undefined && v.subspace !== v.method) throw new OptionError("purify: --method and --subspace name the same choice; give one");
    const methodArg = v.subspace ?? v.method;
    const subspaceArg = methodArg === undefined ? undefined : choice("purify", v.subspace !== undefined ? "subspace" : "method", methodArg, [...SUBSPACE_NAMES, "layerwise"] as const);
    const solver = choice("purify", "solver", v.solver, SOLVER_NAMES);
    const backendName = choice("purify", "backend", v.backend, BACKEND_NAMES);
    const outExt = extname(outPath).toLowerCase();
    const precision = v.precision === undefined ? (outExt === ".onnx" ? "f32" : "f64") : choice("purify", "precision", v.precision, ["f64", "f32"] as const);
    const trainedReadout = choice("purify", "trained-readout", v["trained-readout"], ["yes", "no"] as const) === "yes";

    const data = readImages(paths.data, "data");
    const [n, C, H, W] = data.dims;

    if (isSequentialOnnx(paths.model)) {
      const frozen = v.frozen === undefined ? [] : String(v.frozen).split(",").map((x) => num("purify", "frozen", x, { int: true, min: 0 }));
      const r = await runSequential({ paths, outPath, reportPath, data: data.values, dims: data.dims, subspace: subspaceArg, backendName, maxIter, precision, json: v.json === true, frozen });
      out(r);
      return;
    }
    if (v.frozen !== undefined) throw new OptionError("purify: --frozen is for multi-layer models");
    if (subspaceArg === "layerwise") throw new OptionError("purify: --subspace layerwise is for multi-layer models; this is the one-hidden-layer model (patch, linearized, relinearized)");
    const subspace = subspaceArg ?? "patch";
    const model = readModel(paths.model, "model", { height: H, width: W });
    const init = readModel(paths.init, "init", { height: H, width: W });
    if (!sameSpec(model.spec, init.spec)) {
      throw new InputFileError(`--model and --init describe different networks: ${JSON.stringify(model.spec.shape)} vs ${JSON.stringify(init.spec.shape)}`);
    }
    const { shape, image } = model.spec;
    if (image.channels !== C || image.height !== H || image.width !== W) {
      throw new InputFileError(`--data ${paths.data}: images are ${C}x${H}x${W}, the model expects ${image.channels}x${image.height}x${image.width}`);
    }
    if (init.theta.some((x) => !Number.isFinite(x))) throw new InputFileError(`--init ${paths.init}: contains NaN or Inf; the init must be finite`);
    const labels = paths.labels === undefined ? undefined : readLabels(paths.labels, "labels", n, shape.outputs);
    let evalSet: { images: Float64Array; n: number; labels: Float64Array } | undefined;
    if (paths["eval-data"] !== undefined) {
      const e = readImages(paths["eval-data"], "eval-data");
      if (e.dims[1] !== C || e.dims[2] !== H || e.dims[3] !== W) throw new InputFileError(`--eval-data ${paths["eval-data"]}: images are ${e.dims.slice(1).join("x")}, --data has ${C}x${H}x${W}`);
      evalSet = { images: e.values, n: e.dims[0], labels: readLabels(paths["eval-labels"]!, "eval-labels", e.dims[0], shape.outputs) };
    }
    const need = memoryEstimate(shape, { samples: n, patches: shape.patches }, subspace);
    if (need > WASM_MEMORY_LIMIT) {
      throw new InputFileError(`purify: this problem needs about ${(need / 2 ** 30).toFixed(1)} GiB of working memory (${need} bytes); WebAssembly memory ends at 4 GiB. ` +
        `Use fewer samples in --data${subspace === "patch" ? "" : ` (the ${subspace} span grows with n^2)`}.`);
    }

    const be = await resolveBackend(backendName);
    const patches = patchesFromImages(be, data.values, n, image);
    const bar = new ProgressBar("purify", !v.json);
    const { params, report } = await purify(model.theta, {
      shape, init: init.theta, data: patches, subspace, solver, backend: be, trainedReadout, admm: maxIter ? { maxIter } : undefined,
      onProgress: (p) => bar.update(Math.min(p.iteration, 5000), 5000, `${p.stage} iteration ${p.iteration}`),
    });
    bar.update(1, 1, "done");
    if (outExt === ".onnx") writeFileAtomic(outPath, encodeOnnx(model.spec, params, { dtype: precision }));
    else {
      const file = modelToTensors(model.spec, params);
      const dtype = precision === "f32" ? "F32" as const : "F64" as const;
      const tensors = Object.fromEntries(Object.entries(file.tensors).map(([k, t]) => [k, { ...t, dtype }]));
      writeFileAtomic(outPath, encodeSafetensors(tensors, { ...file.metadata, purified_from: basename(paths.model) }));
    }
    let changed = 0;
    for (let i = 0; i < params.length; i++) if (!Object.is(params[i], model.theta[i])) changed++;
    const summary: Record<string, unknown> = {
      out: outPath, parameters: params.length, changed, estimatedContaminated: report.estimatedContaminated.length,
      erasures: report.erasures.length, grossOutliers: report.grossOutliers.length, subspace, spanDim: report.spanDim,
      iterations: report.iterations, seconds: report.seconds, certifiedExact: report.recovered,
    };
    // NaN/Inf parameters would make every output NaN: the "before" accuracy counts them as 0
    const finiteModel = model.theta.map((x) => (Number.isFinite(x) ? x : 0));
    if (labels) {
      const acc = async (t: Float64Array) => (await evaluate(shape, t, patches, labels, { backend: be })).accuracy;
      summary.accuracyBefore = await acc(finiteModel);
      summary.accuracyAfter = await acc(params);
    }
    if (evalSet) {
      const ep = patchesFromImages(be, evalSet.images, evalSet.n, image);
      const acc = async (t: Float64Array) => (await evaluate(shape, t, ep, evalSet!.labels, { backend: be })).accuracy;
      summary.evalAccuracyBefore = await acc(finiteModel);
      summary.evalAccuracyAfter = await acc(params);
    }
    if (reportPath !== undefined) {
      const { estimatedContaminated, erasures, grossOutliers, ...rest } = report;
      writeFileAtomic(reportPath, JSON.stringify({ ...summary, report: { ...rest, estimatedContaminated: Array.from(estimatedContaminated), erasures: Array.from(erasures), grossOutliers: Array.from(grossOutliers) } }, null, 2) + "\n");
    }
    out(v.json ? JSON.stringify(summary) : table(["quantity", "value"], Object.entries(summary).map(([k, x]) => [k, typeof x === "number" && !Number.isInteger(x) ? x : String(x)])));
  },
};

export const EXIT_CODES = "\nexit codes: 0 success; 1 failure while running; 2 bad usage (unknown option, bad value, an output path equal to an input); " +
  "3 a bad input file (unreadable, corrupt or truncated, wrong shapes, NaN in data, too large for memory)\n";
