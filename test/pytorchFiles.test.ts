// Files made by PyTorch itself (test/fixtures/pytorch, from scripts/pytorch-fixtures.mjs: torch 1.13
// trained the network, torch.save / torch.onnx.export wrote them) come back as the user's own files:
// bytes differ only inside the purified tensors' data, in their own dtype; onnxruntime runs the
// ONNX output under its original names; a pickle that does anything but rebuild tensors is refused.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { unzipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { cli } from "./helpers.js";
import { decodeNpy } from "../src/io/npy.js";
import { onnx } from "../src/io/onnxProto.js";
import { openModel } from "../src/io/modelSource.js";
import { decodeTorchFile } from "../src/io/pytorch.js";

const require = createRequire(import.meta.url);
const ort = require("onnxruntime-node") as typeof import("onnxruntime-node");
const D = new URL("./fixtures/pytorch/one-hidden/", import.meta.url).pathname;
const meta = JSON.parse(readFileSync(join(D, "meta.json"), "utf8"));
const dir = mkdtempSync(join(tmpdir(), "cnnp-pytorch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


const runs = new Map<string, { file: string; summary: Record<string, number> }>();
/** cnn-purify purify on one fixture pair (relinearized, 150 iterations, as the README's example). */
async function purified(model: string, init: string) {
  const key = model;
  if (!runs.has(key)) {
    const file = join(dir, "purified-" + model);
    const r = await cli(["purify", "--model", join(D, model), "--init", join(D, init), "--data", join(D, "data.npy"),
      "--eval-data", join(D, "test-data.npy"), "--eval-labels", join(D, "test-labels.npy"), "--subspace", "relinearized", "--max-iter", "150", "--out", file, "--json"]);
    expect(r.code, r.err).toBe(0);
    runs.set(key, { file, summary: JSON.parse(r.out) });
  }
  return runs.get(key)!;
}

/** Byte positions where a and b differ (same length). */
function diffs(a: Uint8Array, b: Uint8Array): number[] {
  expect(b.length).toBe(a.length);
  const out: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) out.push(i);
  return out;
}
const inside = (i: number, ranges: Array<[number, number]>) => ranges.some(([s, e]) => i >= s && i < e);

/** Where each initializer's raw data lies in an ONNX file, found by searching its bytes (independent of our wire reader). */
function initializerRanges(bytes: Uint8Array): Array<[number, number]> {
  return onnx.ModelProto.decode(bytes).graph!.initializer!.map((t) => {
    const at = Buffer.from(bytes).indexOf(Buffer.from(t.rawData!));
    expect(at).toBeGreaterThan(0);
    return [at, at + t.rawData!.length];
  });
}

/** onnxruntime's "logits" for the images of a .npy, under the file's own input name "x". */
async function ortLogits(bytes: Uint8Array, npy: string) {
  const session = await ort.InferenceSession.create(bytes);
  const x = decodeNpy(new Uint8Array(readFileSync(npy)));
  return { session, x, logits: (await session.run({ x: new ort.Tensor("float32", Float32Array.from(x.values), x.shape) })).logits };
}

/** onnxruntime's test accuracy of an ONNX file (10 classes). */
async function ortAccuracy(bytes: Uint8Array, data: string, labels: string) {
  const { session, logits } = await ortLogits(bytes, data);
  const y = decodeNpy(new Uint8Array(readFileSync(labels))).values, l = logits.data as Float32Array;
  let correct = 0;
  for (let i = 0; i < y.length; i++) { const row = l.subarray(i * 10, i * 10 + 10); if (row.indexOf(Math.max(...row)) === y[i]) correct++; }
  return { session, accuracy: correct / y.length };
}

describe("PyTorch's files, purified", () => {
  it("ONNX (torch.onnx.export): only initializer data change, in f32; onnxruntime runs it as \"x\" -> \"logits\"", async () => {
    const { file, summary } = await purified("model.onnx", "init.onnx");
    const before = new Uint8Array(readFileSync(join(D, "model.onnx"))), after = new Uint8Array(readFileSync(file));
    const d = diffs(before, after);
    expect(d.length).toBeGreaterThan(1000);
    const ranges = initializerRanges(before);
    expect(d.filter((i) => !inside(i, ranges))).toEqual([]);
    const g = onnx.ModelProto.decode(before).graph!, g2 = onnx.ModelProto.decode(after).graph!;
    expect(g2.initializer!.map((t) => [t.name, t.dataType])).toEqual(g.initializer!.map((t) => [t.name, t.dataType]));
    expect(g2.initializer!.map((t) => t.dataType)).toEqual([1, 1, 1]);
    // onnxruntime, an independent implementation, runs the file under its own names
    const { session, accuracy } = await ortAccuracy(after, join(D, "test-data.npy"), join(D, "test-labels.npy"));
    expect(session.inputNames).toEqual(["x"]);
    expect(session.outputNames).toEqual(["logits"]);
    expect(accuracy).toBeCloseTo(summary.evalAccuracyAfter, 2);
    // the relinearized span restores what PyTorch measured for the clean model (within 1.5 points)
    expect(summary.evalAccuracyAfter).toBeGreaterThan(meta.accuracy.clean - 0.015);
    expect(summary.evalAccuracyBefore).toBeCloseTo(meta.accuracy.contaminated, 2);
  });

  it.each([["model.safetensors", "init.safetensors", 4], ["model-f16.safetensors", "init-f16.safetensors", 2]])(
    "safetensors %s: same header bytes (names, order, dtypes, metadata), only tensor data change", async (model, init, width) => {
      const { file } = await purified(model, init);
      const before = new Uint8Array(readFileSync(join(D, model))), after = new Uint8Array(readFileSync(file));
      const hlen = Number(new DataView(before.buffer, before.byteOffset).getBigUint64(0, true));
      const header = JSON.parse(new TextDecoder().decode(before.subarray(8, 8 + hlen)));
      expect(header.__metadata__).toEqual({ format: "pt", producer: "scripts/pytorch_fixtures.py" });
      const d = diffs(before, after);
      expect(d.length).toBeGreaterThan(1000);
      expect(Math.min(...d)).toBeGreaterThanOrEqual(8 + hlen);
      const ranges = Object.entries(header).filter(([k]) => k !== "__metadata__")
        .map(([, t]) => (t as { data_offsets: [number, number] }).data_offsets.map((o) => o + 8 + hlen) as [number, number]);
      expect(d.filter((i) => !inside(i, ranges))).toEqual([]);
      expect(Object.values(header).filter((t) => (t as { dtype?: string }).dtype).every((t) => (t as { dtype: string }).dtype === (width === 4 ? "F32" : "F16"))).toBe(true);
    });

  it.each([["model.pt", "init.pt"], ["model-f16.pt", "init-f16.pt"]])("torch.save %s: the same zip, data.pkl untouched, storages rewritten, CRCs valid", async (model, init) => {
    const { file } = await purified(model, init);
    const before = new Uint8Array(readFileSync(join(D, model))), after = new Uint8Array(readFileSync(file));
    const a = unzipSync(before), b = unzipSync(after);
    expect(Object.keys(b)).toEqual(Object.keys(a));
    const blobs = Object.keys(a).filter((n) => /\/data\/\d+$/.test(n));
    expect(blobs.length).toBe(3);
    for (const n of Object.keys(a)) if (!blobs.includes(n)) expect(Buffer.from(b[n]).equals(Buffer.from(a[n])), n).toBe(true);
    for (const n of blobs) expect(Buffer.from(b[n]).equals(Buffer.from(a[n])), n).toBe(false);
    // every entry's recorded CRC matches its bytes, checked with an independent CRC (zlib's, through Node)
    const { crc32 } = await import("node:zlib").then((z) => ({ crc32: (z as unknown as { crc32?: (d: Uint8Array) => number }).crc32 }));
    const check = crc32 ?? ((d: Uint8Array) => refCrc(d));
    const dv = new DataView(after.buffer, after.byteOffset);
    const eocd = findEocd(after);
    let at = dv.getUint32(eocd + 16, true);
    for (let k = 0; k < dv.getUint16(eocd + 10, true); k++) {
      const nameLen = dv.getUint16(at + 28, true), name = new TextDecoder().decode(after.subarray(at + 46, at + 46 + nameLen));
      expect(dv.getUint32(at + 16, true), name).toBe(check(b[name]) >>> 0);
      at += 46 + nameLen + dv.getUint16(at + 30, true) + dv.getUint16(at + 32, true);
    }
    // the blobs hold the purified values, in the file's dtype
    const back = openModel(after, "pt", "out", { height: 28, width: 28 });
    expect(back.dtypes).toEqual([model.includes("f16") ? "F16" : "F32"]);
  });

  it("the three formats give the same purified model (f32)", async () => {
    const thetas = await Promise.all([["model.onnx", "init.onnx"], ["model.safetensors", "init.safetensors"], ["model.pt", "init.pt"]].map(async ([m, i]) => {
      const { file } = await purified(m, i);
      return Array.from(openModel(new Uint8Array(readFileSync(file)), m.endsWith(".onnx") ? "onnx" : m.endsWith(".pt") ? "pt" : "safetensors", "t", { height: 28, width: 28 }).theta);
    }));
    expect(thetas[1]).toEqual(thetas[0]);
    expect(thetas[2]).toEqual(thetas[0]);
  });
});

describe("the exact regime in f32, trained by PyTorch (14x14 patches, 6 images, readout frozen, 10% hit)", () => {
  const E = new URL("./fixtures/pytorch/exact/", import.meta.url).pathname;
  const emeta = JSON.parse(readFileSync(join(E, "meta.json"), "utf8"));

  it.each(["pt", "safetensors"])("%s with the defaults: patch span, certified exact at f32's precision, the changed entries named", async (ext) => {
    const out = join(dir, `exact.${ext}`);
    const r = await cli(["purify", "--model", join(E, `model.${ext}`), "--init", join(E, `init.${ext}`), "--data", join(E, "data.npy"), "--out", out, "--json"]);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out);
    expect([s.subspace, s.precision, s.certifiedExact]).toEqual(["patch", "f32", true]);
    expect(s.readout).toMatch(/^readout frozen/);
    expect(s.estimatedContaminated).toBe(emeta.changed);
    expect(s.unexplained).toBeLessThan(1e-6);
    // the purified file holds PyTorch's clean model, to f32's rounding of its training: the error
    // relative to the update is at f32's level (training rounded 100 steps in f32)
    const read = (f: string) => openModel(new Uint8Array(readFileSync(f)), ext as "pt", "t", { height: 28, width: 28 }).theta;
    const got = read(out), clean = read(join(E, `clean.${ext}`)), init = read(join(E, `init.${ext}`));
    let num = 0, den = 0;
    for (let i = 0; i < got.length; i++) { num += (got[i] - clean[i]) ** 2; den += (clean[i] - init[i]) ** 2; }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-5);
  });

  it("check: PyTorch's clean model consistent, the contaminated one changed with exactly its changed entries", async () => {
    const r = await cli(["check", "--model", join(E, "clean.pt"), "--model", join(E, "model.pt"), "--init", join(E, "init.pt"), "--data", join(E, "data.npy"), "--json"]);
    expect(r.code).toBe(4);
    const [clean, bad] = JSON.parse(r.out).results;
    expect([clean.verdict, clean.certified, clean.suspects.total]).toEqual(["consistent", true, 0]);
    expect([bad.verdict, bad.certified, bad.suspects.total]).toEqual(["changed", true, emeta.changed]);
  });

  it("check with a patch span that covers every filter row: undetermined (it fits anything there), not a verdict", async () => {
    const D = join(E, "..", "one-hidden");
    const r = await cli(["check", "--model", join(D, "clean.pt"), "--init", join(D, "init.pt"), "--data", join(D, "data.npy"), "--subspace", "patch", "--json"]);
    expect(r.code).toBe(5);
    const res = JSON.parse(r.out).results[0];
    expect([res.verdict, res.certified]).toEqual(["undetermined", false]);
    expect(res.reason).toMatch(/whole space for some rows .*covers R\^50/);
  });

  it("judged at f64's precision instead, the same f32 model is not certified: tolerances follow the model", async () => {
    const { purify } = await import("../src/recover/purify.js");
    const { patchesFromImages } = await import("../src/model/data.js");
    const { createBackend } = await import("../src/backend/index.js");
    const m = openModel(new Uint8Array(readFileSync(join(E, "model.pt"))), "pt", "t", { height: 28, width: 28 });
    const i = openModel(new Uint8Array(readFileSync(join(E, "init.pt"))), "pt", "t", { height: 28, width: 28 });
    if (m.kind !== "one-hidden-layer") throw new Error("one-hidden-layer expected");
    const x = decodeNpy(new Uint8Array(readFileSync(join(E, "data.npy"))));
    const data = patchesFromImages(await createBackend("wasm"), x.values, 6, m.spec.image);
    const base = { shape: m.spec.shape, init: i.theta, data, subspace: "patch" as const, trainedReadout: false };
    expect((await purify(m.theta, { ...base, precision: "f32" })).report.recovered).toBe(true);
    expect((await purify(m.theta, { ...base, precision: "f64" })).report.recovered).toBe(false);
  });
});

