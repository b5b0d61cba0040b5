// BatchNorm as a layer of the sequential model, checked against references that do not share its
// code: naive loops for its kernels and statistics, finite differences and the VJP/JVP adjoint
// identity for its derivatives, VJP/JVP pairs for its NTK block, onnxruntime for its forward pass on
// PyTorch's own export, and a hand-made update distribution for the channel-outlier rule.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import { SequentialLinearizedOperator } from "../src/deep/linearized.js";
import { channelOutliers } from "../src/deep/layerwise.js";
import type { LayerSpec } from "../src/deep/sequential.js";
import { SequentialWorkspace, planLayers, preciseStatistics, scratchSizes, sequentialBackward, sequentialForward, sequentialJvp, withStatisticsOf } from "../src/deep/sequential.js";
import { initSequential } from "../src/deep/train.js";
import { train } from "../src/train/train.js";
import { decodeSequentialOnnx, encodeSequentialOnnx } from "../src/io/onnxSequential.js";
import { decodeNpy } from "../src/io/npy.js";
import { Rng } from "../src/random.js";
import { randn, relDiff } from "./helpers.js";

const require = createRequire(import.meta.url);
const ort = require("onnxruntime-node") as typeof import("onnxruntime-node");

const input = { C: 2, H: 8, W: 8 };
const layers: LayerSpec[] = [
  { type: "conv", filters: 3, kernel: 3, padding: 1, bias: false }, { type: "batchnorm" }, { type: "relu" }, { type: "maxpool", size: 2 },
  { type: "conv", filters: 4, kernel: 2, stride: 2 }, { type: "batchnorm", eps: 1e-3 }, { type: "relu" },
  { type: "flatten" }, { type: "dense", units: 3 },
];
const plan = planLayers(input, layers);
const n = 5;
const x = new Rng(3).normals(n * 2 * 64);
/** Parameters with gamma, beta away from 1, 0 and statistics from the data (so every term is exercised). */
async function point(seed: number): Promise<Float64Array> {
  const be = await createBackend("js");
  const t = initSequential({ input, layers }, seed);
  for (const l of plan.layers) if (l.spec.type === "batchnorm") for (let q = 0; q < l.params; q++) t[l.offset + q] += 0.3 * Math.sin(seed + q);
  return preciseStatistics(be, plan, t, x, n);
}

describe("BatchNorm kernels against naive loops", () => {
  for (const name of ["wasm", "js"]) {
    it(`${name}: channelAffine (fresh and accumulating) and channelSums`, async () => {
      const be = await createBackend(name);
      const N = 3, C = 4, HW = 5, len = N * C * HW;
      const xs = randn(len, 1), g = randn(len, 2), a = randn(C, 3), b = randn(C, 4), prev = randn(len, 5);
      const up = (v: Float64Array) => be.upload(be.alloc(v.length), v);
      const fresh = be.download(be.channelAffine(be.alloc(len), up(xs), up(a), up(b), N, C, HW, 0));
      const acc = be.download(be.channelAffine(up(prev), up(xs), up(a), up(b), N, C, HW, 1));
      const sx = be.alloc(C), s = be.alloc(C);
      be.channelSums(sx, s, up(g), up(xs), N, C, HW);
      const wantSx = new Float64Array(C), wantS = new Float64Array(C);
      for (let i = 0; i < len; i++) {
        const c = Math.floor(i / HW) % C;
        expect(fresh[i]).toBeCloseTo(a[c] * xs[i] + b[c], 14);
        expect(acc[i]).toBeCloseTo(prev[i] + a[c] * xs[i] + b[c], 14);
        wantSx[c] += g[i] * xs[i]; wantS[c] += g[i];
      }
      expect(relDiff(be.download(sx), wantSx)).toBeLessThan(1e-14);
      expect(relDiff(be.download(s), wantS)).toBeLessThan(1e-14);
    });
  }
});

