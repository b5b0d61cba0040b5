// The edge builds in the real runtimes, each started on 127.0.0.1 and stopped after: workerd
// (Cloudflare's runtime, which refuses WebAssembly compiled from bytes), Deno (Deno.serve), and
// Vercel's edge-runtime (the edge build, and the Vercel build with code generation from bytes
// switched off as in Vercel's production Edge). Each answers the same purifications as Node, JSON and
// files alike: bit for bit where it runs Node's binary; where it runs the relaxed-SIMD one (fused
// multiply-add: one rounding instead of two) to 1e-12 in f64 and one unit of f32 in the f32 files,
// and bit for bit like every other runtime running that binary. A malformed body gets 400, an
// over-limit one 413.
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EdgeRuntime, runServer } from "edge-runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import { runSynthetic } from "../src/experiments/synthetic.js";
import { openFileProblem } from "../src/files/purifyFiles.js";
import { openModel } from "../src/io/modelSource.js";
import { RUNTIME_LIMITS } from "../src/edge/handler.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { modelToTensors } from "../src/io/modelFile.js";
import { encodeOnnx } from "../src/io/onnx.js";
import { encodeSafetensors } from "../src/io/safetensors.js";
import { patchesFromImages } from "../src/model/data.js";
import { initParams } from "../src/model/init.js";
import { layoutOf } from "../src/model/shape.js";
import { purify } from "../src/recover/purify.js";
import { sparseOutliers } from "../src/contaminate.js";
import { Rng } from "../src/random.js";
import { train } from "../src/train/train.js";
import type { ModelSpec } from "../src/io/modelFile.js";
import type { Served } from "./runtimes/serve.js";
import { freePort, serve } from "./runtimes/serve.js";
import { largestRequest as largest, LARGEST_SAMPLES, REFUSED_SAMPLES } from "./runtimes/requests.js";
import { edgeScript, vercelBindings } from "./runtimes/vercel.js";
import { frozenFirstLayerCnn, relDiff } from "./helpers.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const MiB = 1024 * 1024;

/** A JSON request and what Node's purify() answers to it. */
async function jsonCase() {
  const run = await runSynthetic({ p: 40, patches: 4, samples: 3, filters: 3, rho: 0.1, seed: 2 });
  const c = run.contaminated.slice(); c[7] = NaN;
  const body = {
    shape: run.shape, init: Array.from(run.init), contaminated: Array.from(c, (v) => (Number.isFinite(v) ? v : null)),
    data: { samples: run.data.samples, patches: run.data.patches, patchDim: run.data.patchDim, values: Array.from(run.data.values) },
    options: { trainedReadout: false },
  };
  const local = await purify(c, { shape: run.shape, init: run.init, data: run.data, trainedReadout: false });
  return { body: JSON.stringify(body), params: Array.from(local.params) };
}

/** A multi-layer CNN (first conv layer frozen: layerwise, exact) as a JSON request, and Node's answer. */
async function sequentialJsonCase() {
  const { model, n, x, init, clean, frozen } = await frozenFirstLayerCnn();
  const c = clean.slice(); c[100] += 1; c[150] = NaN;
  const body = { model, init: Array.from(init), contaminated: Array.from(c, (v) => (Number.isFinite(v) ? v : null)), data: { samples: n, values: Array.from(x) }, options: { frozen } };
  const local = await purify(c, { model, init, data: { samples: n, values: x }, frozen });
  return { body: JSON.stringify(body), params: Array.from(local.params) };
}

