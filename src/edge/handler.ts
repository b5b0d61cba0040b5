// An edge/serverless handler: a standard `(Request) => Promise<Response>` that purifies a model.
// Bad requests get a 4xx with a message naming the problem; nothing throws out of it. Requests
// too large for the limits get 413 before any WebAssembly memory is allocated.
//
// Two request forms:
// 1. multipart/form-data with the model files in the CLI's formats: parts "model" and "init"
//    (.onnx or .safetensors), "data" (.npy/.npz images), optional "labels", and an optional
//    "options" part holding JSON { subspace, solver, trainedReadout, maxIter, frozen, initRows } (the
//    readout's training and the frozen layers are judged from the files when absent). The answer
//    is multipart/form-data too: part "model" is the user's file with the purified weights (same
//    format, names and dtypes; file name "<name>.purified.<ext>"), part "report" the JSON report.
// 2. application/json, for callers that hold the numbers:
//    { shape: ModelShape, init: number[], contaminated: (number | null)[],   // null = NaN/Inf: erased
//      data: { samples, patches, patchDim, values: number[] },
//      options?: { subspace?, solver?, arithmetic?, trainedReadout?, weightDecay?, backend? } }
//    or, for a sequential CNN, { model: { input, layers }, init, contaminated, data: { samples, values
//    (images) }, options? (frozen instead of trainedReadout) }: the same purify().
//    200 answer: { params: (number | null)[], report: { ...PurifyReport, index arrays as plain arrays }, memory }
import { createBackend } from "../backend/index.js";
import type { Backend } from "../backend/types.js";
import { CnnPurifyError, OptionError, ShapeError } from "../errors.js";
import type { NamedFile } from "../files/inputs.js";
import type { FilePurifyOptions } from "../files/purifyFiles.js";
import { FILE_OPTION_NAMES, openFileProblem } from "../files/purifyFiles.js";
import type { SequentialModel } from "../deep/train.js";
import type { ModelShape } from "../model/shape.js";
import type { Network } from "../model/planView.js";
import { chooseSpan } from "../recover/chooseSpan.js";
import { memoryEstimate } from "../recover/memory.js";
import { purify } from "../recover/purify.js";
import type { PurifyOptions } from "../recover/purify.js";
import { plainReport } from "../recover/report.js";
import { fileDigests } from "../files/check.js";
import { VERSION } from "../version.js";

export interface HandlerLimits {
  /** Largest accepted body, bytes (default 32 MiB). */
  maxBodyBytes?: number;
  /**
   * Most memory one request may use, bytes: the body, its decoded inputs (counted as 4x the body)
   * and the WebAssembly working memory purify needs (default 512 MiB). Larger requests get 413.
   */
  maxMemoryBytes?: number;
}

const MiB = 1024 * 1024;

/**
 * Limits that fit each platform's isolate. Cloudflare Workers and Vercel Edge give an isolate
 * 128 MiB: 16 MiB stay for the runtime, this bundle and the answer. Vercel also caps request
 * bodies at 4.5 MB. Deno Deploy gives 512 MiB.
 */
export const RUNTIME_LIMITS = {
  cloudflare: { maxBodyBytes: 32 * MiB, maxMemoryBytes: 112 * MiB },
  vercel: { maxBodyBytes: 4 * MiB, maxMemoryBytes: 112 * MiB },
  deno: { maxBodyBytes: 32 * MiB, maxMemoryBytes: 448 * MiB },
} as const satisfies Record<string, HandlerLimits>;

/** Decoded inputs and the answer, per body byte (a generous bound, see HandlerLimits). */
const BODY_FACTOR = 4;

const JSON_OPTIONS = ["subspace", "solver", "arithmetic", "trainedReadout", "weightDecay", "backend"] as const;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}
const fail = (status: number, error: string) => json(status, { error });

/** A 4xx the handler answers at once. */
class Refusal extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

function numbers(name: string, v: unknown, allowNull: boolean): Float64Array {
  if (!Array.isArray(v)) throw new ShapeError(`${name} must be an array of numbers`);
  const out = new Float64Array(v.length);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x === "number") out[i] = x;
    else if (x === null && allowNull) out[i] = NaN;
    else throw new ShapeError(`${name}[${i}] is ${JSON.stringify(x)}, expected a number${allowNull ? " or null" : ""}`);
  }
  return out;
}

