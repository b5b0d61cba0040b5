// Model files: safetensors round trips, the PyTorch-layout mapping checked against an independent
// forward pass written from the tensors' meaning, and the `purify` command on files, including every
// bad-input case of the model-files issue (message checked, inputs unchanged).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, tempDir } from "./helpers.js";
import { sparseOutliers } from "../src/contaminate.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { decodeNpz, encodeNpz } from "../src/io/npz.js";
import { zipSync } from "fflate";
import { modelToTensors, tensorsToModel } from "../src/io/modelFile.js";
import type { ModelSpec } from "../src/io/modelFile.js";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.js";
import { createBackend } from "../src/backend/index.js";
import { patchesFromImages } from "../src/model/data.js";
import { initParams } from "../src/model/init.js";
import { layoutOf } from "../src/model/shape.js";
import { purify } from "../src/recover/purify.js";
import { evaluate, train } from "../src/train/train.js";
import { Rng } from "../src/random.js";

const spec = (readout: "dense" | "sum", K = 3, O = 3): ModelSpec => ({
  shape: { patchDim: 2 * 4 * 4, patches: 4, filters: K, outputs: O, readout },
  image: { channels: 2, height: 8, width: 8, patchHeight: 4, patchWidth: 4 },
});

/** PyTorch semantics from the tensors alone: conv (stride = kernel), ReLU, flatten or sum, linear. */
function referenceForward(file: ReturnType<typeof modelToTensors>, img: Float64Array, C: number, H: number, W: number, readout: "dense" | "sum"): number[] {
  const [K, , ph, pw] = file.tensors["conv.weight"].shape;
  const cw = file.tensors["conv.weight"].values, cb = file.tensors["conv.bias"].values, fw = file.tensors["fc.weight"].values;
  const Ho = H / ph, Wo = W / pw, [O, F] = file.tensors["fc.weight"].shape;
  const feat = new Float64Array(K * Ho * Wo);
  for (let j = 0; j < K; j++) for (let y = 0; y < Ho; y++) for (let x = 0; x < Wo; x++) {
    let s = cb[j];
    for (let c = 0; c < C; c++) for (let dy = 0; dy < ph; dy++) for (let dx = 0; dx < pw; dx++) {
      s += cw[((j * C + c) * ph + dy) * pw + dx] * img[(c * H + y * ph + dy) * W + x * pw + dx];
    }
    feat[(j * Ho + y) * Wo + x] = Math.max(s, 0);
  }
  const input = readout === "dense" ? feat : Float64Array.from({ length: K }, (_, j) => feat.subarray(j * Ho * Wo, (j + 1) * Ho * Wo).reduce((a, b) => a + b, 0));
  return Array.from({ length: O }, (_, o) => { let s = 0; for (let f = 0; f < F; f++) s += fw[o * F + f] * input[f]; return s; });
}