describe("PyTorch's default readout bias (nn.Linear(bias=True)): the sequential model conv -> relu -> flatten -> dense", () => {
  const B = new URL("./fixtures/pytorch/one-hidden-bias/", import.meta.url).pathname;
  const bmeta = JSON.parse(readFileSync(join(B, "meta.json"), "utf8"));
  it.each(["pt", "safetensors", "onnx"])("%s: purified with the defaults within 1.5 points of PyTorch's clean accuracy, only tensor data changed", async (ext) => {
    const out = join(dir, `bias.${ext}`);
    const r = await cli(["purify", "--model", join(B, `model.${ext}`), "--init", join(B, `init.${ext}`), "--data", join(B, "data.npy"),
      "--eval-data", join(B, "test-data.npy"), "--eval-labels", join(B, "test-labels.npy"), "--out", out, "--json"]);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.model).toBe("multi-layer");
    expect(s.evalAccuracyBefore).toBeCloseTo(bmeta.accuracy.contaminated, 2);
    expect(s.evalAccuracyAfter).toBeGreaterThan(bmeta.accuracy.clean - 0.015);
    const before = new Uint8Array(readFileSync(join(B, `model.${ext}`))), after = new Uint8Array(readFileSync(out));
    expect(after.length).toBe(before.length);
    // the four tensors (conv weight and bias, readout weight and bias) are rewritten; the readout bias among them
    const back = openModel(after, ext as "pt", "t", { height: 28, width: 28 });
    const orig = openModel(before, ext as "pt", "t", { height: 28, width: 28 });
    const changedTensors = new Set<string>();
    back.theta.forEach((v, i) => { if (v !== orig.theta[i]) changedTensors.add(orig.locate(i)!.tensor); });
    expect(changedTensors.size).toBe(4);
  });
});

