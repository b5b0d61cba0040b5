// `cnn-purify purify`: a contaminated model file, its init (or a trusted reference) and the
// training inputs in; the purified model file out: the user's own file with only the purified
// tensors' data changed (src/files/purifyFiles.ts, shared with the edge handler). Inputs are only
// read; the output is written atomically and may not be any of the inputs.
import { extname } from "node:path";
import { resolveBackend } from "../backend/index.js";
import { BACKEND_NAMES } from "../backend/types.js";
import { OptionError } from "../errors.js";
import type { FilePurifyResult } from "../files/purifyFiles.js";
import { openFileProblem } from "../files/purifyFiles.js";
import type { FloatDtype } from "../io/dtypes.js";
import { modelToTensors } from "../io/modelFile.js";
import { MODEL_EXTENSIONS, formatOfName } from "../io/modelSource.js";
import { encodeOnnx } from "../io/onnx.js";
import { encodeSequentialOnnx } from "../io/onnxSequential.js";
import { encodeSafetensors } from "../io/safetensors.js";
import { WASM_MEMORY_LIMIT } from "../recover/memory.js";
import { plainReport } from "../recover/report.js";
import { fileDigests } from "../files/check.js";
import { VERSION } from "../version.js";
import { ARITHMETIC_NAMES, SOLVER_NAMES } from "../recover/solve.js";
import type { OptionSpec } from "./args.js";
import { COMMON, choice } from "./args.js";
import type { Command } from "./commands.js";
import { InputFileError, writeFileAtomic } from "./files.js";
import { FILE_SPEC, fileOptions, readInput, sameFile } from "./purifyInputs.js";
import { ProgressBar } from "./progress.js";
import { table } from "./table.js";

const spec: OptionSpec = {
  model: { type: "string", help: "the contaminated model: .onnx (a sequential CNN, as torch.onnx.export writes it), .safetensors or .pt (the one-hidden-layer CNN's tensors, PyTorch's names)" },
  ...FILE_SPEC,
  labels: { type: "string", help: "optional .npy/.npz of n class labels: reports accuracy on the data before and after" },
  out: { type: "string", help: "where to write the purified model: --model's file with new weights (or, with another extension, converted); never one of the inputs" },
  precision: { type: "string", help: "convert the output to f64 or f32 (default: each tensor keeps the dtype it has in --model)" },
  "eval-data": { type: "string", help: "optional held-out images .npy (same layout as --data): accuracy before/after on them" },
  "eval-labels": { type: "string", help: "their labels (.npy), required with --eval-data" },
  report: { type: "string", help: "optional path for the JSON report" },
  method: { type: "string", help: "the same as --subspace" },
  "init-rows": { type: "boolean", help: "each filter row's span also holds its own init row (patch and layerwise spans): training with weight decay, or a BatchNorm the ONNX export folded into the convolution" },
  solver: { type: "string", default: "admm", help: `LAD solver: ${SOLVER_NAMES.join(", ")}` },
  arithmetic: { type: "string", default: "auto", help: "ADMM arithmetic: auto (f32 to find the support where it pays, polish and certificate in f64), mixed (f32 wherever the span is dense), f64" },
  ...COMMON,
};

const FORMAT_NAMES = Object.keys(MODEL_EXTENSIONS).join(", ");

function formatOf(path: string, what: string) {
  const f = formatOfName(path);
  if (!f) throw new OptionError(`purify: --${what} ${path}: unsupported model format "${extname(path) || "(none)"}" (supported: ${FORMAT_NAMES})`);
  return f;
}

/**
 * The bytes to write: the user's file with the new weights when --out has --model's format and
 * no conversion was asked for (or the one asked is the file's own dtype); else the model encoded anew.
 */
function outputBytes(r: FilePurifyResult, outFormat: string, precision: "f32" | "f64" | undefined): Uint8Array {
  const own: FloatDtype | undefined = precision === "f32" ? "F32" : precision === "f64" ? "F64" : undefined;
  if (outFormat === r.model.format && (own === undefined || r.model.dtypes.every((d) => d === own))) {
    if (r.file.unstored.length) throw new InputFileError(`purify: ${r.file.unstored.length} purified parameters have no place in --model's file (e.g. a bias it does not store)`);
    return r.file.bytes;
  }
  const dtype = precision ?? (outFormat === "onnx" ? "f32" : "f64");
  if (r.model.kind === "sequential") {
    if (outFormat !== "onnx") throw new OptionError(`purify: multi-layer models are written as .onnx, not .${outFormat}`);
    return encodeSequentialOnnx(r.model.model, r.params, { dtype });
  }
  if (outFormat === "onnx") return encodeOnnx(r.model.spec, r.params, { dtype });
  const file = modelToTensors(r.model.spec, r.params);
  const d = dtype === "f32" ? "F32" as const : "F64" as const;
  return encodeSafetensors(Object.fromEntries(Object.entries(file.tensors).map(([k, t]) => [k, { ...t, dtype: d }])), file.metadata);
}

