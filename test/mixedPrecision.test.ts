// Mixed precision: the f32 kernels against plain-loop references (f64 products of the f32-rounded
// inputs), the batched ADMM update against the per-problem one, and the solver's promise: with
// arithmetic "mixed" ADMM finds the support in f32 and the answer (polish, certificate in f64) is
// the f64 solver's to 1e-12, including a change below f32's first inlier tolerance, and problems
// that do not polish exactly go on in f64.
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import { sparseOutliers } from "../src/contaminate.js";
import { trainInstance } from "../src/experiments/synthetic.js";
import { PatchSpanOperator } from "../src/recover/operator.js";
import { purify } from "../src/recover/purify.js";
import { solveBatch } from "../src/recover/solve.js";
import { admmStepOne, randn, relDiff } from "./helpers.js";

/** op(X) (i, j) of a row-major matrix with leading dimension ld. */
const opAt = (x: ArrayLike<number>, trans: boolean, ld: number, i: number, j: number) => (trans ? x[j * ld + i] : x[i * ld + j]);

for (const name of ["wasm", "wasm-scalar", "js"]) {
  describe(`${name}: f32 kernels`, () => {
    it("gemm in f32 equals the f64 product of the rounded inputs to f32 accuracy, every transpose, edge tiles, beta", async () => {
      const be = await createBackend(name), f = be.f32;
      for (const [m, n, k] of [[5, 9, 7], [33, 17, 300], [4, 8, 1]]) {
        for (const ta of [false, true]) for (const tb of [false, true]) {
          const a = Float64Array.from(randn(m * k, m + k), Math.fround), b = Float64Array.from(randn(k * n, n), Math.fround), c0 = Float64Array.from(randn(m * n, 3), Math.fround);
          const A = f.alloc(m * k), B = f.alloc(k * n), C = f.alloc(m * n);
          f.view(A).set(a); f.view(B).set(b); f.view(C).set(c0);
          const lda = ta ? m : k, ldb = tb ? k : n;
          f.gemm(ta, tb, m, n, k, 0.5, A, lda, B, ldb, 2, C, n);
          const ref = new Float64Array(m * n);
          for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
            let s = 0;
            for (let p = 0; p < k; p++) s += opAt(a, ta, lda, i, p) * opAt(b, tb, ldb, p, j);
            ref[i * n + j] = 0.5 * s + 2 * c0[i * n + j];
          }
          expect(relDiff(Float64Array.from(f.view(C)), ref)).toBeLessThan(k * 1e-7);
          expect(relDiff(Float64Array.from(f.view(C)), ref)).toBeGreaterThan(0); // f32, not f64
          f.free(A); f.free(B); f.free(C);
        }
      }
    });

    it("a prepacked operand gives gemm's product bit for bit (both sides, transposes, sizes across the blocking), in f64 and f32", async () => {
      const be = await createBackend(name), f = be.f32;
      for (const [m, n, k] of [[7, 9, 5], [70, 530, 300]]) {
        for (const side of ["a", "b"] as const) for (const tp of [false, true]) for (const tx of [false, true]) {
          const a = randn(m * k, m + n), b = randn(k * n, k + 1), c0 = randn(m * n, 2);
          const [P, X, rows, cols, ldP, ldX] = side === "a" ? [a, b, m, k, tp ? m : k, tx ? k : n] : [b, a, k, n, tp ? k : n, tx ? m : k];
          const pb = be.upload(be.alloc(P.length), P), xb = be.upload(be.alloc(X.length), X);
          const packed = be.prepack(side, be.alloc(be.packedLength(side, rows, cols)), pb, tp, ldP, rows, cols);
          const got = be.upload(be.alloc(m * n), c0), want = be.upload(be.alloc(m * n), c0);
          be.gemmPrepacked(side, packed, xb, tx, ldX, m, n, k, 0.5, got, n);
          if (side === "a") be.gemm(tp, tx, m, n, k, 1, pb, ldP, xb, ldX, 0.5, want, n);
          else be.gemm(tx, tp, m, n, k, 1, xb, ldX, pb, ldP, 0.5, want, n);
          expect(Array.from(be.view(got))).toEqual(Array.from(be.view(want)));
          // f32: the same through backend.f32
          const p32 = f.demote(f.alloc(P.length), pb), x32 = f.demote(f.alloc(X.length), xb);
          const packed32 = f.prepack(side, f.alloc(f.packedLength(side, rows, cols)), p32, tp, ldP, rows, cols);
          const g32 = f.demote(f.alloc(m * n), be.upload(be.alloc(m * n), c0)), w32 = f.demote(f.alloc(m * n), be.upload(be.alloc(m * n), c0));
          f.gemmPrepacked(side, packed32, x32, tx, ldX, m, n, k, 0.5, g32, n);
          if (side === "a") f.gemm(tp, tx, m, n, k, 1, p32, ldP, x32, ldX, 0.5, w32, n);
          else f.gemm(tx, tp, m, n, k, 1, x32, ldX, p32, ldP, 0.5, w32, n);
          expect(Array.from(f.view(g32))).toEqual(Array.from(f.view(w32)));
        }
      }
    });

    it("demote rounds to nearest, promote is exact; the f32 ADMM step matches the f64 one to f32 accuracy", async () => {
      const be = await createBackend(name), f = be.f32, n = 37;
      const x = randn(n, 5), X = be.upload(be.alloc(n), x), X32 = f.demote(f.alloc(n), X);
      expect(Array.from(f.view(X32))).toEqual(Array.from(x, Math.fround));
      const back = be.download(f.promote(be.alloc(n), X32));
      expect(Array.from(back)).toEqual(Array.from(x, Math.fround));
      const [z, y, au, r] = [1, 2, 3, 4].map((s) => Float64Array.from(randn(n, 10 + s), Math.fround));
      const up = (v: Float64Array) => be.upload(be.alloc(n), v), up32 = (v: Float64Array) => { const b = f.alloc(n); f.view(b).set(v); return b; };
      const s64 = admmStepOne(be, up(z), up(y), up(au), up(r), 1.6, 0.3);
      const z32 = up32(z), y32 = up32(y), one = (v: number[]) => be.upload(be.alloc(1), v);
      const s32 = be.download(f.admmUpdateBatch(z32, y32, up32(au), up32(r), 1.6, one([0.3]), one([1]), 1, be.alloc(5)));
      expect(relDiff(s32, s64)).toBeLessThan(1e-5);
      // q = r - y + z
      const q = f.admmRhs(f.alloc(n), up32(r), up32(y), up32(z));
      expect(relDiff(Float64Array.from(f.view(q)), Float64Array.from(r, (v, i) => v - y[i] + z[i]))).toBeLessThan(1e-6);
      expect(f.l1Diff(up32(r), up32(y))).toBeCloseTo(r.reduce((s, v, i) => s + Math.abs(v - y[i]), 0), 4);
    });

    it("the batched ADMM update solves each problem as a batch of one would (bit for bit in f64), skipping inactive problems", async () => {
      const be = await createBackend(name), B = 4, n = 11;
      const [z, y, au, r] = [1, 2, 3, 4].map((s) => randn(B * n, 20 + s));
      const t = [0.1, 0.5, 2, 0.3], active = [1, 0, 1, 1];
      const Z = be.upload(be.alloc(B * n), z), Y = be.upload(be.alloc(B * n), y), AU = be.upload(be.alloc(B * n), au), R = be.upload(be.alloc(B * n), r);
      const stats = be.alloc(5 * B);
      be.admmUpdateBatch(Z, Y, AU, R, 1.6, be.upload(be.alloc(B), t), be.upload(be.alloc(B), active), B, stats);
      for (let b = 0; b < B; b++) {
        const s = (v: Float64Array) => be.upload(be.alloc(n), v.subarray(b * n, (b + 1) * n));
        const zb = s(z), yb = s(y);
        const one = active[b] ? admmStepOne(be, zb, yb, s(au), s(r), 1.6, t[b]) : null;
        expect(Array.from(be.view(Z).subarray(b * n, (b + 1) * n))).toEqual(Array.from(be.view(zb)));
        expect(Array.from(be.view(Y).subarray(b * n, (b + 1) * n))).toEqual(Array.from(be.view(yb)));
        if (one) expect(Array.from(be.view(stats).subarray(5 * b, 5 * b + 5))).toEqual(Array.from(one));
      }
    });
  });
}