describe("a multi-layer network from PyTorch (conv-pad-relu-maxpool x2, linear with bias)", () => {
  const M = new URL("./fixtures/pytorch/multi-layer/", import.meta.url).pathname;
  it("its ONNX export comes back with only initializer data changed; onnxruntime runs it under its names", async () => {
    const out = join(dir, "multi.onnx");
    const r = await cli(["purify", "--model", join(M, "model.onnx"), "--init", join(M, "init.onnx"), "--data", join(D, "data.npy"), "--subspace", "layerwise", "--out", out, "--json"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).model).toBe("multi-layer");
    const before = new Uint8Array(readFileSync(join(M, "model.onnx"))), after = new Uint8Array(readFileSync(out));
    expect(onnx.ModelProto.decode(before).graph!.node!.map((n) => n.opType)).toEqual(["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm"]);
    const d = diffs(before, after);
    expect(d.length).toBeGreaterThan(100);
    const ranges = initializerRanges(before);
    expect(d.filter((i) => !inside(i, ranges))).toEqual([]);
    const { x, logits } = await ortLogits(after, join(D, "data.npy"));
    expect(logits.dims).toEqual([x.shape[0], 10]);
  });

  it("its state_dict (.pt) is refused by name: a file of tensors does not describe the layers", async () => {
    const r = await cli(["purify", "--model", join(M, "model.pt"), "--init", join(M, "init.pt"), "--data", join(D, "data.npy"), "--out", join(dir, "never2.pt")]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/2 convolution weights \(0\.weight, 3\.weight\): a multi-layer network.*purify its ONNX export/);
  });
});