/** The memory a request needs; refuses it (413) past the limit. */
function admit(wasmBytes: number, bodyBytes: number, maxMem: number): number {
  const need = wasmBytes + BODY_FACTOR * bodyBytes;
  if (need > maxMem) throw new Refusal(413, `this request needs about ${need} bytes of working memory; the limit is ${maxMem}`);
  return need;
}

const memoryReport = (be: Backend, estimate: number, bodyBytes: number) =>
  ({ binary: be.binary, wasmBytes: be.memoryBytes(), bodyBytes, estimateBytes: estimate });

async function handleJson(req: Request, maxBody: number, maxMem: number): Promise<Response> {
  const text = await req.text();
  if (text.length > maxBody) throw new Refusal(413, `body of ${text.length} bytes exceeds the limit of ${maxBody}`);
  let body: Record<string, unknown>;
  try { body = JSON.parse(text); } catch (e) { return fail(400, `malformed JSON: ${(e as Error).message}`); }
  if (!body || typeof body !== "object" || Array.isArray(body)) return fail(400, "body must be a JSON object");
  // the one-hidden-layer model (shape, patch data) or a sequential one (model, images; the same purify)
  const family = "model" in body ? "model" : "shape";
  for (const key of [family, "init", "contaminated", "data"]) if (!(key in body)) return fail(400, `missing field "${key}"`);
  const d = body.data as Record<string, unknown>;
  if (!d || typeof d !== "object") return fail(400, `"data" must be an object { samples, ${family === "shape" ? "patches, patchDim, " : ""}values }`);
  const opts = (body.options ?? {}) as Record<string, unknown>;
  const known: string[] = family === "shape" ? [...JSON_OPTIONS] : [...JSON_OPTIONS.filter((k) => k !== "trainedReadout"), "frozen"];
  for (const k of Object.keys(opts)) if (!known.includes(k)) return fail(400, `unknown option "${k}" (known: ${known.join(", ")})`);
  const samples = d.samples as number, requested = opts.subspace === undefined ? "auto" : String(opts.subspace);
  if (!Number.isInteger(samples) || samples < 1) return fail(400, `data.samples must be an integer >= 1, got ${JSON.stringify(d.samples)}`);
  const memoryLimit = maxMem - BODY_FACTOR * text.length;
  const values = numbers("data.values", d.values, false), frozen = opts.frozen as number[] | undefined;
  const net = body[family] as Network, m = net as SequentialModel;
  if (!net || typeof net !== "object" || (family === "model" && (!m.input || !Array.isArray(m.layers)))) {
    return fail(400, family === "model" ? `"model" must be { input: { C, H, W }, layers: [...] }` : `"shape" must be { patchDim, patches, filters, outputs, readout }`);
  }
  // validated (the span rule checks the span's name and the family's options) and sized before anything is allocated
  const choice = chooseSpan(net, samples, { requested, trainedReadout: opts.trainedReadout as boolean | undefined, frozen, weightDecay: opts.weightDecay as boolean | undefined, memoryLimit });
  const need = memoryEstimate(net, samples, choice.subspace);
  const model: Pick<PurifyOptions, "shape" | "model" | "frozen" | "data"> = family === "shape"
    ? { shape: net as ModelShape, data: { samples, patches: d.patches as number, patchDim: d.patchDim as number, values } } : { model: m, frozen, data: { samples, values } };
  const estimate = admit(need, text.length, maxMem);
  const be = await createBackend(String(opts.backend ?? "wasm"));
  const { backend: _, frozen: _f, ...rest } = opts;
  const { params, report } = await purify(numbers("contaminated", body.contaminated, true), {
    ...model, init: numbers("init", body.init, false), ...(rest as Partial<PurifyOptions>), subspace: choice.subspace as PurifyOptions["subspace"], backend: be,
  });
  return json(200, {
    params: Array.from(params, (v) => (Number.isFinite(v) ? v : null)),
    report: { ...plainReport(report), spanReason: choice.reason, warnings: choice.warnings },
    memory: memoryReport(be, estimate, text.length),
  });
}

