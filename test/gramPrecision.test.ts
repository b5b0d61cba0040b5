// An NTK formed and factored in f32 where its conditioning allows (issue 19 item 3): the f32
// Cholesky kernels against matrices with a known eigendecomposition, the condition estimate against
// the true condition, the fallback to f64 when the estimate is too large or f32 is not definite,
// the f32 NTK against J^T J from the materialized Jacobian, and the promise that matters: with the
// f32 factor the linearized purifier's answer is the f64 one (exact regime to 1e-12, certified).
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import type { Backend } from "../src/backend/types.js";
import { runSynthetic } from "../src/experiments/synthetic.js";
import { CholeskyF32, F32_SOLVE_LIMIT, factorGram } from "../src/linalg/cholesky.js";
import type { PatchData } from "../src/model/data.js";
import { initParams } from "../src/model/init.js";
import type { ModelShape } from "../src/model/shape.js";
import { SequentialLinearizedOperator } from "../src/deep/linearized.js";
import { oneHiddenAsSequential } from "../src/model/asSequential.js";
import { materialize } from "../src/recover/operator.js";
import { spanResidualOf } from "../src/recover/purify.js";
import { randn, relDiff } from "./helpers.js";

/** G = Q diag(lambda) Q^T with Q a Householder reflection (orthogonal): eigenvalues known exactly. */
function withEigenvalues(lambda: Float64Array, seed: number): Float64Array {
  const m = lambda.length, v = randn(m, seed);
  const vv = v.reduce((s, x) => s + x * x, 0);
  const q = (i: number, j: number) => (i === j ? 1 : 0) - (2 * v[i] * v[j]) / vv;
  const g = new Float64Array(m * m);
  for (let i = 0; i < m; i++) for (let j = 0; j <= i; j++) {
    let s = 0;
    for (let k = 0; k < m; k++) s += q(i, k) * lambda[k] * q(j, k);
    g[i * m + j] = s; g[j * m + i] = s;
  }
  return g;
}

const geometric = (m: number, cond: number) => Float64Array.from({ length: m }, (_, i) => cond ** (i / (m - 1)));

/** The fills factorGram takes for an explicit matrix g, and its f64 product out = g x (plain loops). */
function gramFill(be: Backend, g: Float64Array) {
  const m = Math.round(Math.sqrt(g.length));
  return {
    f64: (out: ReturnType<Backend["alloc"]>) => { be.upload(out, g); },
    f32: (out: ReturnType<Backend["f32"]["alloc"]>) => { be.f32.view(out).set(g); return true; },
    multiply: (x: ReturnType<Backend["alloc"]>, out: ReturnType<Backend["alloc"]>) => {
      const xv = Float64Array.from(be.view(x)), y = new Float64Array(m);
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) y[i] += g[i * m + j] * xv[j];
      be.upload(out, y);
    },
  };
}