describe("fine-tuning the top of a pretrained network in PyTorch (both convs frozen, the linear layer trained on 60 images, 5% of every tensor hit)", () => {
  const F = new URL("./fixtures/pytorch/finetune/", import.meta.url).pathname;
  const fmeta = JSON.parse(readFileSync(join(F, "meta.json"), "utf8"));
  const changed = Object.values(fmeta.changed as Record<string, number>).reduce((a, b) => a + b, 0);
  const run = async (name: string, extra: string[]) => {
    const out = join(dir, name);
    const r = await cli(["purify", "--model", join(F, "model.onnx"), "--init", join(F, "init.onnx"), "--data", join(F, "data.npy"), ...extra, "--out", out, "--json"]);
    expect(r.code, r.err).toBe(0);
    return { s: JSON.parse(r.out), bytes: new Uint8Array(readFileSync(out)) };
  };

  it("the defaults find the frozen convs from the files and recover PyTorch's clean model exactly, certified, naming exactly the changed entries", async () => {
    const auto = await run("ft-auto.onnx", []);
    expect(auto.s.frozen).toMatch(/^frozen: 0 \(conv, 9\d\.\d% of its entries equal init\), 3 \(conv, 9\d\.\d% of its entries equal init\) \(>= 50%\)$/);
    expect([auto.s.subspace, auto.s.precision, auto.s.certifiedExact, auto.s.estimatedContaminated, auto.s.grossOutliers]).toEqual(["layerwise", "f32", true, changed, 0]);
    // the purified file holds PyTorch's fine-tuned model to f32's rounding of its training
    const read = (b: Uint8Array) => openModel(b, "onnx", "t").theta;
    const got = read(auto.bytes), clean = read(new Uint8Array(readFileSync(join(F, "clean.onnx")))), init = read(new Uint8Array(readFileSync(join(F, "init.onnx"))));
    let num = 0, den = 0;
    for (let i = 0; i < got.length; i++) { num += (got[i] - clean[i]) ** 2; den += (clean[i] - init[i]) ** 2; }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-5);
    // onnxruntime runs the purified file as it runs PyTorch's clean export: the same logits to f32's rounding
    const ours = (await ortLogits(auto.bytes, join(F, "data.npy"))).logits.data as Float32Array;
    const theirs = (await ortLogits(new Uint8Array(readFileSync(join(F, "clean.onnx"))), join(F, "data.npy"))).logits.data as Float32Array;
    const scale = Math.max(...theirs.map(Math.abs));
    expect(Math.max(...ours.map((v, i) => Math.abs(v - theirs[i])))).toBeLessThan(1e-4 * scale);
    // the same file as naming the frozen layers, and not what treating them as trained gives
    const asked = await run("ft-asked.onnx", ["--frozen", "0,3"]);
    expect(asked.s.frozen).toBe("frozen: 0, 3 as asked");
    expect(Buffer.from(asked.bytes).equals(Buffer.from(auto.bytes))).toBe(true);
    const none = await run("ft-none.onnx", ["--frozen", "none"]);
    expect([none.s.frozen, none.s.certifiedExact]).toEqual(["frozen: none as asked", false]);
    expect(none.s.span).toMatch(/covers R\^26/);
    // the one-hidden model's switch is refused here by name (it was ignored)
    const wrong = await cli(["purify", "--model", join(F, "model.onnx"), "--init", join(F, "init.onnx"), "--data", join(F, "data.npy"), "--trained-readout", "no", "--out", join(dir, "ft-never.onnx")]);
    expect(wrong.code).toBe(2);
    expect(wrong.err).toMatch(/--trained-readout is for the one-hidden-layer model/);
    expect(existsSync(join(dir, "ft-never.onnx"))).toBe(false);
  });

  it("check certifies the fine-tuned model and names the contaminated one's changes, with no --frozen", async () => {
    const r = await cli(["check", "--model", join(F, "clean.onnx"), "--model", join(F, "model.onnx"), "--init", join(F, "init.onnx"), "--data", join(F, "data.npy"), "--json"]);
    expect(r.code).toBe(4);
    const [clean, bad] = JSON.parse(r.out).results;
    expect([clean.verdict, clean.certified, clean.suspects.total]).toEqual(["consistent", true, 0]);
    expect([bad.verdict, bad.certified, bad.suspects.total]).toEqual(["changed", true, changed]);
  });
});