describe("mixed-precision ADMM", () => {
  it("finds the support in f32 and gives the f64 solver's exact answer (<= 1e-12), on wasm and on js's f32 kernels; auto stays f64 where f32 cannot pay", async () => {
    const be = await createBackend("wasm");
    const inst = await trainInstance({ p: 48, patches: 4, samples: 2, filters: 24, seed: 1, lr: 0.02, epochs: 200 }, be);
    const { params: c } = sparseOutliers(inst.trained, { rho: 0.15, scale: 10, seed: 2 });
    const run = async (arithmetic: "auto" | "mixed" | "f64", backend = be) => purify(c, { shape: inst.shape, init: inst.init, data: inst.data, subspace: "patch", trainedReadout: false, arithmetic, backend });
    const mixed = await run("mixed"), f64 = await run("f64"), js = await run("mixed", await createBackend("js")), auto = await run("auto");
    expect(mixed.report.f32Iterations).toBeGreaterThan(0);
    expect(js.report.f32Iterations).toBeGreaterThan(0);
    expect(f64.report.f32Iterations).toBe(0);
    // m N B = 8 x 49 x 24 = 9,408, below MIXED_MIN_WORK (2^15): auto is f64 here, bit for bit
    expect(auto.report.f32Iterations).toBe(0);
    expect(Array.from(auto.params)).toEqual(Array.from(f64.params));
    for (const r of [mixed, js, f64]) {
      expect(r.report.recovered).toBe(true);
      expect(relDiff(r.params, inst.trained)).toBeLessThan(1e-12);
    }
    expect(relDiff(mixed.params, f64.params)).toBeLessThan(1e-12);
  });

  it("a change of 1e-7 of a filter's update (below f32's first inlier tolerance) is found and undone, as in f64", async () => {
    const be = await createBackend("wasm");
    const inst = await trainInstance({ p: 48, patches: 4, samples: 2, filters: 6, seed: 3, lr: 0.02, epochs: 200 }, be);
    let ss = 0;
    for (let i = 0; i < 49; i++) ss += (inst.trained[i] - inst.init[i]) ** 2;
    const c = inst.trained.slice();
    c[5] += 1e-7 * Math.sqrt(ss / 49);
    const run = async (arithmetic: "mixed" | "f64") => purify(c, { shape: inst.shape, init: inst.init, data: inst.data, subspace: "patch", trainedReadout: false, arithmetic, backend: be, clean: inst.trained });
    const mixed = await run("mixed"), f64 = await run("f64");
    expect(mixed.report.f32Iterations).toBeGreaterThan(0);
    for (const r of [mixed, f64]) {
      expect(r.report.recovered).toBe(true);
      expect(Math.abs(r.params[5] - inst.trained[5])).toBeLessThan(1e-13);
    }
    expect(relDiff(mixed.params, f64.params)).toBeLessThan(1e-12);
  });

  it("problems whose f32 support does not polish to an exact fit continue in f64 and end where the f64 solver does", async () => {
    const be = await createBackend("wasm");
    // dense Gaussian data and right-hand sides: no row set fits exactly, so every problem goes on in f64
    const m = 6, N = 40, B = 3;
    const xa = be.upload(be.alloc(m * N), randn(m * N, 31));
    const op = new PatchSpanOperator(be, xa, m, N, B);
    const r = randn(B * N, 32);
    const mixed = await solveBatch(op, r, B, { solver: "admm", arithmetic: "mixed" });
    const f64 = await solveBatch(op, r, B, { solver: "admm", arithmetic: "f64" });
    expect(mixed.f32Iterations).toBeGreaterThan(0);
    expect(mixed.iterations).toBeGreaterThan(mixed.f32Iterations);
    expect(f64.f32Iterations).toBe(0);
    expect(Math.abs(mixed.objective - f64.objective) / f64.objective).toBeLessThan(1e-6);
    op.dispose();
  });

  it("an unknown arithmetic is refused by name", async () => {
    const inst = await trainInstance({ p: 8, patches: 2, samples: 2, filters: 2, seed: 1, lr: 0.02, epochs: 5 }, await createBackend("js"));
    await expect(purify(inst.trained, { shape: inst.shape, init: inst.init, data: inst.data, arithmetic: "f16" as never })).rejects.toThrow(/unknown arithmetic "f16" \(known: auto, mixed, f64\)/);
  });
});
