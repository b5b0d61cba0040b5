// The one-hidden-layer CNN: gradients against finite differences, teacher-student training,
// determinism, and agreement of the backends on a whole training run.
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import type { PatchData } from "../src/model/data.js";
import { patchesFromImages } from "../src/model/data.js";
import { initParams } from "../src/model/init.js";
import type { ModelShape, Readout } from "../src/model/shape.js";
import { layoutOf } from "../src/model/shape.js";
import { lossOf } from "../src/model/loss.js";
import { evaluate, gradient, train } from "../src/train/train.js";
import { naiveOutputs, randn, relDiff } from "./helpers.js";

function problem(readout: Readout, O: number, n = 6, k = 4, p = 7, K = 5) {
  const shape: ModelShape = { patchDim: p, patches: k, filters: K, outputs: O, readout };
  const data: PatchData = { samples: n, patches: k, patchDim: p, values: randn(n * k * p, 3) };
  const targets = O === 1 ? randn(n, 4) : Float64Array.from({ length: n }, (_, i) => i % O);
  return { shape, data, targets };
}

describe("outputs equal a naive closed form; gradients match central finite differences (relative 1e-6)", () => {
  for (const readout of ["sum", "dense"] as const) {
    for (const O of [1, 3]) {
      it(`${readout} readout, O = ${O}, ${O === 1 ? "mse" : "cross-entropy"}`, async () => {
        const { shape, data, targets } = problem(readout, O);
        const L = layoutOf(shape);
        const theta0 = initParams(shape, { seed: 7, biasStd: 0.5 });
        const loss = O === 1 ? "mse" : "cross-entropy";
        const ev = await evaluate(shape, theta0, data, targets, { backend: "wasm" });
        expect(relDiff(ev.outputs, naiveOutputs(shape, theta0, data))).toBeLessThan(1e-13);
        const f = (th: Float64Array): number => lossOf(loss, naiveOutputs(shape, th, data), targets, null, data.samples, O);
        const g = await gradient(shape, theta0, data, targets, { backend: "wasm" });
        const fd = new Float64Array(L.size);
        const h = 1e-6;
        for (let i = 0; i < L.size; i++) {
          const tp = theta0.slice(); tp[i] += h;
          const tm = theta0.slice(); tm[i] -= h;
          fd[i] = (f(tp) - f(tm)) / (2 * h);
        }
        expect(relDiff(g, fd)).toBeLessThan(1e-6);
        // and the gradient is not trivially zero
        expect(Math.max(...Array.from(g, Math.abs))).toBeGreaterThan(1e-3);
      });
    }
  }
});