async function part(form: FormData, name: string, required: boolean): Promise<NamedFile | undefined> {
  const v = form.get(name);
  if (v === null) {
    if (required) throw new Refusal(400, `missing part "${name}" (parts: model, init, data; optional: labels, options)`);
    return undefined;
  }
  if (typeof v === "string") throw new Refusal(400, `part "${name}" must be a file, not a text field`);
  const fileName = (v as File).name || name;
  return { name: fileName, bytes: new Uint8Array(await v.arrayBuffer()), label: `part "${name}" (${fileName})` };
}

function fileOptions(form: FormData): FilePurifyOptions {
  const raw = form.get("options");
  if (raw === null) return {};
  let o: unknown;
  try { o = JSON.parse(typeof raw === "string" ? raw : ""); } catch (e) { throw new Refusal(400, `part "options" is not JSON: ${(e as Error).message}`); }
  if (!o || typeof o !== "object" || Array.isArray(o)) throw new Refusal(400, `part "options" must be a JSON object (keys: ${FILE_OPTION_NAMES.join(", ")})`);
  return o as FilePurifyOptions;
}

async function handleFiles(req: Request, maxBody: number, maxMem: number): Promise<Response> {
  let form: FormData;
  try { form = await req.formData(); } catch (e) { return fail(400, `malformed multipart body: ${(e as Error).message}`); }
  const files = { model: (await part(form, "model", true))!, init: (await part(form, "init", true))!, data: (await part(form, "data", true))!, labels: await part(form, "labels", false) };
  const bodyBytes = Object.values(files).reduce((s, f) => s + (f?.bytes.length ?? 0), 0);
  if (bodyBytes > maxBody) throw new Refusal(413, `files of ${bodyBytes} bytes exceed the limit of ${maxBody}`);
  // "auto" may choose only spans whose memory fits beside the body
  const problem = openFileProblem(files, fileOptions(form), { memoryLimit: maxMem - BODY_FACTOR * bodyBytes });
  const estimate = admit(problem.memoryBytes, bodyBytes, maxMem);
  const be = await createBackend("wasm");
  const r = await problem.run({ backend: be });
  if (r.file.unstored.length) throw new Refusal(422, `${r.file.unstored.length} purified parameters have no place in the model file (e.g. a bias it does not store)`);
  const detail = { report: plainReport(r.detail) };
  const out = new FormData();
  const stem = files.model.name.replace(/\.[^.]+$/, ""), ext = files.model.name.slice(stem.length);
  out.append("model", new Blob([r.file.bytes as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }), `${stem}.purified${ext}`);
  const provenance = { files: await fileDigests({ model: files.model, init: files.init, data: files.data }), version: VERSION, options: fileOptions(form) };
  out.append("report", new Blob([JSON.stringify({ ...r.summary, ...detail, memory: memoryReport(be, estimate, bodyBytes), ...provenance })], { type: "application/json" }), "report.json");
  return new Response(out, { status: 200 });
}

export function createPurifyHandler(limits: HandlerLimits = {}): (req: Request) => Promise<Response> {
  const maxBody = limits.maxBodyBytes ?? 32 * MiB;
  const maxMem = limits.maxMemoryBytes ?? 512 * MiB;
  return async (req: Request): Promise<Response> => {
    try {
      if (req.method !== "POST") return fail(405, `method ${req.method} not allowed: POST a JSON body or the model files as multipart/form-data`);
      const type = req.headers.get("content-type") ?? "";
      const multipart = type.startsWith("multipart/form-data");
      if (!multipart && !type.includes("application/json")) return fail(415, `content-type must be application/json or multipart/form-data, got "${type}"`);
      const declared = Number(req.headers.get("content-length") ?? "0");
      if (declared > maxBody) return fail(413, `body of ${declared} bytes exceeds the limit of ${maxBody}`);
      if (BODY_FACTOR * declared > maxMem) return fail(413, `a body of ${declared} bytes needs about ${BODY_FACTOR * declared} bytes of memory; the limit is ${maxMem}`);
      return await (multipart ? handleFiles(req, maxBody, maxMem) : handleJson(req, maxBody, maxMem));
    } catch (e) {
      if (e instanceof Refusal) return fail(e.status, e.message);
      if (e instanceof OptionError) return fail(400, e.message);
      if (e instanceof CnnPurifyError) return fail(e.code === "E_NUMERICAL" ? 422 : 400, e.message);
      return fail(500, `internal error: ${(e as Error).message ?? String(e)}`);
    }
  };
}