for (const name of ["wasm", "wasm-scalar", "js"]) {
  describe(`${name}: f32 Cholesky`, () => {
    // 300 > 2 x the block size: the blocked path (f32 panel solves and GEMM updates) runs
    const m = 300;

    it("solves G x = b to ~condition x f32 rounding, multiplies by G, and accumulates f64 into f32", async () => {
      const be = await createBackend(name), k = be.f32;
      const g = withEigenvalues(geometric(m, 100), 1), fill = gramFill(be, g);
      const f = CholeskyF32.tryFactor(be, m, fill.f32)!;
      expect(f).not.toBeNull();
      const x = randn(m, 2), b = new Float64Array(m);
      for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) b[i] += g[i * m + j] * x[j];
      const sol = be.download(f.solve(be.upload(be.alloc(m), b), 1));
      expect(relDiff(sol, x)).toBeLessThan(100 * 1e-5);
      expect(relDiff(sol, x)).toBeGreaterThan(1e-12); // solved in f32, not f64
      // two right-hand sides at once
      const b2 = new Float64Array(2 * m);
      for (let i = 0; i < m; i++) { b2[2 * i] = b[i]; b2[2 * i + 1] = -b[i]; }
      const sol2 = be.download(f.solve(be.upload(be.alloc(2 * m), b2), 2));
      expect(relDiff(Float64Array.from({ length: m }, (_, i) => -sol2[2 * i + 1]), x)).toBeLessThan(100 * 1e-5);
      // L L^T x = G x
      const xv = k.alloc(m), t = k.alloc(m);
      k.view(xv).set(x);
      k.choleskyMultiply(f.factor, m, xv, t);
      expect(relDiff(Float64Array.from(k.view(xv)), b)).toBeLessThan(1e-5);
      // out (f32) += x (f64)
      const acc = k.alloc(5);
      k.view(acc).set([1, 2, 3, 4, 5]);
      k.accumulate(acc, be.upload(be.alloc(5), [0.5, 1e-9, -3, 1 / 3, 7]));
      expect(Array.from(k.view(acc))).toEqual([1.5, 2, 0, Math.fround(4 + 1 / 3), 12]);
      f.dispose();
    });

    it("the condition estimate is within a factor of 2 of the true condition, from below", async () => {
      const be = await createBackend(name);
      for (const cond of [10, 1e3]) {
        const g = withEigenvalues(geometric(m, cond), 3);
        const f = CholeskyF32.tryFactor(be, m, gramFill(be, g).f32)!;
        const est = f.condition();
        expect(est).toBeLessThanOrEqual(cond * 1.01);
        expect(est).toBeGreaterThan(cond / 2);
        f.dispose();
      }
    });

    it("factorGram keeps f32 when its measured solve error allows, falls back to f64 (with the reason) when it does not or f32 is not definite", async () => {
      const be = await createBackend(name);
      const good = gramFill(be, withEigenvalues(geometric(m, 50), 4));
      const a = factorGram(be, m, good.f64, good.f32, true, good.multiply);
      expect(a.factor.precision).toBe("f32");
      expect(a.record.precision).toBe("f32");
      expect(a.record.condition).toBeLessThanOrEqual(50 * 1.01);
      expect(a.record.solveError).toBeLessThan(F32_SOLVE_LIMIT);
      expect(a.record.solveError).toBeGreaterThan(0); // solved in f32
      a.factor.dispose();
      const bad = gramFill(be, withEigenvalues(geometric(m, 1e9), 5));
      const b = factorGram(be, m, bad.f64, bad.f32, true, bad.multiply);
      expect(b.factor.precision).toBe("f64");
      expect(b.record.solveError).toBeGreaterThan(F32_SOLVE_LIMIT);
      expect(b.record.reason).toMatch(/^f64: condition ~.*, solve error .*beyond f32's limit 0\.05/);
      b.factor.dispose();
      // indefinite: f32 finds no definite factor; f64 takes a ridge
      const lam = geometric(m, 10);
      lam[0] = -1e-3;
      const semi = gramFill(be, withEigenvalues(lam, 6));
      const c = factorGram(be, m, semi.f64, semi.f32, true, semi.multiply);
      expect(c.factor.precision).toBe("f64");
      expect(c.factor.ridge).toBeGreaterThan(0);
      expect(c.record.reason).toMatch(/not positive definite in f32|condition/);
      c.factor.dispose();
      // not asked: f64, f32 never tried
      const d = factorGram(be, m, good.f64, good.f32, false, good.multiply);
      expect(d.factor.precision).toBe("f64");
      expect(Number.isNaN(d.record.condition)).toBe(true);
      d.factor.dispose();
    });
  });
}