export const EXIT_CODES = "\nexit codes: 0 success; 1 failure while running; 2 bad usage (unknown option, bad value, an output path equal to an input); " +
  "3 a bad input file (unreadable, corrupt or truncated, wrong shapes, NaN in data, too large for memory)\n";

export const purifyCommand: Command = {
  summary: "purify a contaminated model file given its init and training inputs; writes the purified model",
  spec, helpNote: EXIT_CODES,
  async run(v, out) {
    for (const k of ["model", "init", "data", "out"]) {
      if (typeof v[k] !== "string" || v[k] === "") throw new OptionError(`purify: --${k} is required (see: cnn-purify purify --help)`);
    }
    const paths = {
      model: v.model as string, init: v.init as string, data: v.data as string, labels: v.labels as string | undefined,
      "eval-data": v["eval-data"] as string | undefined, "eval-labels": v["eval-labels"] as string | undefined,
    };
    if ((paths["eval-data"] === undefined) !== (paths["eval-labels"] === undefined)) throw new OptionError("purify: --eval-data and --eval-labels go together");
    const outPath = v.out as string, reportPath = v.report as string | undefined;
    for (const [what, p] of Object.entries(paths)) {
      if (p !== undefined && sameFile(outPath, p)) throw new OptionError(`purify: --out ${outPath} is the --${what} file; the inputs are never overwritten: choose another path`);
      if (p !== undefined && reportPath !== undefined && sameFile(reportPath, p)) throw new OptionError(`purify: --report ${reportPath} is the --${what} file; choose another path`);
    }
    if (reportPath !== undefined && sameFile(reportPath, outPath)) throw new OptionError("purify: --report and --out are the same file");
    formatOf(paths.model, "model");
    formatOf(paths.init, "init");
    const outFormat = formatOf(outPath, "out");
    if (v.subspace !== undefined && v.method !== undefined && v.subspace !== v.method) throw new OptionError("purify: --method and --subspace name the same choice; give one");
    const solver = choice("purify", "solver", v.solver, SOLVER_NAMES);
    const arithmetic = choice("purify", "arithmetic", v.arithmetic, ARITHMETIC_NAMES);
    const backendName = choice("purify", "backend", v.backend, BACKEND_NAMES);
    const precision = v.precision === undefined ? undefined : choice("purify", "precision", v.precision, ["f64", "f32"] as const);
    const options = { ...fileOptions("purify", v, v.subspace === undefined && v.method !== undefined ? "method" : "subspace"), solver, arithmetic, ...(v["init-rows"] ? { initRows: true } : {}) };

    const optional = (what: keyof typeof paths) => (paths[what] === undefined ? undefined : readInput(paths[what]!, what));
    const files = {
      model: readInput(paths.model, "model"), init: readInput(paths.init, "init"), data: readInput(paths.data, "data"),
      labels: optional("labels"), evalData: optional("eval-data"), evalLabels: optional("eval-labels"),
    };
    const problem = openFileProblem(files, options);
    if (problem.memoryBytes > WASM_MEMORY_LIMIT) {
      const need = problem.memoryBytes;
      throw new InputFileError(`purify: this problem needs about ${(need / 2 ** 30).toFixed(1)} GiB of working memory (${need} bytes); WebAssembly memory ends at 4 GiB. ` +
        "Use fewer samples in --data (the linearized spans grow with n^2).");
    }
    // the chosen span and its reason, and any span that cannot remove anything, before the work starts
    for (const w of problem.choice.warnings) process.stderr.write(`cnn-purify: warning: ${w}\n`);
    const bar = new ProgressBar("purify", !v.json);
    const cap = problem.maxIter;
    const r = await problem.run({ backend: await resolveBackend(backendName), onProgress: (it, text) => bar.update(Math.min(it, cap), cap, text) });
    bar.update(1, 1, "done");
    writeFileAtomic(outPath, outputBytes(r, outFormat, precision));
    // warnings found by the run itself (the span's fit), after those known before it
    for (const w of (r.summary.warnings as string[] | undefined) ?? []) if (!problem.choice.warnings.includes(w)) process.stderr.write(`cnn-purify: warning: ${w}\n`);
    const summary = { out: outPath, ...r.summary };
    if (reportPath !== undefined) {
      const detail = { report: plainReport(r.detail) };
      // what was purified, by content: the inputs' SHA-256, the tool's version, the options given
      const provenance = { files: await fileDigests({ model: files.model, init: files.init, data: files.data }), version: VERSION, options };
      writeFileAtomic(reportPath, JSON.stringify({ ...summary, ...detail, ...provenance }, null, 2) + "\n");
    }
    out(v.json ? JSON.stringify(summary) : table(["quantity", "value"], Object.entries(summary).map(([k, x]) => [k, typeof x === "number" && !Number.isInteger(x) ? x : Array.isArray(x) ? x.join("; ") : String(x)])));
  },
};