/** Model files as a PyTorch user sends them (f32), and the file Node's pipeline writes back. */
async function fileCase(format: "safetensors" | "onnx") {
  const spec: ModelSpec = { shape: { patchDim: 16, patches: 4, filters: 3, outputs: 3, readout: "dense" }, image: { channels: 1, height: 8, width: 8, patchHeight: 4, patchWidth: 4 } };
  const n = 3, images = new Rng(6).normals(n * 64), labels = new Float64Array([0, 1, 2]);
  const be = await createBackend("wasm");
  const init = initParams(spec.shape, { seed: 7 });
  const clean = (await train(spec.shape, init, patchesFromImages(be, images, n, spec.image), labels, { epochs: 30, lr: 0.01, trainReadout: false })).params;
  const contaminated = sparseOutliers(clean, { rho: 0.1, seed: 8 }).params;
  const encode = (theta: Float64Array) => {
    if (format === "onnx") return encodeOnnx(spec, theta, { dtype: "f32" });
    const f = modelToTensors(spec, theta);
    return encodeSafetensors(Object.fromEntries(Object.entries(f.tensors).map(([k, t]) => [k, { ...t, dtype: "F32" as const }])), f.metadata);
  };
  const files = {
    model: { name: `model.${format}`, bytes: encode(contaminated) },
    init: { name: `init.${format}`, bytes: encode(init) },
    data: { name: "data.npy", bytes: encodeNpy(images, [n, 1, 8, 8]) },
  };
  const options = { trainedReadout: false };
  const local = await openFileProblem(files, options).run();
  const form = () => {
    const f = new FormData();
    for (const [k, v] of Object.entries(files)) f.append(k, new Blob([v.bytes as Uint8Array<ArrayBuffer>]), v.name);
    f.append("options", JSON.stringify(options));
    return f;
  };
  return { form, expected: local.file.bytes, summary: local.summary, name: `model.purified.${format}`, data: files.data.bytes };
}


/** PyTorch's own torch.save files (test/fixtures/pytorch). */
async function torchCase() {
  const dir = join(root, "test/fixtures/pytorch/one-hidden");
  const files = Object.fromEntries(["model.pt", "init.pt", "data.npy"].map((f) => [f.split(".")[0], { name: f, bytes: new Uint8Array(readFileSync(join(dir, f))) }]));
  // the patch span keeps this fast (auto would re-linearize: chooseSpan.test.ts covers that)
  const options = { subspace: "patch" };
  const local = await openFileProblem(files as never, options).run();
  const form = () => {
    const f = new FormData();
    for (const [k, v] of Object.entries(files)) f.append(k, new Blob([v.bytes as Uint8Array<ArrayBuffer>]), v.name);
    f.append("options", JSON.stringify(options));
    return f;
  };
  return { form, expected: local.file.bytes, summary: local.summary, name: "model.purified.pt", data: files.data.bytes };
}

let json: Awaited<ReturnType<typeof jsonCase>>, sequentialJson: Awaited<ReturnType<typeof sequentialJsonCase>>;
let files: Record<"safetensors" | "onnx" | "pt", Awaited<ReturnType<typeof fileCase>>>;
let nodeBinary: string;
beforeAll(async () => {
  json = await jsonCase();
  sequentialJson = await sequentialJsonCase();
  files = { safetensors: await fileCase("safetensors"), onnx: await fileCase("onnx"), pt: await torchCase() };
  nodeBinary = (await createBackend("wasm")).binary;
});

/** What the first runtime running a binary other than Node's answered, per case: the others must equal it bit for bit. */
const otherBinary = new Map<string, unknown>();
function sameAsOtherRuntimes(binary: string, key: string, answer: number[] | Uint8Array): void {
  const k = `${binary} ${key}`;
  if (!otherBinary.has(k)) otherBinary.set(k, Array.from(answer));
  expect(Array.from(answer)).toEqual(otherBinary.get(k));
}

/**
 * Two purified files of the same model from the two binaries. Certified exact (the answer is
 * determined): every stored value within one unit of f32. Otherwise ADMM's answer is itself only
 * determined to its stopping rule, and FMA moves it inside that: within 1e-5 of the model's norm.
 */