describe("the NTK in f32", () => {
  for (const readout of ["dense", "sum"] as const) {
    it(`${readout} readout: gram32 = J^T J from the materialized Jacobian to f32 accuracy, summed in f32 or rounded from the kept f64 NTK`, async () => {
      const be = await createBackend("wasm"), k = be.f32;
      const shape: ModelShape = { patchDim: 6, patches: 3, filters: 9, outputs: 3, readout };
      const n = 7;
      const data: PatchData = { samples: n, patches: 3, patchDim: 6, values: randn(n * 3 * 6, 1) };
      const t0 = initParams(shape, { seed: 2, biasStd: 0.5 });
      const { plan, toSequential } = oneHiddenAsSequential(shape);
      const op = new SequentialLinearizedOperator(be, plan, data.values, n, toSequential(t0));
      for (const keep of [false, true]) {
        op.keepGram = keep;
        const A = materialize(op), P = op.rows, m = op.cols;
        const ref = new Float64Array(m * m);
        for (let a = 0; a < m; a++) for (let b = 0; b < m; b++) { let s = 0; for (let i = 0; i < P; i++) s += A[i * m + a] * A[i * m + b]; ref[a * m + b] = s; }
        const g = k.alloc(m * m);
        expect(op.gram32(g)).toBe(true);
        const got = Float64Array.from(k.view(g));
        expect(relDiff(got, ref)).toBeLessThan(1e-6);
        expect(relDiff(got, ref)).toBeGreaterThan(0);
        k.free(g);
      }
      op.dispose();
    });
  }

  it("the span residual through an f32 factor is refined to the f64 one", async () => {
    const be = await createBackend("wasm");
    const shape: ModelShape = { patchDim: 6, patches: 3, filters: 4, outputs: 2, readout: "dense" };
    const n = 6;
    const data: PatchData = { samples: n, patches: 3, patchDim: 6, values: randn(n * 3 * 6, 7) };
    const { plan, toSequential } = oneHiddenAsSequential(shape);
    const init = toSequential(initParams(shape, { seed: 8, biasStd: 0.5 }));
    const op = new SequentialLinearizedOperator(be, plan, data.values, n, init);
    const A = materialize(op), P = op.rows, m = op.cols;
    // a clean update in the span plus a known part outside it
    const u = randn(m, 9), inside = new Float64Array(P);
    for (let i = 0; i < P; i++) for (let c = 0; c < m; c++) inside[i] += A[i * m + c] * u[c];
    const t = be.alloc(P);
    const f = factorGram(be, m, (out) => op.gram(out), (out) => op.gram32(out), true, (x, out) => { op.apply(x, t); op.applyT(t, out); });
    expect(f.factor.precision).toBe("f32");
    const exact = init.map((v, i) => v + inside[i]);
    expect(spanResidualOf(be, op, exact, init, 0, P, 1, f.factor)).toBeLessThan(1e-12);
    const off = exact.map((v, i) => v + (i % 7 === 0 ? 1e-3 : 0));
    const ref = spanResidualOf(be, op, off, init, 0, P, 1);
    expect(Math.abs(spanResidualOf(be, op, off, init, 0, P, 1, f.factor) - ref) / ref).toBeLessThan(1e-9);
    f.factor.dispose(); op.dispose();
  });
});

describe("the linearized purifier with an f32 NTK", () => {
  it("exact regime: the same answer as f64 to 1e-12, certified, the report naming the f32 factor", async () => {
    const opts = { rho: 0.1, subspace: "linearized" as const, lr: 1e-7, epochs: 100, seed: 1 };
    const mixed = await runSynthetic({ ...opts, arithmetic: "mixed" });
    const f64 = await runSynthetic({ ...opts, arithmetic: "f64" });
    expect(mixed.report.gram?.precision).toBe("f32");
    expect(mixed.report.gram?.reason).toMatch(/^f32: condition ~/);
    expect(f64.report.gram?.precision).toBe("f64");
    expect(mixed.summary.recovered).toBe(true);
    expect(mixed.summary.weightRelError).toBeLessThanOrEqual(1e-9);
    expect(relDiff(mixed.recovered, f64.recovered)).toBeLessThan(1e-12);
  });

  it("re-linearized after a short training run: the union of two nearly equal spans is formed in f64, its rounding is not definite in f32, so it is factored in f64 and the report says why", async () => {
    const opts = { rho: 0.1, subspace: "relinearized" as const, lr: 1e-5, epochs: 100, seed: 1 };
    const mixed = await runSynthetic({ ...opts, arithmetic: "mixed" });
    const f64 = await runSynthetic({ ...opts, arithmetic: "f64" });
    expect(mixed.report.gram?.precision).toBe("f64");
    expect(mixed.report.gram?.reason).toMatch(/^f64: (not positive definite in f32|condition .* beyond f32's limit)/);
    expect(Math.abs(mixed.summary.weightRelError - f64.summary.weightRelError)).toBeLessThan(1e-3 * f64.summary.weightRelError);
  });
});