describe("PyTorch's spellings: view(n, -1) and global average pooling read; grouped conv and a training-mode BatchNorm refused by name", () => {
  const C = new URL("./fixtures/pytorch/constructs/", import.meta.url).pathname;
  it.each(["view", "gap"])("%s: read as a sequential CNN that computes what onnxruntime computes; an unchanged model comes back byte for byte", async (name) => {
    const { decodeSequentialOnnx } = await import("../src/io/onnxSequential.js");
    const { planLayers, SequentialWorkspace, sequentialForward } = await import("../src/deep/sequential.js");
    const { createBackend } = await import("../src/backend/index.js");
    const bytes = new Uint8Array(readFileSync(join(C, `${name}.onnx`)));
    const { model, theta } = decodeSequentialOnnx(bytes);
    const x = decodeNpy(new Uint8Array(readFileSync(join(C, "data.npy"))));
    const be = await createBackend("wasm");
    const ws = new SequentialWorkspace(be, planLayers(model.input, model.layers), 2);
    const ours = be.download(sequentialForward(ws, be.upload(be.alloc(theta.length), theta), be.upload(be.alloc(x.values.length), x.values)));
    const session = await ort.InferenceSession.create(bytes);
    const theirs = (await session.run({ x: new ort.Tensor("float32", Float32Array.from(x.values), x.shape) })).logits.data as Float32Array;
    const scale = Math.max(...ours.map(Math.abs));
    for (let i = 0; i < ours.length; i++) expect(Math.abs(ours[i] - theirs[i]) / scale).toBeLessThan(1e-5);
    const out = join(dir, `${name}.purified.onnx`);
    const r = await cli(["purify", "--model", join(C, `${name}.onnx`), "--init", join(C, `${name}.onnx`), "--data", join(C, "data.npy"), "--out", out]);
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(out).equals(Buffer.from(bytes))).toBe(true);
  });

  it.each([["grouped", /group = 2 \(a grouped convolution\) is not supported/], ["batchnorm", /BatchNormalization "\/1\/BatchNormalization" is in training mode/]] as const)("%s: exit 3, named", async (name, msg) => {
    const r = await cli(["purify", "--model", join(C, `${name}.onnx`), "--init", join(C, `${name}.onnx`), "--data", join(C, "data.npy"), "--out", join(dir, "never.onnx")]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(msg);
  });
});