function closeFiles(got: Uint8Array, want: Uint8Array, format: "safetensors" | "onnx" | "pt", image: { height: number; width: number }, exact: boolean): void {
  const a = openModel(got, format, "got", image).theta, b = openModel(want, format, "want", image).theta;
  expect(a.length).toBe(b.length);
  let worst = 0, num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]), Math.abs(b[i]), 1e-300));
    num += (a[i] - b[i]) ** 2; den += b[i] ** 2;
  }
  if (exact) expect(worst).toBeLessThanOrEqual(2 ** -23);
  else expect(Math.sqrt(num / den)).toBeLessThanOrEqual(1e-5);
}

const post = (url: string, body: BodyInit, type?: string) =>
  fetch(url, { method: "POST", body, headers: type ? { "content-type": type } : undefined, signal: AbortSignal.timeout(120_000) });

/**
 * POSTs `bytes` spaces as JSON, a chunk at a time, and stops sending once the answer arrives: a
 * server that refuses on the declared length answers before reading the body and may close the
 * connection (workerd does), which would break a client that writes the whole body first.
 */
function postUnread(url: string, bytes: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", "content-length": bytes } }, (res) => {
      answered = true;
      let body = "";
      res.on("data", (d) => { body += d; });
      res.on("end", () => { resolve({ status: res.statusCode ?? 0, body }); req.destroy(); });
    });
    req.on("error", (e: NodeJS.ErrnoException) => { if (!answered) reject(e); });
    req.flushHeaders();
    const chunk = Buffer.alloc(MiB, 32);
    let sent = 0;
    const more = () => {
      while (!answered && sent < bytes) {
        const part = chunk.subarray(0, Math.min(MiB, bytes - sent));
        sent += part.length;
        if (!req.write(part)) { req.once("drain", () => setTimeout(more, 5)); return; }
      }
      if (!answered) req.end();
    };
    setTimeout(more, 50);
  });
}

/** The checks every runtime must pass, against its own limits. */
function sameAsNode(target: () => string, limits: { maxBodyBytes: number }) {
  it("purifies JSON like Node: bit for bit with Node's binary, to 1e-12 with the relaxed-SIMD one", async () => {
    const res = await post(target(), json.body, "application/json");
    const out = await res.json();
    expect(res.status, JSON.stringify(out).slice(0, 300)).toBe(200);
    expect(["relaxed", "simd"]).toContain(out.report.binary);
    if (out.report.binary === nodeBinary) expect(out.params).toEqual(json.params);
    else {
      expect(relDiff(out.params, json.params)).toBeLessThanOrEqual(1e-12);
      expect(relDiff(out.params, json.params)).toBeGreaterThan(0); // FMA did round differently
      sameAsOtherRuntimes(out.report.binary, "json", out.params);
    }
    expect(out.report.erasures).toEqual([7]);
  });

  it("purifies a multi-layer CNN sent as JSON like Node (layerwise, certified; the relaxed-SIMD binary within 1e-12)", async () => {
    const res = await post(target(), sequentialJson.body, "application/json");
    const out = await res.json();
    expect(res.status, JSON.stringify(out).slice(0, 300)).toBe(200);
    expect(out.report.subspace).toBe("layerwise");
    expect(out.report.recovered).toBe(true);
    expect(out.report.erasures).toEqual([150]);
    if (out.report.binary === nodeBinary) expect(out.params).toEqual(sequentialJson.params);
    else expect(relDiff(out.params, sequentialJson.params)).toBeLessThanOrEqual(1e-12);
  });

  it.each(["safetensors", "onnx", "pt"] as const)("purifies %s files and answers the user's file: Node's bytes with Node's binary, within one f32 unit with the relaxed-SIMD one", async (format) => {
    const res = await post(target(), files[format].form());
    expect(res.status, res.status === 200 ? "" : await res.clone().text()).toBe(200);
    const form = await res.formData();
    const model = form.get("model") as File;
    expect(model.name).toBe(files[format].name);
    const got = Buffer.from(await model.arrayBuffer()), want = Buffer.from(files[format].expected);
    expect(got.length).toBe(want.length);
    const report = JSON.parse(await (form.get("report") as File).text());
    expect(["relaxed", "simd"]).toContain(report.binary);
    if (report.binary === nodeBinary) {
      expect(got.findIndex((b, i) => b !== want[i])).toBe(-1);
      expect(report.iterations).toBe(files[format].summary.iterations);
    } else {
      const [, , height, width] = decodeNpy(files[format].data).shape;
      closeFiles(got, want, format, { height, width }, files[format].summary.certifiedExact === true);
      sameAsOtherRuntimes(report.binary, format, got);
    }
    expect(report.estimatedContaminated).toEqual(files[format].summary.estimatedContaminated);
  });

  it("answers a malformed body with 400 and an over-limit body with 413", async () => {
    const bad = await post(target(), "{ not json", "application/json");
    expect(bad.status).toBe(400);
    expect((await bad.json()).error).toMatch(/malformed JSON/);
    // options checked by the span rule before anything is sized: an unknown span ran in the auto span (200) before
    const unknownSpan = await post(target(), JSON.stringify({ ...JSON.parse(json.body), options: { subspace: "pca" } }), "application/json");
    expect(unknownSpan.status).toBe(400);
    expect((await unknownSpan.json()).error).toMatch(/unknown subspace "pca" for the one-hidden-layer model/);
    const noFile = new FormData(); noFile.append("model", "text, not a file");
    const badForm = await post(target(), noFile);
    expect(badForm.status).toBe(400);
    expect((await badForm.json()).error).toMatch(/part "model" must be a file/);
    const big = await postUnread(target(), limits.maxBodyBytes + MiB);
    expect(big.status).toBe(413);
    expect(big.body).toMatch(/exceeds the limit|bytes of memory/);
  });
}

