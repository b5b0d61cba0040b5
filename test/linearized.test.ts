// The linearized operator of the one-hidden-layer CNN's plan (the span purify() solves in): its VJPs,
// read in the one-hidden layout, against central differences of the model's definition; its
// structured NTK (J diag(w) J^T) against J built column by column from VJPs; the JVP against the VJP
// (adjointness); for both readouts, several outputs, with and without beta.
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import type { PatchData } from "../src/model/data.js";
import { initParams } from "../src/model/init.js";
import type { ModelShape } from "../src/model/shape.js";
import { SequentialLinearizedOperator } from "../src/deep/linearized.js";
import { oneHiddenAsSequential } from "../src/model/asSequential.js";
import { materialize } from "../src/recover/operator.js";
import { naiveOutputs, randn, relDiff } from "./helpers.js";

describe("linearized operator", () => {
  for (const readout of ["dense", "sum"] as const) {
    for (const withReadout of [true, false]) {
      it(`${readout} readout, beta ${withReadout ? "trained" : "fixed"}: closed-form weighted NTK = A^T diag(w) A from VJPs`, async () => {
        const be = await createBackend("wasm");
        const shape: ModelShape = { patchDim: 6, patches: 3, filters: 4, outputs: 3, readout };
        const n = 5;
        const data: PatchData = { samples: n, patches: 3, patchDim: 6, values: randn(n * 3 * 6, 1) };
        const theta = initParams(shape, { seed: 2, biasStd: 0.5 });
        const map = oneHiddenAsSequential(shape);
        const op = new SequentialLinearizedOperator(be, map.plan, data.values, n, map.toSequential(theta), withReadout ? [] : [map.readoutLayer]);
        const As = materialize(op), m = op.cols, P = theta.length;
        // A in the one-hidden layout; the plan's other rows (the readout's absent biases) are 0
        const A = new Float64Array(P * m);
        for (let i = 0; i < P; i++) A.set(As.subarray(map.index[i] * m, (map.index[i] + 1) * m), i * m);
        const image = new Set(map.index);
        for (let j = 0; j < op.rows; j++) if (!image.has(j)) expect(As.subarray(j * m, (j + 1) * m).every((v) => v === 0)).toBe(true);
        // A = J^T against central differences of the model's definition (beta's rows 0 when fixed)
        const h = 1e-6, fd = new Float64Array(P * m);
        for (let i = 0; i < P; i++) {
          if (!withReadout && i >= shape.filters * 7) continue;
          const tp = theta.slice(); tp[i] += h;
          const tm = theta.slice(); tm[i] -= h;
          const yp = naiveOutputs(shape, tp, data), ym = naiveOutputs(shape, tm, data);
          for (let c = 0; c < m; c++) fd[i * m + c] = (yp[c] - ym[c]) / (2 * h);
        }
        expect(relDiff(A, fd)).toBeLessThan(1e-7);
        const w = randn(P, 3).map(Math.abs);
        const ref = new Float64Array(m * m);
        for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) {
          let s = 0;
          for (let i = 0; i < P; i++) s += A[i * m + a] * w[i] * A[i * m + b];
          ref[a * m + b] = s;
        }
        const g = be.alloc(m * m);
        op.weightedGram(be.upload(be.alloc(op.rows), map.toSequential(w)), g);
        expect(relDiff(be.download(g), ref)).toBeLessThan(1e-12);
        // unweighted Gram, and adjointness <A u, z> = <u, A^T z>
        op.gram(g);
        const ref1 = new Float64Array(m * m);
        for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) { let s = 0; for (let i = 0; i < P; i++) s += A[i * m + a] * A[i * m + b]; ref1[a * m + b] = s; }
        expect(relDiff(be.download(g), ref1)).toBeLessThan(1e-12);
        const zv = randn(P, 4), u = randn(m, 5);
        const atz = be.alloc(m);
        op.applyT(be.upload(be.alloc(op.rows), map.toSequential(zv)), atz, 1);
        let lhs = 0, rhs = 0;
        const at = be.view(atz);
        for (let c = 0; c < m; c++) rhs += u[c] * at[c];
        for (let i = 0; i < P; i++) { let s = 0; for (let c = 0; c < m; c++) s += A[i * m + c] * u[c]; lhs += s * zv[i]; }
        expect(Math.abs(lhs - rhs) / Math.abs(rhs)).toBeLessThan(1e-12);
      });
    }
  }
});

describe("re-linearized span", () => {
  it("the union of two linearizations: block Gram (closed-form cross terms) = A^T diag(w) A from VJPs", async () => {
    const { ConcatOperator } = await import("../src/recover/operator.js");
    const be = await createBackend("js");
    const shape: ModelShape = { patchDim: 5, patches: 4, filters: 3, outputs: 2, readout: "dense" };
    const n = 4;
    const data: PatchData = { samples: n, patches: 4, patchDim: 5, values: randn(n * 4 * 5, 7) };
    const t0 = initParams(shape, { seed: 8, biasStd: 0.5 }), t1 = t0.map((v, i) => v + 0.3 * Math.sin(i));
    const { plan, toSequential } = oneHiddenAsSequential(shape);
    const op = new ConcatOperator(be, [t0, t1].map((t) => new SequentialLinearizedOperator(be, plan, data.values, n, toSequential(t))));
    const A = materialize(op), P = op.rows, m = op.cols;
    expect(m).toBe(2 * n * 2);
    const w = randn(P, 9).map(Math.abs);
    const ref = new Float64Array(m * m);
    for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) { let s = 0; for (let i = 0; i < P; i++) s += A[i * m + a] * w[i] * A[i * m + b]; ref[a * m + b] = s; }
    const g = be.alloc(m * m);
    op.weightedGram(be.upload(be.alloc(P), w), g);
    expect(relDiff(be.download(g), ref)).toBeLessThan(1e-12);
  });
});