describe("safetensors", () => {
  it("round trips F64 bit for bit and F32 exactly for f32 values, with metadata", () => {
    const a = new Rng(1).normals(7), b = Float64Array.from(new Float32Array(new Rng(2).normals(6)));
    const bytes = encodeSafetensors({ a: { shape: [7], values: a }, b: { shape: [2, 3], values: b, dtype: "F32" } }, { note: "x" });
    expect(new DataView(bytes.buffer).getBigUint64(0, true) % 8n).toBe(0n);
    const d = decodeSafetensors(bytes);
    expect(Array.from(d.tensors.a.values)).toEqual(Array.from(a));
    expect(Array.from(d.tensors.b.values)).toEqual(Array.from(b));
    expect(d.tensors.b.shape).toEqual([2, 3]);
    expect(d.metadata).toEqual({ note: "x" });
    expect(Array.from(encodeSafetensors({ a: { shape: [7], values: d.tensors.a.values } }, { note: "x" }))).toEqual(Array.from(encodeSafetensors({ a: { shape: [7], values: a } }, { note: "x" })));
  });

  it("names what is wrong: truncation, header, dtype, shape, overlap", () => {
    const good = encodeSafetensors({ w: { shape: [2, 2], values: new Float64Array([1, 2, 3, 4]) } });
    expect(() => decodeSafetensors(good.subarray(0, 5))).toThrow(/truncated file \(5 bytes/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 1))).toThrow(/truncated file: tensor "w" ends at byte 32/);
    expect(() => decodeSafetensors(good.subarray(0, 12))).toThrow(/truncated file: the header needs/);
    const withHeader = (h: string, data = 32) => {
      const head = new TextEncoder().encode(h);
      const out = new Uint8Array(8 + head.length + data);
      new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
      out.set(head, 8);
      return out;
    };
    expect(() => decodeSafetensors(withHeader("{not json"))).toThrow(/not valid UTF-8 JSON/);
    expect(() => decodeSafetensors(withHeader('{"w":{"dtype":"C64","shape":[2],"data_offsets":[0,16]}}'))).toThrow(/unsupported dtype "C64"/);
    expect(() => decodeSafetensors(withHeader('{"w":{"dtype":"F64","shape":[3],"data_offsets":[0,16]}}'))).toThrow(/needs 24 bytes, data_offsets give 16/);
    expect(() => decodeSafetensors(withHeader('{"w":{"dtype":"F64","shape":[-1],"data_offsets":[0,8]}}'))).toThrow(/malformed shape/);
    expect(() => decodeSafetensors(withHeader('{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},"b":{"dtype":"F64","shape":[2],"data_offsets":[8,24]}}'))).toThrow(/"a" and "b" overlap/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, 1n << 60n, true);
    expect(() => decodeSafetensors(huge)).toThrow(/header length \d+ is not plausible/);
  });
});

describe("npz", () => {
  it("round trips named arrays bit for bit and names a corrupt member", () => {
    const a = new Rng(3).normals(6), b = new Float64Array([0, 1, 2]);
    const d = decodeNpz(encodeNpz({ data: { values: a, shape: [2, 3] }, labels: { values: b, shape: [3] } }));
    expect(Array.from(d.data.values)).toEqual(Array.from(a));
    expect(d.data.shape).toEqual([2, 3]);
    expect(Array.from(d.labels.values)).toEqual([0, 1, 2]);
    expect(() => decodeNpz(new Uint8Array([1, 2, 3, 4]))).toThrow(/not a valid .npz \(zip\) archive/);
    const bad = zipSync({ "x.npy": new Uint8Array([1, 2, 3]) });
    expect(() => decodeNpz(bad)).toThrow(/member "x.npy": decodeNpy: not a .npy file/);
  });
});