describe("workerd: the workerd build, binaries as wasm modules", () => {
  let server: Served, ports: number[];
  beforeAll(async () => {
    ports = [await freePort(), await freePort()];
    server = await serve(bin("workerd"), ["serve", "test/runtimes/workerd.capnp", `--socket-addr=bundle=127.0.0.1:${ports[0]}`, `--socket-addr=worker=127.0.0.1:${ports[1]}`],
      `http://127.0.0.1:${ports[1]}/`, { cwd: root });
  }, 60_000);
  afterAll(async () => { await server?.stop(); });

  describe("the README's Worker", () => sameAsNode(() => `http://127.0.0.1:${ports[1]}/`, RUNTIME_LIMITS.cloudflare));
  describe("the build's own files only", () => sameAsNode(() => `http://127.0.0.1:${ports[0]}/`, RUNTIME_LIMITS.cloudflare));

  it(`the largest promised problem (n = ${LARGEST_SAMPLES}, linearized, n O = ${LARGEST_SAMPLES * 10}) stays under 128 MiB; n = ${REFUSED_SAMPLES} is refused with 413`, async () => {
    const ok = largest(LARGEST_SAMPLES);
    const res = await post(`http://127.0.0.1:${ports[0]}/`, ok.body, "application/json");
    const out = await res.json();
    expect(res.status, JSON.stringify(out).slice(0, 300)).toBe(200);
    expect(["relaxed", "simd"]).toContain(out.memory.binary);
    expect(out.memory.wasmBytes).toBeLessThanOrEqual(ok.estimate);
    expect(out.memory.wasmBytes + ok.body.length).toBeLessThan(128 * MiB);
    const over = largest(REFUSED_SAMPLES);
    const refused = await post(`http://127.0.0.1:${ports[0]}/`, over.body, "application/json");
    expect(refused.status).toBe(413);
    expect((await refused.json()).error).toMatch(/needs about \d+ bytes of working memory; the limit is 117440512/);
  }, 120_000);
});