describe("BatchNorm in the sequential model", () => {
  it("statistics: precise BatchNorm equals the per-channel mean and unbiased variance of the layer's input, computed by hand", async () => {
    const be = await createBackend("wasm");
    const t = await point(1);
    // the first BatchNorm's input is the bias-free conv's output: recompute it with the layers cut there
    const head = planLayers(input, layers.slice(0, 1));
    const ws = new SequentialWorkspace(be, head, n);
    const z = be.download(sequentialForward(ws, be.upload(be.alloc(head.size), t.subarray(0, head.size)), be.upload(be.alloc(x.length), x)));
    const l = plan.layers[1], C = 3, HW = 64;
    for (let c = 0; c < C; c++) {
      const v: number[] = [];
      for (let s = 0; s < n; s++) for (let q = 0; q < HW; q++) v.push(z[(s * C + c) * HW + q]);
      const mean = v.reduce((p, q) => p + q, 0) / v.length;
      const variance = v.reduce((p, q) => p + (q - mean) ** 2, 0) / (v.length - 1);
      expect(t[l.offset + 2 * C + c]).toBeCloseTo(mean, 12);
      expect(t[l.offset + 3 * C + c]).toBeCloseTo(variance, 12);
    }
    // withStatisticsOf moves only the statistics
    const other = t.map((v) => v + 1), mixed = withStatisticsOf(plan, other, t);
    for (let i = 0; i < t.length; i++) {
      const inStats = plan.layers.some((q) => q.stats && i >= q.offset + q.params && i < q.offset + q.params + q.stats);
      expect(mixed[i]).toBe(inStats ? t[i] : other[i]);
    }
  });

  for (const name of ["wasm", "js"]) {
    it(`${name}: the JVP matches central differences of the forward, the VJP is its adjoint, and statistics get no gradient`, async () => {
      const be = await createBackend(name);
      const t = await point(2);
      const ws = new SequentialWorkspace(be, plan, n);
      const tb = be.upload(be.alloc(plan.size), t), xb = be.upload(be.alloc(x.length), x);
      const scratch = scratchSizes(plan, n).map((len) => be.alloc(len));
      const f = (th: Float64Array) => be.download(sequentialForward(ws, be.upload(be.alloc(th.length), th), xb));
      const dir = randn(plan.size, 9);
      // statistics are not parameters: a direction moving them is not a tangent the JVP sees
      const dirParams = withStatisticsOf(plan, dir, new Float64Array(plan.size));
      const h = 1e-6, fd = f(t.map((v, i) => v + h * dirParams[i])).map((v, i) => (v - f(t.map((w, j) => w - h * dirParams[j]))[i]) / (2 * h));
      sequentialForward(ws, tb, xb);
      const jvp = be.download(sequentialJvp(ws, tb, xb, be.upload(be.alloc(plan.size), dir), be.alloc(n * 3), scratch));
      expect(relDiff(jvp, fd)).toBeLessThan(1e-6);
      const u = randn(n * 3, 10);
      const vjp = be.download(sequentialBackward(ws, tb, xb, be.upload(be.alloc(u.length), u), be.alloc(plan.size), scratch));
      const lhs = u.reduce((s, v, i) => s + v * jvp[i], 0), rhs = vjp.reduce((s, v, i) => s + v * dir[i], 0);
      expect(Math.abs(lhs - rhs) / Math.abs(lhs)).toBeLessThan(1e-12);
      for (const l of plan.layers) for (let q = 0; q < l.stats; q++) expect(vjp[l.offset + l.params + q]).toBe(0);
      // a bias-free conv's bias entry never gets a gradient
      const l0 = plan.layers[0];
      for (let r = 0; r < l0.rows; r++) expect(vjp[l0.offset + r * l0.rowLength + l0.rowLength - 1]).toBe(0);
    });

    it(`${name}: the structured NTK (BatchNorm's explicit block) agrees with VJP/JVP pairs to 1e-10, weighted too`, async () => {
      const be = await createBackend(name);
      const t0 = await point(3), t1 = await point(4);
      const op0 = new SequentialLinearizedOperator(be, plan, x, n, t0), op1 = new SequentialLinearizedOperator(be, plan, x, n, t1);
      expect(op0.ntkChoices.filter((c) => c.type === "batchnorm").map((c) => c.kind)).toEqual(["explicit", "explicit"]);
      const m = op0.cols, g = be.alloc(m * m), ref = be.alloc(m * m);
      op0.gram(g);
      op0.gramByPairs(op0, null, ref);
      expect(relDiff(be.download(g), be.download(ref))).toBeLessThan(1e-10);
      const w = Float64Array.from({ length: plan.size }, (_, j) => (j % 4 === 0 ? 0 : 1 + (j % 3)));
      const wb = be.upload(be.alloc(w.length), w);
      op0.crossWeightedGram(op1, wb, g);
      op0.gramByPairs(op1, wb, ref);
      expect(relDiff(be.download(g), be.download(ref))).toBeLessThan(1e-10);
      op0.weightedGram(wb, g);
      op0.gramByPairs(op0, wb, ref);
      expect(relDiff(be.download(g), be.download(ref))).toBeLessThan(1e-10);
      op0.dispose(); op1.dispose();
    });
  }

  it("ONNX: our BatchNormalization node runs in onnxruntime with the outputs our forward computes; read back, the same model", async () => {
    const be = await createBackend("wasm");
    const bytes = encodeSequentialOnnx({ input, layers }, await point(5), { dtype: "f32" });
    const back = decodeSequentialOnnx(bytes);
    expect(back.model.layers.map((l) => [l.type, "bias" in l ? l.bias : true, "eps" in l ? l.eps : null])).toEqual(
      layers.map((l) => [l.type, "bias" in l ? l.bias : true, l.type === "batchnorm" ? Math.fround(l.eps ?? 1e-5) : null]));
    const xs = Float64Array.from(Float32Array.from(x));
    const ws = new SequentialWorkspace(be, plan, n);
    const ours = be.download(sequentialForward(ws, be.upload(be.alloc(back.theta.length), back.theta), be.upload(be.alloc(xs.length), xs)));
    const session = await ort.InferenceSession.create(bytes);
    const theirs = (await session.run({ input: new ort.Tensor("float32", Float32Array.from(xs), [n, 2, 8, 8]) })).output.data as Float32Array;
    expect(relDiff(ours, theirs)).toBeLessThan(1e-5);
  });

  it("PyTorch's PRESERVE export (a trained BatchNorm CNN): our forward computes what onnxruntime computes", async () => {
    const B = new URL("./fixtures/pytorch/batchnorm/", import.meta.url).pathname;
    const bytes = new Uint8Array(readFileSync(join(B, "clean-preserve.onnx")));
    const { model, theta } = decodeSequentialOnnx(bytes);
    expect(model.layers.map((l) => l.type)).toEqual(["conv", "batchnorm", "relu", "flatten", "dense"]);
    const data = decodeNpy(new Uint8Array(readFileSync(join(B, "../one-hidden/data.npy"))));
    const be = await createBackend("wasm");
    const p = planLayers(model.input, model.layers), count = 20;
    const ws = new SequentialWorkspace(be, p, count);
    const xs = data.values.subarray(0, count * 784);
    const ours = be.download(sequentialForward(ws, be.upload(be.alloc(theta.length), theta), be.upload(be.alloc(xs.length), xs)));
    const session = await ort.InferenceSession.create(bytes);
    const theirs = (await session.run({ x: new ort.Tensor("float32", Float32Array.from(xs), [count, 1, 28, 28]) })).logits.data as Float32Array;
    expect(relDiff(ours, theirs)).toBeLessThan(1e-5);
  });

  it("our trainer refuses BatchNorm by name (it would need batch statistics)", async () => {
    const t = initSequential({ input, layers }, 1);
    await expect(train({ input, layers }, t, { samples: 5, values: x }, [0, 1, 2, 0, 1])).rejects.toThrow(/layer 1 is a BatchNorm/);
  });
});

describe("channel outliers (BatchNorm's gamma and beta, which no span constrains)", () => {
  it("restores exactly the updates beyond 3.5 robust standard deviations (and non-finite ones) to init + the median update", () => {
    const C = 40, init = new Float64Array(C).fill(1), rng = new Rng(7);
    const clean = Float64Array.from({ length: C }, () => 1 + 0.05 * Math.max(-2.5, Math.min(2.5, rng.normal())));
    const bad = clean.slice();
    bad[3] += 1.5; bad[17] -= 0.9; bad[30] = NaN;
    const out = bad.slice();
    expect(channelOutliers(bad, init, 0, C, out)).toBe(3);
    const sorted = Array.from(bad).filter(Number.isFinite).map((v) => v - 1).sort((a, b) => a - b);
    const median = sorted[19]; // 39 finite updates
    for (let c = 0; c < C; c++) expect(out[c]).toBe([3, 17, 30].includes(c) ? 1 + median : clean[c]);
  });
});
