// The benchmark's machinery on tiny problems (no timing assertions: speed lives in bench/):
// the LP adapters against each other and HiGHS, recovery rows with their accuracy, the report.
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import { solveLp, LP_SOLVERS } from "../bench/lpSolvers.js";
import { benchRecovery } from "../bench/recovery.js";
import { benchGemm } from "../bench/gemm.js";
import { logLogSlope, measure } from "../bench/harness.js";
import { markdown } from "../bench/report.js";
import { benchNtk } from "../bench/ntk.js";
import type { BenchSummary } from "../bench/report.js";
import { randn } from "./helpers.js";

describe("LP adapters", () => {
  it("every solver returns the same LAD solution on a small problem with a sparse outlier set", async () => {
    const rows = 30, m = 3;
    const a = randn(rows * m, 1), u0 = randn(m, 2);
    const r = new Float64Array(rows);
    for (let i = 0; i < rows; i++) { let s = 0; for (let c = 0; c < m; c++) s += a[i * m + c] * u0[c]; r[i] = s + (i % 7 === 0 ? 5 : 0); }
    for (const solver of LP_SOLVERS) {
      const u = await solveLp(solver, { a, rows, m, r });
      for (let c = 0; c < m; c++) expect(Math.abs(u[c] - u0[c])).toBeLessThan(1e-6);
    }
  });
});

describe("bench pieces", () => {
  it("recovery rows carry accuracy; ADMM and HiGHS agree on a small problem", async () => {
    const be = await createBackend("wasm");
    const rows = await benchRecovery([be], [{ label: "tiny", p: 40, patches: 2, samples: 4, filters: 3, subspace: "patch", rho: 0.1, lr: 0.02, lpSolvers: ["highs"] }],
      { rounds: 1, timeMs: 1, lpCapSeconds: 60, log: () => {}, workerUrl: new URL("../build/bench/lpWorker.mjs", import.meta.url) });
    // the default (mixed precision on this SIMD binary) and f64 throughout: both reach HiGHS' answer
    expect(rows.map((r) => r.method)).toEqual(["admm (wasm)", "admm (wasm f64)", "highs"]);
    for (const r of rows) { expect(r.status).toBe("ok"); expect(r.error!).toBeLessThanOrEqual(1e-8); }
  });

  it("GEMM rows for every contender, measured interleaved", async () => {
    const be = await createBackend("js");
    const [row] = await benchGemm([be], [{ label: "t", m: 5, n: 6, k: 7, inCache: true }], { rounds: 2, timeMs: 1 });
    expect(Object.keys(row.gflops).sort()).toEqual(["js", "ml-matrix"]);
    expect(row.gflops.js.median).toBeGreaterThan(0);
    const t = await measure([{ name: "a", fn: () => {} }, { name: "b", fn: () => {} }], { rounds: 3, timeMs: 1 });
    expect(t.map((x) => x.rounds)).toEqual([3, 3]);
    // a SIMD backend adds its f32 GEMM and both peak kernels
    const [w] = await benchGemm([await createBackend("wasm")], [{ label: "t", m: 9, n: 10, k: 11, inCache: true }], { rounds: 2, timeMs: 1 });
    expect(Object.keys(w.gflops).sort()).toEqual(["ml-matrix", "peak", "peak-f32", "wasm", "wasm-f32"]);
  });

  it("log-log slope of a power law is its exponent", () => {
    expect(logLogSlope([[1, 3], [2, 12], [4, 48]])).toBeCloseTo(2, 12);
  });

  it("the markdown report lists every ratio", () => {
    const s = {
      machine: { cpu: "x", cores: 2, node: "v20" }, quick: true,
      ratios: { gemmSimdVsJs: 4, gemmSimdVsScalar: 2, gemmSimdVsMlMatrix: 20, recoverySimdVsJs: 3, recoverySimdVsScalar: 1.5, admmVsHighs: null, parallelSpeedup: 1.8, ntkStructuredVsPairs: 90,
        recoveryMixedVsF64: 1.7, recoveryBestVsJs: 8, gemmF32VsF64: 1.9, gemmPeakFractionF32: 0.8 },
      ntk: { model: "LeNet-5", params: 61706, samples: 2, columns: 20, structuredSeconds: 0.1, pairsSeconds: 9, pairsColumnsTimed: 2, ratio: 90, layers: [{ type: "conv", kind: "explicit", explicitGflop: 1, contractionGflop: 2 }] },
      gemmPeakFraction: 0.8, peaks: [{ backend: "wasm", gflops: 20 }], gemm: [], rows: [], scaling: [], notes: ["n"],
    } as unknown as BenchSummary;
    const md = markdown(s);
    for (const k of Object.keys(s.ratios)) expect(md).toContain(`| ${k} |`);
    expect(md).toContain("| admmVsHighs | n/a |");
    expect(md).toContain("| conv | explicit | 1 | 2 |");
  });

  it("the NTK bench times LeNet-5's structured NTK and the pairs on the same operator", async () => {
    const r = benchNtk(await createBackend("wasm"), 2, 3);
    expect(r.params).toBe(61706);
    expect(r.columns).toBe(20);
    expect(r.layers.map((l) => `${l.type}:${l.kind}`)).toEqual(["conv:explicit", "conv:explicit", "dense:contraction", "dense:contraction", "dense:contraction"]);
    expect(r.ratio).toBe(r.pairsSeconds / r.structuredSeconds);
    expect(r.pairsSeconds).toBeGreaterThan(0);
  });
});