describe("model files", () => {
  for (const readout of ["dense", "sum"] as const) {
    it(`${readout} readout: tensors round trip bit for bit and PyTorch semantics reproduce our outputs`, async () => {
      const s = spec(readout);
      const theta = initParams(s.shape, { seed: 4, biasStd: 0.5 });
      const file = modelToTensors(s, theta);
      expect(file.tensors["conv.weight"].shape).toEqual([3, 2, 4, 4]);
      expect(file.tensors["fc.weight"].shape).toEqual([3, readout === "dense" ? 12 : 3]);
      const back = tensorsToModel(decodeSafetensors(encodeSafetensors(file.tensors, file.metadata)), "test");
      expect(back.spec).toEqual(s);
      expect(Array.from(back.theta)).toEqual(Array.from(theta));
      const be = await createBackend("wasm");
      const n = 3, images = new Rng(5).normals(n * 2 * 8 * 8);
      const ours = (await evaluate(s.shape, theta, patchesFromImages(be, images, n, s.image), new Float64Array(n))).outputs;
      for (let q = 0; q < n; q++) {
        const ref = referenceForward(file, images.subarray(q * 128, (q + 1) * 128), 2, 8, 8, readout);
        for (let o = 0; o < 3; o++) expect(Math.abs(ours[q * 3 + o] - ref[o])).toBeLessThan(1e-12);
      }
    });
  }

  it("refuses unknown tensors, a nonzero readout bias, extra layers and inconsistent shapes by name", () => {
    const s = spec("dense");
    const f = modelToTensors(s, initParams(s.shape));
    const dec = (t: Record<string, { shape: number[]; values: Float64Array }>, meta = f.metadata) => () => tensorsToModel(decodeSafetensors(encodeSafetensors(t, meta)), "--model");
    // a readout bias: a zero one is the one-hidden-layer model, a nonzero one is not (the files pipeline reads that as a sequential CNN)
    expect(Array.from(dec({ ...f.tensors, "fc.bias": { shape: [3], values: new Float64Array(3) } })().theta)).toEqual(Array.from(dec(f.tensors)().theta));
    expect(dec({ ...f.tensors, "fc.bias": { shape: [3], values: new Float64Array([0, 0.5, 0]) } })).toThrow(/nonzero bias: a readout bias is not supported/);
    expect(dec({ ...f.tensors, "fc.scale": { shape: [3], values: new Float64Array(3) } })).toThrow(/tensor "fc.scale" is not part of the supported model/);
    // a convolution without bias reads with zero biases (they have no place in the file)
    const { "conv.bias": _b, ...noBias } = f.tensors;
    const L = layoutOf(s.shape);
    const read = dec(noBias)().theta;
    for (let j = 0; j < s.shape.filters; j++) expect(read[j * L.row + s.shape.patchDim]).toBe(0);
    // PyTorch's nn.Sequential names: roles come from the shapes
    const seq = dec({ "0.weight": f.tensors["conv.weight"], "0.bias": f.tensors["conv.bias"], "3.weight": f.tensors["fc.weight"] })();
    expect(Array.from(seq.theta)).toEqual(Array.from(dec(f.tensors)().theta));
    expect(dec({ "0.weight": f.tensors["conv.weight"], "0.bias": f.tensors["conv.bias"], "3.weight": f.tensors["fc.weight"], "3.bias": { shape: [3], values: new Float64Array([1, 2, 3]) } }))
      .toThrow(/nonzero bias: a readout bias is not supported/);
    expect(dec({ "0.weight": f.tensors["conv.weight"], "0.bias": f.tensors["conv.bias"], "3.weight": f.tensors["fc.weight"], "4.weight": f.tensors["fc.weight"] }))
      .toThrow(/2 2-D tensors \(3.weight, 4.weight\)/);
    expect(dec({ ...f.tensors, "conv.bias": { shape: [4], values: new Float64Array(4) } })).toThrow(/conv.bias has shape \[4\], expected \[3\]/);
    expect(dec({ ...f.tensors, "fc.weight": { shape: [3, 11], values: new Float64Array(33) } }, { ...f.metadata, readout: "dense" })).toThrow(/expected \[3, 12\] for the dense readout/);
    expect(dec(f.tensors, { height: "9", width: "8" })).toThrow(/does not divide the image/);
  });
});

const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");


/** A trained 8x8x2-image model, contaminated, written as files; returns the paths and the truth. */
async function fixture() {
  const dir = tempDir("cnnp-purify-");
  const s = spec("dense", 3, 3);
  const n = 3;
  const images = new Rng(6).normals(n * 128);
  const labels = new Float64Array([0, 1, 2]);
  const be = await createBackend("wasm");
  const data = patchesFromImages(be, images, n, s.image);
  const init = initParams(s.shape, { seed: 7 });
  // readout frozen (the theory's setting): then the patch span recovers every parameter exactly
  const clean = (await train(s.shape, init, data, labels, { epochs: 30, lr: 0.01, trainReadout: false })).params;
  const contaminated = sparseOutliers(clean, { rho: 0.1, seed: 8 }).params;
  const write = (name: string, theta: Float64Array) => { const f = modelToTensors(s, theta); writeFileSync(join(dir, name), encodeSafetensors(f.tensors, f.metadata)); return join(dir, name); };
  const paths = {
    model: write("model.safetensors", contaminated), init: write("init.safetensors", init),
    data: join(dir, "data.npy"), labels: join(dir, "labels.npy"), out: join(dir, "purified.safetensors"), dir,
  };
  writeFileSync(paths.data, encodeNpy(images, [n, 2, 8, 8]));
  writeFileSync(paths.labels, encodeNpy(labels, [n]));
  return { paths, s, data, init, clean, contaminated };
}