describe("a BatchNorm CNN trained by PyTorch (conv without bias, BatchNorm2d, relu, flatten, linear with bias)", () => {
  const B = new URL("./fixtures/pytorch/batchnorm/", import.meta.url).pathname;
  const bmeta = JSON.parse(readFileSync(join(B, "meta.json"), "utf8"));
  const run = async (model: string, init: string, out: string) => {
    const r = await cli(["purify", "--model", join(B, model), "--init", join(B, init), "--data", join(B, bmeta.data),
      "--eval-data", join(B, bmeta.testData), "--eval-labels", join(B, bmeta.testLabels), "--out", join(dir, out), "--json"]);
    expect(r.code, r.err).toBe(0);
    return { summary: JSON.parse(r.out), after: new Uint8Array(readFileSync(join(dir, out))), before: new Uint8Array(readFileSync(join(B, model))) };
  };

  it.each(["pt", "safetensors"])("state_dict (.%s): within 2 points of PyTorch's clean accuracy; running statistics recomputed, not taken from the file", async (ext) => {
    const { summary, after, before } = await run(`model.${ext}`, `init.${ext}`, `bn.${ext}`);
    expect(summary.model).toBe("multi-layer");
    expect(summary.evalAccuracyBefore).toBeCloseTo(bmeta.accuracy.contaminated, 2);
    expect(summary.evalAccuracyAfter).toBeGreaterThan(bmeta.accuracy.clean - 0.02);
    expect(summary.statistics.recomputed).toEqual(["1.running_mean", "1.running_var"]);
    expect(after.length).toBe(before.length);
    const back = openModel(after, ext as "pt", "t", { height: 28, width: 28 }), orig = openModel(before, ext as "pt", "t", { height: 28, width: 28 });
    expect(back.kind === "sequential" && back.model.layers.map((l) => l.type)).toEqual(["conv", "batchnorm", "relu", "flatten", "dense"]);
    // the written statistics are the training inputs' per-channel mean and unbiased variance at the
    // purified conv weights, computed here by hand from the file's tensors
    const x = decodeNpy(new Uint8Array(readFileSync(join(B, bmeta.data))));
    const w = back.theta, C = 32, row = 50;
    const bnAt = 32 * row;
    for (const c of [0, 7, 31]) {
      const v: number[] = [];
      for (let s = 0; s < x.shape[0]; s++) for (let py = 0; py < 4; py++) for (let px = 0; px < 4; px++) {
        let z = 0;
        for (let dy = 0; dy < 7; dy++) for (let dx = 0; dx < 7; dx++) z += w[c * row + dy * 7 + dx] * x.values[s * 784 + (py * 7 + dy) * 28 + px * 7 + dx];
        v.push(z);
      }
      const mean = v.reduce((a, b) => a + b, 0) / v.length, variance = v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1);
      expect(back.theta[bnAt + 2 * C + c]).toBeCloseTo(Math.fround(mean), 5);
      expect(back.theta[bnAt + 3 * C + c] / Math.fround(variance)).toBeCloseTo(1, 5);
    }
    // PyTorch's integer counter and the absent conv bias stay as they were: only float tensors' data changed
    const changedTensors = new Set<string>();
    back.theta.forEach((v, i) => { if (v !== orig.theta[i]) changedTensors.add(orig.locate(i)!.tensor); });
    expect([...changedTensors].sort()).toEqual(["0.weight", "1.bias", "1.running_mean", "1.running_var", "1.weight", "4.bias", "4.weight"]);
    if (ext === "pt") {
      const t = decodeTorchFile(after, "t"), o = decodeTorchFile(before, "t");
      expect(t.tensors["1.num_batches_tracked"]).toEqual(o.tensors["1.num_batches_tracked"]);
    }
  });

  it("PRESERVE ONNX (a BatchNormalization node): the same purified model as the state_dict; onnxruntime runs it with that accuracy", async () => {
    const { summary, after } = await run("model-preserve.onnx", "init-preserve.onnx", "bn-preserve.onnx");
    const pt = await run("model.pt", "init.pt", "bn-again.pt");
    expect(summary.evalAccuracyAfter).toBe(pt.summary.evalAccuracyAfter);
    const { accuracy } = await ortAccuracy(after, join(B, bmeta.testData), join(B, bmeta.testLabels));
    expect(accuracy).toBeCloseTo(summary.evalAccuracyAfter, 2);
  });

  it("folded ONNX (the default export: BatchNorm folded into the Conv): repaired in part, as the README states", async () => {
    const { summary, after } = await run("model-folded.onnx", "init-folded.onnx", "bn-folded.onnx");
    expect(summary.statistics).toBeUndefined();
    const session = await ort.InferenceSession.create(after);
    expect([session.inputNames, session.outputNames]).toEqual([["x"], ["logits"]]);
    // measured: 23.2% -> 63.8% against 71.4% clean; the folded update leaves the linearized span (README)
    expect(summary.evalAccuracyAfter).toBeGreaterThan(summary.evalAccuracyBefore + 0.3);
    expect(summary.evalAccuracyAfter).toBeLessThan(bmeta.accuracy.clean - 0.03);
  });
});