describe("training", () => {
  const teacherStudent = () => {
    const n = 40, k = 4, p = 10, K = 6;
    const shape: ModelShape = { patchDim: p, patches: k, filters: K, outputs: 1, readout: "sum" };
    const data: PatchData = { samples: n, patches: k, patchDim: p, values: randn(n * k * p, 11) };
    const teacher = initParams(shape, { seed: 101, biasStd: 0.3 });
    return { shape, data, teacher, init: initParams(shape, { seed: 5 }) };
  };

  it("teacher-student: SGD with momentum lowers the loss by >= 100x", async () => {
    const { shape, data, teacher, init } = teacherStudent();
    const targets = (await evaluate(shape, teacher, data, new Float64Array(data.samples), { backend: "js" })).outputs;
    const r = await train(shape, init, data, targets, { epochs: 400, batchSize: 10, lr: 0.02, momentum: 0.9, seed: 3 });
    expect(r.finalLoss).toBeLessThan(r.initialLoss / 100);
  });

  it("the same seed gives bit-identical parameters; the backends agree within 1e-9", async () => {
    const { shape, data, teacher, init } = teacherStudent();
    const targets = (await evaluate(shape, teacher, data, new Float64Array(data.samples))).outputs;
    const opts = { epochs: 30, batchSize: 7, lr: 0.02, momentum: 0.9, weightDecay: 1e-3, seed: 9 };
    const a = await train(shape, init, data, targets, { ...opts, backend: "wasm" });
    const b = await train(shape, init, data, targets, { ...opts, backend: "wasm" });
    expect(Array.from(a.params)).toEqual(Array.from(b.params));
    const c = await train(shape, init, data, targets, { ...opts, backend: "js" });
    const s = await train(shape, init, data, targets, { ...opts, backend: "wasm-scalar" });
    expect(relDiff(c.params, a.params)).toBeLessThan(1e-9);
    expect(relDiff(s.params, a.params)).toBeLessThan(1e-9);
    // a different seed gives a different trajectory
    const d = await train(shape, init, data, targets, { ...opts, seed: 10 });
    expect(relDiff(d.params, a.params)).toBeGreaterThan(1e-6);
  });

  it("Adam trains a classifier with the dense readout", async () => {
    const { shape: s0, data } = teacherStudent();
    const shape: ModelShape = { ...s0, outputs: 3, readout: "dense" };
    const labels = Float64Array.from({ length: data.samples }, (_, i) => i % 3);
    const r = await train(shape, initParams(shape, { seed: 1 }), data, labels, { optimizer: "adam", lr: 0.01, epochs: 200 });
    expect(r.finalLoss).toBeLessThan(r.initialLoss / 5);
    const ev = await evaluate(shape, r.params, data, labels);
    expect(ev.accuracy).toBe(1);
  });

  it("SGD keeps each filter row in the span of the augmented patches (the subspace property)", async () => {
    const { shape, data, teacher, init } = teacherStudent();
    const n = 4; // thin: n k = 16 < p + 1 = 11? use fewer samples so the span is thin
    const small: PatchData = { samples: n, patches: 2, patchDim: 30, values: randn(n * 2 * 30, 2) };
    const sh: ModelShape = { ...shape, patches: 2, patchDim: 30 };
    const t0 = initParams(sh, { seed: 8 });
    const targets = randn(n, 1);
    const r = await train(sh, t0, small, targets, { epochs: 50, batchSize: 3, lr: 0.05 });
    // project delta W rows onto span(D) by least squares and check the residual is ~0
    const L = layoutOf(sh), m = n * 2;
    const D: number[][] = [];
    for (let c = 0; c < m; c++) D.push([...Array.from(small.values.subarray(c * 30, c * 30 + 30)), 1]);
    for (let j = 0; j < sh.filters; j++) {
      const dw = Array.from({ length: L.row }, (_, q) => r.params[j * L.row + q] - t0[j * L.row + q]);
      // normal equations (D D^T) a = D dw, Gaussian elimination
      const G = D.map((a) => D.map((b) => a.reduce((s, v, i) => s + v * b[i], 0)));
      const rhs = D.map((a) => a.reduce((s, v, i) => s + v * dw[i], 0));
      for (let i = 0; i < m; i++) for (let l = i + 1; l < m; l++) {
        const f = G[l][i] / G[i][i];
        for (let c = i; c < m; c++) G[l][c] -= f * G[i][c];
        rhs[l] -= f * rhs[i];
      }
      const a = new Array(m).fill(0);
      for (let i = m - 1; i >= 0; i--) { let s = rhs[i]; for (let c = i + 1; c < m; c++) s -= G[i][c] * a[c]; a[i] = s / G[i][i]; }
      const proj = dw.map((_, q) => D.reduce((s, row, c) => s + a[c] * row[q], 0));
      const norm = Math.hypot(...dw);
      expect(norm).toBeGreaterThan(1e-3);
      expect(Math.hypot(...dw.map((v, q) => v - proj[q])) / norm).toBeLessThan(1e-10);
    }
    void teacher;
  });

  it("images are cut into channel-major patches that match a direct loop", async () => {
    const be = await createBackend("js");
    const img = randn(2 * 3 * 4 * 6, 1);
    const d = patchesFromImages(be, img, 2, { channels: 3, height: 4, width: 6, patchHeight: 2, patchWidth: 3 });
    expect(d.patches).toBe(4);
    expect(d.patchDim).toBe(18);
    // sample 1, patch (py = 1, px = 1) = index 3, entry (c = 2, dy = 1, dx = 2)
    const want = img[1 * 72 + 2 * 24 + (1 * 2 + 1) * 6 + 1 * 3 + 2];
    expect(d.values[(1 * 4 + 3) * 18 + 2 * 6 + 1 * 3 + 2]).toBe(want);
  });
});
