// Certify a checkpoint (exact regime): no false alarm on clean models, f64 and f32 files alike, and
// one entry changed by a hair is found and named, over 50 seeds each. The verdicts come from
// `checkModel` on the files' bytes (what the CLI and every runtime run), the truth from the seeds.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import { checkModel, sha256 } from "../src/files/check.js";
import type { ModelSpec } from "../src/io/modelFile.js";
import { modelToTensors } from "../src/io/modelFile.js";
import { encodeNpy } from "../src/io/npy.js";
import { encodeSafetensors } from "../src/io/safetensors.js";
import { patchesFromImages } from "../src/model/data.js";
import { initParams } from "../src/model/init.js";
import { Rng } from "../src/random.js";
import { train } from "../src/train/train.js";
import { VERSION } from "../src/version.js";
import { cli, frozenFirstLayerCnn } from "./helpers.js";

const spec: ModelSpec = { shape: { patchDim: 32, patches: 4, filters: 3, outputs: 3, readout: "dense" }, image: { channels: 2, height: 8, width: 8, patchHeight: 4, patchWidth: 4 } };
const TENSORS = ["conv.weight", "conv.bias", "fc.weight"];

/** A clean model of seed s (readout frozen, exact regime: n k = 12 patches for rows of 33). */
async function cleanModel(seed: number) {
  const n = 3, images = new Rng(100 + seed).normals(n * 128), labels = new Float64Array([0, 1, 2]);
  const data = patchesFromImages(await createBackend("wasm"), images, n, spec.image);
  const init = initParams(spec.shape, { seed: 200 + seed });
  const clean = (await train(spec.shape, init, data, labels, { epochs: 20, lr: 0.01, trainReadout: false })).params;
  return { images, init, clean };
}

function file(name: string, theta: Float64Array, dtype: "F64" | "F32", edit?: (t: Record<string, { shape: number[]; values: Float64Array }>) => void) {
  const f = modelToTensors(spec, theta);
  const tensors = Object.fromEntries(Object.entries(f.tensors).map(([k, t]) => [k, { ...t, values: t.values.slice() }]));
  edit?.(tensors);
  return { name, bytes: encodeSafetensors(Object.fromEntries(Object.entries(tensors).map(([k, t]) => [k, { ...t, dtype }])), f.metadata) };
}

describe("check in the exact regime", () => {
  for (const [dtype, size] of [["F64", 1e-6], ["F32", 1e-3]] as const) {
    it(`${dtype} files, 50 seeds: clean models consistent, one entry changed by ${size} of its tensor's rms changed and named first`, async () => {
      let falseAlarms = 0, found = 0;
      for (let seed = 0; seed < 50; seed++) {
        const { images, init, clean } = await cleanModel(seed);
        const data = { name: "x.npy", bytes: encodeNpy(images, [3, 2, 8, 8]) }, initFile = file("i.safetensors", init, dtype);
        const ok = await checkModel({ model: file("m.safetensors", clean, dtype), init: initFile, data });
        if (!(ok.verdict === "consistent" && ok.certified)) falseAlarms++;
        const rng = new Rng(300 + seed), tensor = TENSORS[seed % 3];
        let where = -1;
        const changed = file("m.safetensors", clean, dtype, (t) => {
          const v = t[tensor].values, rms = Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
          where = Math.floor(rng.uniform() * v.length);
          v[where] += (rng.uniform() < 0.5 ? -1 : 1) * size * rms;
        });
        const bad = await checkModel({ model: changed, init: initFile, data });
        if (bad.verdict === "changed" && bad.certified && bad.suspects.total === 1 && bad.suspects.top[0].tensor === tensor && bad.suspects.top[0].index === where) found++;
      }
      expect(falseAlarms).toBe(0);
      expect(found).toBe(50);
    }, 120_000);
  }
});