describe("BatchNorm where the span is thin (14x14 patches, 6 images): the state_dict recovered exactly, the folded form up to each filter's scale", () => {
  const T = new URL("./fixtures/pytorch/batchnorm-thin/", import.meta.url).pathname;
  const open = (path: string, ext: "pt" | "onnx") => openModel(new Uint8Array(readFileSync(path)), ext, "t", { height: 28, width: 28 });
  const purify = async (model: string, init: string, out: string, extra: string[] = []) => {
    const r = await cli(["purify", "--model", join(T, model), "--init", join(T, init), "--data", join(T, "data.npy"), "--out", join(dir, out), "--json", ...extra]);
    return { ...r, path: join(dir, out) };
  };
  /** Filter rows (of 8, rows of 197 = 196 weights + bias) whose entries all lie within 1e-5 of clean's scale. */
  const rowsRecovered = (got: Float64Array, clean: Float64Array) => {
    const scale = Math.max(...clean.subarray(0, 8 * 197).map(Math.abs));
    return Array.from({ length: 8 }, (_, f) => clean.subarray(f * 197, f * 197 + 196).every((v, q) => Math.abs(got[f * 197 + q] - v) <= 1e-5 * scale));
  };

  it("state_dict: conv weights and the frozen readout at f32 precision of PyTorch's clean model, layerwise", async () => {
    const r = await purify("model.pt", "init.pt", "thin.pt");
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).subspace).toBe("layerwise");
    const got = open(r.path, "pt"), clean = open(join(T, "clean.pt"), "pt");
    expect(rowsRecovered(got.theta, clean.theta)).toEqual(Array(8).fill(true));
    got.theta.forEach((v, i) => { if (clean.locate(i)?.tensor.startsWith("4.")) expect(v).toBe(clean.theta[i]); });
  });

  it("folded ONNX: --init-rows recovers every filter whose BatchNorm scale and variance were not hit; without it none", async () => {
    const bad = open(join(T, "model.pt"), "pt"), cleanPt = open(join(T, "clean.pt"), "pt");
    // the filters whose folded scale gamma / sqrt(var + eps) the contamination changed (gamma or running_var hit)
    const bn = 8 * 197;
    const rescaled = Array.from({ length: 8 }, (_, f) => bad.theta[bn + f] !== cleanPt.theta[bn + f] || bad.theta[bn + 24 + f] !== cleanPt.theta[bn + 24 + f]);
    expect(rescaled.filter(Boolean).length).toBeGreaterThan(0);
    const clean = open(join(T, "clean-folded.onnx"), "onnx");
    const withRows = await purify("model-folded.onnx", "init-folded.onnx", "thin-rows.onnx", ["--init-rows"]);
    expect(withRows.code, withRows.err).toBe(0);
    expect(rowsRecovered(open(withRows.path, "onnx").theta, clean.theta)).toEqual(rescaled.map((r) => !r));
    const session = await ort.InferenceSession.create(readFileSync(withRows.path));
    const x = decodeNpy(new Uint8Array(readFileSync(join(T, "data.npy"))));
    expect((await session.run({ x: new ort.Tensor("float32", Float32Array.from(x.values), x.shape) })).logits.dims).toEqual([6, 10]);
    const without = await purify("model-folded.onnx", "init-folded.onnx", "thin-plain.onnx");
    expect(rowsRecovered(open(without.path, "onnx").theta, clean.theta)).toEqual(Array(8).fill(false));
  });

  it("check does not certify a BatchNorm model (scale, shift and running averages lie in no span): undetermined, exit 5, saying so", async () => {
    const r = await cli(["check", "--model", join(T, "clean.pt"), "--init", join(T, "init.pt"), "--data", join(T, "data.npy")]);
    expect(r.code).toBe(5);
    expect(r.out + r.err).toMatch(/check does not certify BatchNorm models/);
  });

  it("--init-rows where the span is linearized: refused with the reason, exit 2", async () => {
    const r = await purify("model-folded.onnx", "init-folded.onnx", "never-rows.onnx", ["--init-rows", "--subspace", "linearized"]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/init rows extend the layerwise span; this purification uses the linearized span/);
  });
});

