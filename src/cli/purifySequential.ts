// The purify command's multi-layer path: a sequential CNN from .onnx, purified layerwise (frozen
// layers back to init) or in the global linearized span, written back as .onnx.
import { readFileSync } from "node:fs";
import { extname } from "node:path";
import { resolveBackend } from "../backend/index.js";
import { purifyLayerwise } from "../deep/layerwise.js";
import { SequentialLinearizedOperator, purifyLinearizedSequential } from "../deep/linearized.js";
import { planLayers } from "../deep/sequential.js";
import { evaluateSequential } from "../deep/train.js";
import { OptionError } from "../errors.js";
import { decodeOnnx } from "../io/onnx.js";
import { decodeSequentialOnnx, encodeSequentialOnnx } from "../io/onnxSequential.js";
import { WASM_MEMORY_LIMIT } from "../recover/memory.js";
import { InputFileError, writeFileAtomic } from "./files.js";
import { parseInput, readImages, readInput, readLabels } from "./purifyInputs.js";
import { table } from "./table.js";

/**
 * A .onnx that the one-hidden-layer reader refuses but the sequential reader takes (several convs,
 * pooling, overlapping convolutions, dense biases) is purified as a multi-layer CNN.
 */
export function isSequentialOnnx(path: string): boolean {
  if (extname(path).toLowerCase() !== ".onnx") return false;
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(readFileSync(path)); } catch { return false; }
  try { decodeOnnx(bytes); return false; } catch { /* not the one-hidden-layer model */ }
  try { decodeSequentialOnnx(bytes); return true; } catch { return false; }
}

export interface SequentialRun {
  paths: Record<string, string | undefined>; outPath: string; reportPath: string | undefined; data: Float64Array;
  dims: [number, number, number, number]; subspace: string | undefined; backendName: string; maxIter: number | undefined;
  precision: "f32" | "f64"; json: boolean; frozen: number[];
}

/** The multi-layer path: layerwise patch spans (default) or the global linearized span. */
export async function runSequential(r: SequentialRun): Promise<string> {
  const method = r.subspace ?? "layerwise";
  if (method !== "layerwise" && method !== "linearized" && method !== "relinearized") throw new OptionError(`purify: --subspace ${method} is for the one-hidden-layer model; a multi-layer CNN takes layerwise, linearized or relinearized`);
  if (extname(r.outPath).toLowerCase() !== ".onnx") throw new OptionError(`purify: multi-layer models are written as .onnx, not ${extname(r.outPath)}`);
  const read = (what: "model" | "init") => {
    const path = r.paths[what]!;
    if (extname(path).toLowerCase() !== ".onnx") throw new InputFileError(`--${what} ${path}: the model is a multi-layer .onnx; --${what} must be one too`);
    return parseInput(path, what, () => decodeSequentialOnnx(readInput(path, what), `--${what}`));
  };
  const model = read("model"), init = read("init");
  if (JSON.stringify(model.model) !== JSON.stringify(init.model)) throw new InputFileError("--model and --init describe different networks");
  if (init.theta.some((x) => !Number.isFinite(x))) throw new InputFileError(`--init ${r.paths.init}: contains NaN or Inf; the init must be finite`);
  const [n, C, H, W] = r.dims, inp = model.model.input;
  if (inp.C !== C || inp.H !== H || inp.W !== W) throw new InputFileError(`--data ${r.paths.data}: images are ${C}x${H}x${W}, the model expects ${inp.C}x${inp.H}x${inp.W}`);
  const plan = planLayers(model.model.input, model.model.layers);
  const O = plan.output.C;
  for (const f of r.frozen) if (!plan.layers[f]?.rows) throw new OptionError(`purify: --frozen ${f} is not a conv or dense layer of this model (layers: ${plan.layers.map((l, i) => `${i} ${l.spec.type}`).join(", ")})`);
  const m = method !== "layerwise" ? n * O * (method === "relinearized" ? 2 : 1) : Math.max(...plan.layers.filter((l) => l.rows).map((l) => { const k = n * l.output.H * l.output.W; return k < l.rowLength ? k : 0; }));
  const need = 8 * (3 * m * m + 12 * plan.size + 4 * n * C * H * W);
  if (need > WASM_MEMORY_LIMIT) throw new InputFileError(`purify: this problem needs about ${(need / 2 ** 30).toFixed(1)} GiB of working memory (${need} bytes); WebAssembly memory ends at 4 GiB. Use fewer samples in --data.`);
  const be = await resolveBackend(r.backendName);
  const t0 = performance.now();
  let params: Float64Array, detail: unknown;
  if (method === "layerwise") {
    const res = await purifyLayerwise(model.model, model.theta, init.theta, r.data, n, { backend: be, frozen: r.frozen, admm: r.maxIter ? { maxIter: r.maxIter } : undefined });
    params = res.params; detail = res.layers;
  } else {
    const op = new SequentialLinearizedOperator(be, plan, r.data, n, init.theta);
    try {
      const res = await purifyLinearizedSequential(op, model.theta, init.theta, { relinearize: method === "relinearized", admm: r.maxIter ? { maxIter: r.maxIter } : undefined });
      params = res.params;
      detail = { spanDim: op.cols, iterations: res.iterations, erasures: res.erasures };
    } finally {
      op.dispose();
    }
  }
  writeFileAtomic(r.outPath, encodeSequentialOnnx(model.model, params, { dtype: r.precision }));
  let changed = 0;
  for (let i = 0; i < params.length; i++) if (!Object.is(params[i], model.theta[i])) changed++;
  const summary: Record<string, unknown> = { out: r.outPath, model: "multi-layer", parameters: params.length, changed, subspace: method, seconds: (performance.now() - t0) / 1000 };
  const finite = (t: Float64Array) => t.map((x) => (Number.isFinite(x) ? x : 0));
  for (const [key, pathKey] of [["", "labels"], ["eval", "eval-labels"]] as const) {
    const labelsPath = r.paths[pathKey];
    if (!labelsPath) continue;
    const imgs = key ? readImages(r.paths["eval-data"]!, "eval-data") : { values: r.data, dims: r.dims };
    const labels = readLabels(labelsPath, pathKey, imgs.dims[0], O);
    const acc = (t: Float64Array) => evaluateSequential(model.model, t, imgs.values, labels, be);
    summary[key ? "evalAccuracyBefore" : "accuracyBefore"] = await acc(finite(model.theta));
    summary[key ? "evalAccuracyAfter" : "accuracyAfter"] = await acc(params);
  }
  if (r.reportPath !== undefined) writeFileAtomic(r.reportPath, JSON.stringify({ ...summary, layers: detail }, null, 2) + "\n");
  return r.json ? JSON.stringify(summary) : table(["quantity", "value"], Object.entries(summary).map(([k, x]) => [k, typeof x === "number" && !Number.isInteger(x) ? x : String(x)]));
}