describe("check on a multi-layer CNN whose lower layer training left frozen (layerwise, certified)", () => {
  for (const [dtype, size] of [["f64", 1e-6], ["f32", 1e-3]] as const) {
    it(`${dtype} files, 50 seeds: clean models consistent, one entry of the trained layer changed by ${size} of its rms changed and named`, async () => {
      const { encodeSequentialOnnx } = await import("../src/io/onnxSequential.js");
      const { planLayers } = await import("../src/deep/sequential.js");
      let falseAlarms = 0, found = 0;
      for (let seed = 0; seed < 50; seed++) {
        const { model, n, x, init, clean } = await frozenFirstLayerCnn(seed);
        const l2 = planLayers(model.input, model.layers).layers[2];
        const f = (name: string, theta: Float64Array) => ({ name, bytes: encodeSequentialOnnx(model, theta, { dtype }) });
        const files = { init: f("i.onnx", init), data: { name: "x.npy", bytes: encodeNpy(x, [n, 1, 8, 8]) } };
        const ok = await checkModel({ model: f("m.onnx", clean), ...files }, { frozen: [0, 5] });
        if (!(ok.verdict === "consistent" && ok.certified)) falseAlarms++;
        // one weight of the trained layer (row r, entry q < p: not a bias), as stored in the file
        const rng = new Rng(400 + seed), p = l2.rowLength - 1, r = Math.floor(rng.uniform() * l2.rows), q = Math.floor(rng.uniform() * p);
        const stored = dtype === "f32" ? clean.map((v) => Math.fround(v)) : clean.slice();
        const w = stored.subarray(l2.offset, l2.offset + l2.rows * l2.rowLength);
        stored[l2.offset + r * l2.rowLength + q] += (rng.uniform() < 0.5 ? -1 : 1) * size * Math.sqrt(w.reduce((s2, v) => s2 + v * v, 0) / w.length);
        const bad = await checkModel({ model: f("m.onnx", stored), ...files }, { frozen: [0, 5] });
        if (bad.verdict === "changed" && bad.certified && bad.suspects.total === 1 && bad.suspects.top[0].tensor === "l2.weight" && bad.suspects.top[0].index === r * p + q) found++;
      }
      expect(falseAlarms).toBe(0);
      expect(found).toBe(50);
    }, 120_000);
  }
});

describe("check on a change to a layer training left frozen", () => {
  it("is named as changed (any difference from init), and the purified file has the layer back at init", async () => {
    const { encodeSequentialOnnx } = await import("../src/io/onnxSequential.js");
    const { model, n, x, init, clean } = await frozenFirstLayerCnn(3);
    const f = (name: string, theta: Float64Array) => ({ name, bytes: encodeSequentialOnnx(model, theta, { dtype: "f32" }) });
    const files = { init: f("i.onnx", init.map(Math.fround)), data: { name: "x.npy", bytes: encodeNpy(x, [n, 1, 8, 8]) } };
    const stored = clean.map(Math.fround);
    stored[12] += 0.05;
    const bad = await checkModel({ model: f("m.onnx", stored), ...files }, { frozen: [0, 5] });
    expect([bad.verdict, bad.certified, bad.suspects.total]).toEqual(["changed", true, 1]);
    expect([bad.suspects.top[0].tensor, bad.suspects.top[0].index, bad.suspects.top[0].predicted]).toEqual(["l0.weight", 11, Math.fround(init[12])]);
  });
});

describe("cnn-purify check", () => {
  const dir = mkdtempSync(join(tmpdir(), "cnnp-check-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("verdicts as exit codes (0 consistent, 4 changed, 5 undetermined), a report with the files' SHA-256, garbage refused with 3", async () => {
    const { images, init, clean } = await cleanModel(1);
    const w = (name: string, bytes: Uint8Array) => { writeFileSync(join(dir, name), bytes); return join(dir, name); };
    const paths = {
      clean: w("clean.safetensors", file("c", clean, "F64").bytes),
      changed: w("changed.safetensors", file("c", clean, "F64", (t) => { t["conv.bias"].values[1] += 0.01; }).bytes),
      init: w("init.safetensors", file("i", init, "F64").bytes), data: w("x.npy", encodeNpy(images, [3, 2, 8, 8])),
      garbage: w("garbage.safetensors", new Uint8Array(50).fill(7)),
    };
    const base = ["check", "--init", paths.init, "--data", paths.data];
    expect((await cli([...base, "--model", paths.clean])).code).toBe(0);
    const rep = join(dir, "report.json");
    const two = await cli([...base, "--model", paths.clean, "--model", paths.changed, "--report", rep, "--json"]);
    expect(two.code).toBe(4);
    const res = JSON.parse(two.out).results;
    expect(res.map((r: { verdict: string }) => r.verdict)).toEqual(["consistent", "changed"]);
    expect(res[1].suspects.top[0]).toMatchObject({ tensor: "conv.bias", index: 1 });
    const { readFileSync } = await import("node:fs");
    const report = JSON.parse(readFileSync(rep, "utf8"));
    expect(report.results[1].files.model).toBe(await sha256(new Uint8Array(readFileSync(paths.changed))));
    expect(report.results[1].version).toBe(VERSION);
    // an approximate span gives no certificate: undetermined, said so
    const approx = await cli([...base, "--model", paths.clean, "--subspace", "linearized", "--json"]);
    expect(approx.code).toBe(5);
    expect(JSON.parse(approx.out).results[0].reason).toMatch(/approximate: no exact-fit certificate/);
    const g = await cli([...base, "--model", paths.garbage]);
    expect(g.code).toBe(3);
    expect(g.err).toMatch(/--model .*garbage.safetensors: safetensors: header length .* is not plausible|truncated/);
  });

  it("the version the reports record is package.json's", async () => {
    const { readFileSync } = await import("node:fs");
    expect(VERSION).toBe(JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version);
  });
});