describe("cnn-purify purify", () => {
  it("writes the purified model that purify() computes, bit for bit, and leaves every input unchanged", async () => {
    const { paths, s, data, init, clean, contaminated } = await fixture();
    const before = [paths.model, paths.init, paths.data, paths.labels].map(sha);
    const rep = join(paths.dir, "report.json");
    const r = await cli(["purify", "--model", paths.model, "--init", paths.init, "--data", paths.data, "--labels", paths.labels, "--out", paths.out, "--report", rep, "--trained-readout", "no", "--json"]);
    expect(r.code).toBe(0);
    const got = tensorsToModel(decodeSafetensors(readFileSync(paths.out)), "out").theta;
    const api = await purify(contaminated, { shape: s.shape, init, data, trainedReadout: false });
    expect(Array.from(got)).toEqual(Array.from(api.params));
    expect(Math.max(...got.map((v, i) => Math.abs(v - clean[i])))).toBeLessThan(1e-9);
    expect([paths.model, paths.init, paths.data, paths.labels].map(sha)).toEqual(before);
    const summary = JSON.parse(r.out);
    expect(summary.certifiedExact).toBe(true);
    expect(summary.accuracyAfter).toBeGreaterThanOrEqual(summary.accuracyBefore);
    const written = JSON.parse(readFileSync(rep, "utf8"));
    expect(written.report.iterations).toBeGreaterThan(0);
    // provenance: the inputs by content, the version, the options
    expect(written.files.model).toBe(sha(paths.model));
    expect(written.files.data).toBe(sha(paths.data));
    expect(written.version).toBe(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version);
    expect(written.options.trainedReadout).toBe(false);
    // the same inputs from one .npz (arrays "data" and "labels") give the same file
    const npz = join(paths.dir, "inputs.npz"), out2 = join(paths.dir, "purified2.safetensors");
    writeFileSync(npz, encodeNpz({ data: { values: decodeNpy(new Uint8Array(readFileSync(paths.data))).values, shape: [3, 2, 8, 8] }, labels: { values: new Float64Array([0, 1, 2]), shape: [3] } }));
    expect((await cli(["purify", "--model", paths.model, "--init", paths.init, "--data", npz, "--labels", npz, "--out", out2, "--trained-readout", "no"])).code).toBe(0);
    expect(sha(out2)).toBe(sha(paths.out));
  });

  it("bad input: each case exits non-zero with a message naming the problem; no input changes, no output appears", async () => {
    const { paths } = await fixture();
    const dir = paths.dir;
    const truncated = join(dir, "truncated.safetensors");
    writeFileSync(truncated, readFileSync(paths.model).subarray(0, 100));
    const badMagic = join(dir, "magic.npy");
    writeFileSync(badMagic, Buffer.from("not a numpy file at all"));
    const nanData = join(dir, "nan.npy");
    const nanValues = new Float64Array(3 * 128); nanValues[130] = NaN;
    writeFileSync(nanData, encodeNpy(nanValues, [3, 2, 8, 8]));
    const empty = join(dir, "empty.npy");
    writeFileSync(empty, encodeNpy(new Float64Array(0), [0, 2, 8, 8]));
    const wrongSize = join(dir, "wrong.npy");
    writeFileSync(wrongSize, encodeNpy(new Float64Array(3 * 2 * 12 * 12), [3, 2, 12, 12]));
    const otherInit = join(dir, "other.safetensors");
    { const s2 = spec("dense", 4, 3); const f = modelToTensors(s2, initParams(s2.shape)); writeFileSync(otherInit, encodeSafetensors(f.tensors, f.metadata)); }
    const huge = join(dir, "huge.npy");
    writeFileSync(huge, encodeNpy(new Float64Array(40000 * 128), [40000, 2, 8, 8]));
    const link = join(dir, "link.safetensors");
    symlinkSync(paths.model, link);
    const inputs = [paths.model, paths.init, paths.data, paths.labels, truncated, badMagic, nanData, empty, wrongSize, otherInit, huge];
    const before = inputs.map(sha);
    const base = { model: paths.model, init: paths.init, data: paths.data, out: join(dir, "never.safetensors") };
    const args = (o: Record<string, string>) => ["purify", ...Object.entries({ ...base, ...o }).flatMap(([k, v]) => [`--${k}`, v])];
    const cases: Array<[Record<string, string>, number, RegExp]> = [
      [{ model: truncated }, 3, /--model .*truncated.safetensors: safetensors: truncated file/],
      [{ model: join(dir, "missing.safetensors") }, 3, /cannot read --model .*missing.safetensors: no such file/],
      [{ data: badMagic }, 3, /--data .*magic.npy: decodeNpy: not a .npy file \(bad magic\)/],
      [{ data: nanData }, 3, /value 130 \(sample 1\) is NaN; inputs must be finite/],
      [{ data: empty }, 3, /no samples \(n = 0\)/],
      [{ data: wrongSize }, 3, /does not divide the image|images are 2x12x12, the model expects 2x8x8/],
      [{ init: otherInit }, 3, /--model .*model.safetensors and --init .*other.safetensors describe different networks/],
      [{ data: huge, subspace: "linearized" }, 3, /needs about [\d.]+ GiB of working memory \(\d+ bytes\)/],
      [{ out: paths.model }, 2, /--out .* is the --model file; the inputs are never overwritten/],
      [{ out: link }, 2, /--out .*link.safetensors is the --model file/],
      [{ out: paths.init }, 2, /is the --init file/],
      [{ model: join(dir, "model.h5") }, 2, /unsupported model format ".h5" \(supported: .safetensors, .onnx, .pt, .pth\)/],
      [{ subspace: "global" }, 2, /--subspace must be one of auto, patch, linearized, relinearized/],
      [{ method: "global" }, 2, /--method must be one of auto, patch, linearized, relinearized/],
      [{ method: "patch", subspace: "linearized" }, 2, /--method and --subspace name the same choice/],
    ];
    for (const [o, code, msg] of cases) {
      const r = await cli(args(o));
      expect(r.code, JSON.stringify(o)).toBe(code);
      expect(r.err, JSON.stringify(o)).toMatch(msg);
    }
    // an output that cannot be put in place (the name is taken by a folder): the write fails after
    // the purification, the temp file is removed, nothing else changes
    const blocked = join(dir, "blocked.safetensors");
    mkdirSync(blocked);
    const r = await cli(args({ out: blocked }));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^cnn-purify: cannot write .*blocked.safetensors: a folder has that name$/m);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(readdirSync(blocked)).toEqual([]);
    expect((await cli(["purify", "--model", paths.model])).err).toMatch(/--init is required/);
    expect((await cli(["purify", ...args({}).slice(1), "--labels", join(dir, "empty.npy")])).err).toMatch(/0 labels for 3 samples/);
    expect(inputs.map(sha)).toEqual(before);
    expect(existsSync(base.out)).toBe(false);
    expect((await cli(["purify", "--help"])).out).toMatch(/exit codes: 0 success.*3 a bad input file/s);
  });
});
