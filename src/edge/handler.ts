// An edge/serverless handler: a standard `(Request) => Promise<Response>` that purifies a model
// sent as JSON. Bad requests get a 4xx with a message naming the problem; nothing throws out of it.
//
// POST body (application/json):
//   { shape: ModelShape, init: number[], contaminated: (number | null)[],   // null = NaN/Inf: erased
//     data: { samples, patches, patchDim, values: number[] },
//     options?: { subspace?, solver?, trainedReadout?, weightDecay?, backend? } }
// 200 answer: { params: (number | null)[], report: { ...PurifyReport, index arrays as plain arrays } }
import { CnnPurifyError, ShapeError } from "../errors.js";
import type { ModelShape } from "../model/shape.js";
import type { PatchData } from "../model/data.js";
import { layoutOf } from "../model/shape.js";
import { memoryEstimate } from "../recover/memory.js";
import { purify } from "../recover/purify.js";
import type { PurifyOptions } from "../recover/purify.js";

export interface HandlerLimits {
  /** Largest accepted body, bytes (default 32 MiB). */
  maxBodyBytes?: number;
  /** Largest working memory purify may need, bytes (default 512 MiB): larger requests get 413. */
  maxMemoryBytes?: number;
}

const ALLOWED_OPTIONS = ["subspace", "solver", "trainedReadout", "weightDecay", "backend"] as const;

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}
const fail = (status: number, error: string) => json(status, { error });

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

export function createPurifyHandler(limits: HandlerLimits = {}): (req: Request) => Promise<Response> {
  const maxBody = limits.maxBodyBytes ?? 32 * 1024 * 1024;
  const maxMem = limits.maxMemoryBytes ?? 512 * 1024 * 1024;
  return async (req: Request): Promise<Response> => {
    try {
      if (req.method !== "POST") return fail(405, `method ${req.method} not allowed: POST a JSON body`);
      const type = req.headers.get("content-type") ?? "";
      if (!type.includes("application/json")) return fail(415, `content-type must be application/json, got "${type}"`);
      const declared = Number(req.headers.get("content-length") ?? "0");
      if (declared > maxBody) return fail(413, `body of ${declared} bytes exceeds the limit of ${maxBody}`);
      const text = await req.text();
      if (text.length > maxBody) return fail(413, `body of ${text.length} bytes exceeds the limit of ${maxBody}`);
      let body: Record<string, unknown>;
      try { body = JSON.parse(text); } catch (e) { return fail(400, `malformed JSON: ${(e as Error).message}`); }
      if (!body || typeof body !== "object" || Array.isArray(body)) return fail(400, "body must be a JSON object");
      for (const key of ["shape", "init", "contaminated", "data"]) if (!(key in body)) return fail(400, `missing field "${key}"`);
      const shape = body.shape as ModelShape;
      const d = body.data as Record<string, unknown>;
      if (!d || typeof d !== "object") return fail(400, `"data" must be an object { samples, patches, patchDim, values }`);
      const data: PatchData = { samples: d.samples as number, patches: d.patches as number, patchDim: d.patchDim as number, values: numbers("data.values", d.values, false) };
      const opts = (body.options ?? {}) as Record<string, unknown>;
      for (const k of Object.keys(opts)) if (!(ALLOWED_OPTIONS as readonly string[]).includes(k)) return fail(400, `unknown option "${k}" (known: ${ALLOWED_OPTIONS.join(", ")})`);
      layoutOf(shape); // validates the shape before sizing anything by it
      const need = memoryEstimate(shape, data, String(opts.subspace ?? "patch"));
      if (need > maxMem) return fail(413, `this request needs about ${need} bytes of working memory; the limit is ${maxMem}`);
      const { params, report } = await purify(numbers("contaminated", body.contaminated, true), {
        shape, data, init: numbers("init", body.init, false), ...(opts as Partial<PurifyOptions>),
      });
      return json(200, {
        params: Array.from(params, (v) => (Number.isFinite(v) ? v : null)),
        report: { ...report, estimatedContaminated: Array.from(report.estimatedContaminated), erasures: Array.from(report.erasures), grossOutliers: Array.from(report.grossOutliers) },
      });
    } catch (e) {
      if (e instanceof CnnPurifyError) return fail(e.code === "E_NUMERICAL" ? 422 : 400, e.message);
      return fail(500, `internal error: ${(e as Error).message ?? String(e)}`);
    }
  };
}