describe("Deno: the edge build under Deno.serve", () => {
  let server: Served, url: string;
  beforeAll(async () => {
    const port = await freePort();
    url = `http://127.0.0.1:${port}/`;
    server = await serve(bin("deno"), ["run", "--no-config", "--allow-net=127.0.0.1", `--allow-read=${root}`, "deno-server.js", String(port)], url,
      { cwd: join(root, "test/runtimes"), env: { DENO_DIR: join(root, "build", "deno"), DENO_NO_UPDATE_CHECK: "1" } });
  }, 60_000);
  afterAll(async () => { await server?.stop(); });
  sameAsNode(() => url, RUNTIME_LIMITS.deno);
});

describe("Vercel's edge-runtime", () => {
  const servers: Array<{ close: () => Promise<void> }> = [];
  let edgeUrl: string, vercelUrl: string;
  beforeAll(async () => {
    const edge = await runServer({ runtime: new EdgeRuntime({ initialCode: await edgeScript("edge") }), host: "127.0.0.1", port: 0 });
    servers.push(edge);
    edgeUrl = edge.url;
    // Vercel's production Edge refuses WebAssembly from bytes: so does this context.
    const runtime = new EdgeRuntime({
      initialCode: await edgeScript("vercel"),
      codeGeneration: { strings: false, wasm: false },
      extend: (context) => Object.assign(context, vercelBindings()),
    });
    const vercel = await runServer({ runtime, host: "127.0.0.1", port: 0 });
    servers.push(vercel);
    vercelUrl = vercel.url;
  }, 60_000);
  afterAll(async () => { for (const s of servers) await s.close(); });

  describe("the edge build", () => sameAsNode(() => edgeUrl, RUNTIME_LIMITS.vercel));
  describe("the Vercel build (?module imports), code generation from bytes off", () => sameAsNode(() => vercelUrl, RUNTIME_LIMITS.vercel));

  it("that context really refuses bytes: the edge build, which compiles its inlined bytes, fails there", async () => {
    const runtime = new EdgeRuntime({ initialCode: await edgeScript("edge"), codeGeneration: { strings: false, wasm: false } });
    const s = await runServer({ runtime, host: "127.0.0.1", port: 0 });
    try {
      const res = await post(s.url, json.body, "application/json");
      expect(res.status).toBe(500);
      expect((await res.json()).error).toMatch(/Wasm code generation disallowed by embedder/);
    } finally {
      await s.close();
    }
  });
});

it("the promised size is within the Cloudflare limits, the refused one beyond them", () => {
  const need = (n: number) => { const l = largest(n); return l.estimate + 4 * l.body.length; };
  expect(need(LARGEST_SAMPLES)).toBeLessThanOrEqual(RUNTIME_LIMITS.cloudflare.maxMemoryBytes);
  expect(need(REFUSED_SAMPLES)).toBeGreaterThan(RUNTIME_LIMITS.cloudflare.maxMemoryBytes);
  expect(layoutOf({ patchDim: 49, patches: 16, filters: 32, outputs: 10, readout: "dense" }).size).toBe(32 * 50 + 16 * 32 * 10);
});

it("the README's deployment snippets are the files these tests serve (import lines aside)", () => {
  const readme = readFileSync(join(root, "README.md"), "utf8");
  for (const file of ["worker.js", "deno-server.js"]) {
    const code = readFileSync(join(root, "test/runtimes", file), "utf8").split("\n")
      .filter((l) => l.trim() && !l.startsWith("//") && !l.startsWith("import "));
    for (const line of code) expect(readme, `${file}: ${line}`).toContain(line);
  }
  // the workerd config in the README lists exactly the build's files
  for (const f of ["worker.js", "cnn-purify.js", "cnn-purify-simd.wasm", "cnn-purify-scalar.wasm"]) {
    expect(readme).toContain(`embed "node_modules/cnn-purify/dist/bundle/workerd/${f}"`);
  }
});