describe("LeNet-5 trained by PyTorch (padding, max pooling, three Linear with biases)", () => {
  const L = new URL("./fixtures/pytorch/lenet/", import.meta.url).pathname;
  const lmeta = JSON.parse(readFileSync(join(L, "meta.json"), "utf8"));
  it("ONNX: files faithful and onnxruntime runs the result, and the CLI warns that no span holds the update, with the fraction", async () => {
    const out = join(dir, "lenet.onnx");
    const r = await cli(["purify", "--model", join(L, "model.onnx"), "--init", join(L, "init.onnx"), "--data", join(L, "data.npy"),
      "--subspace", "linearized", "--max-iter", "50", "--out", out, "--json"]);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.parameters).toBe(61706);
    expect(s.unexplained).toBeGreaterThan(0.5);
    expect(r.err).toContain(`the linearized span leaves ${(100 * s.unexplained).toFixed(0)}% of the model's change unexplained`);
    const before = new Uint8Array(readFileSync(join(L, "model.onnx"))), after = new Uint8Array(readFileSync(out));
    expect(onnx.ModelProto.decode(before).graph!.node!.filter((n) => !["Shape", "Gather", "Unsqueeze", "Concat", "Constant"].includes(n.opType!)).map((n) => n.opType))
      .toEqual(["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm"]);
    const d = diffs(before, after);
    expect(d.length).toBeGreaterThan(10000);
    const ranges = initializerRanges(before);
    expect(d.filter((i) => !inside(i, ranges))).toEqual([]);
    const { x, logits } = await ortLogits(after, join(L, "data.npy"));
    expect(logits.dims).toEqual([x.shape[0], 10]);
    expect(lmeta.samples).toBe(x.shape[0]);
  }, 300_000);

  it("its state_dict (.pt) is refused by name, exit code 3", async () => {
    const r = await cli(["purify", "--model", join(L, "model.pt"), "--init", join(L, "init.pt"), "--data", join(L, "data.npy"), "--out", join(dir, "never-lenet.pt")]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/2 convolution weights \(0\.weight, 3\.weight\): a multi-layer network/);
  });
});

describe("pickles that do anything but rebuild tensors", () => {
  const marker = "/tmp/cnn-purify-pickle-executed";

  it("a state_dict carrying os.system (made by torch.save) is refused with exit code 3; nothing runs", async () => {
    rmSync(marker, { force: true });
    const r = await cli(["purify", "--model", join(D, "evil.pt"), "--init", join(D, "init.pt"), "--data", join(D, "data.npy"), "--out", join(dir, "never.pt")]);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/data\.pkl names posix\.system, which is not part of a state_dict of tensors: refused \(nothing was executed\)/);
    expect(existsSync(marker)).toBe(false);
    expect(existsSync(join(dir, "never.pt"))).toBe(false);
  });

  it("other globals, opcodes and mutations: refused by name or as malformed, never a crash", () => {
    const good = new Uint8Array(readFileSync(join(D, "model.pt")));
    const swap = (from: string, to: string) => {
      const i = Buffer.from(good).indexOf(from);
      expect(i).toBeGreaterThan(0);
      const out = good.slice();
      out.set(new TextEncoder().encode(to), i);
      return out;
    };
    // same-length replacements inside data.pkl (the zip is not re-checked by our reader's CRC)
    expect(() => decodeTorchFile(swap("collections\nOrderedDict", "builtins\nexec\n\n\n\n\n\n\n\n\n\n\n\n\n\n"), "t")).toThrow(/names builtins\.exec/);
    expect(() => decodeTorchFile(swap("torch\nFloatStorage", "torch\nload\n\n\n\n\n\n\n\n"), "t")).toThrow(/names torch\.load/);
    // mutations where structure lives: the pickle (first 700 bytes) and the zip directory (last 400)
    let refused = 0;
    for (let k = 0; k < 600; k++) {
      const m = good.slice();
      for (let j = 0; j < 1 + (k % 3); j++) {
        const r = (k * 7919 + j * 104729) % 1100;
        m[r < 700 ? r : m.length - (r - 699)] ^= 1 + ((k + j) % 255);
      }
      try { decodeTorchFile(m, "t"); } catch (e) { expect((e as Error).constructor.name, (e as Error).stack).toBe("ValueError"); refused++; }
    }
    expect(refused).toBeGreaterThan(300);
    expect(() => decodeTorchFile(good.subarray(0, 1000), "t")).toThrow(/not a zip archive|truncated/);
  });
});

function findEocd(b: Uint8Array): number {
  const dv = new DataView(b.buffer, b.byteOffset);
  for (let i = b.length - 22; i >= 0; i--) if (dv.getUint32(i, true) === 0x06054b50) return i;
  return -1;
}

/** Bitwise CRC-32 (no table), the reference where zlib.crc32 is missing (Node < 20.15). */
function refCrc(d: Uint8Array): number {
  let c = ~0;
  for (const x of d) { c ^= x; for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1; }
  return ~c >>> 0;
}

it("fixture provenance: written by torch 1.13 (its archive layout), not by this package", () => {
  expect(meta.torch).toMatch(/^1\.13/);
  const names = decodeTorchFile(new Uint8Array(readFileSync(join(D, "init.pt"))), "t").entries.map((e) => e.name);
  expect(names).toEqual(["init/data.pkl", "init/data/0", "init/data/1", "init/data/2", "init/version"]);
});
