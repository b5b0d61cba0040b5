// Exact recovery against independent references: the known clean model, the HiGHS LP solution,
// and an IRLS solve; plus failure cases that must be flagged, not silently wrong.
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import { uploadAugmented } from "../src/model/data.js";
import { layoutOf } from "../src/model/shape.js";
import { runSynthetic, trainInstance } from "../src/experiments/synthetic.js";
import { sparseOutliers } from "../src/contaminate.js";
import { PatchSpanOperator } from "../src/recover/operator.js";
import { highsLad } from "../src/recover/highs.js";
import { irlsLad } from "../src/recover/irls.js";
import { createPurifier, purify } from "../src/recover/purify.js";
import { initParams } from "../src/model/init.js";
import { train, evaluate } from "../src/train/train.js";
import type { PatchData } from "../src/model/data.js";
import type { ModelShape } from "../src/model/shape.js";
import { randn, relDiff } from "./helpers.js";

describe("synthetic defaults (p 256, 4 patches, 8 samples, 8 filters): exact recovery", () => {
  for (const backend of ["wasm", "js"] as const) {
    for (const rho of [0.05, 0.1, 0.2, 0.3]) {
      it(`${backend}, rho = ${rho}: weights and biases to <= 1e-9, certified, all outliers found`, async () => {
        const { summary } = await runSynthetic({ rho, backend, seed: 1 });
        expect(summary.flipRate).toBeGreaterThan(0.1); // not the lazy regime
        expect(summary.contaminatedWeightRelError).toBeGreaterThan(1);
        expect(summary.weightRelError).toBeLessThanOrEqual(1e-9);
        expect(summary.biasRelError).toBeLessThanOrEqual(1e-9);
        expect(summary.recovered).toBe(true);
        expect(summary.precision).toBe(1);
        expect(summary.recall).toBe(1);
      });
    }
  }

  it("the two backends recover the same parameters (<= 1e-12)", async () => {
    const a = await runSynthetic({ rho: 0.2, backend: "wasm" });
    const b = await runSynthetic({ rho: 0.2, backend: "js" });
    expect(relDiff(a.recovered, b.recovered)).toBeLessThanOrEqual(1e-12);
  });
});

/** The patch-span operator of a synthetic run, on a given backend. */
async function patchOperatorOf(run: Awaited<ReturnType<typeof runSynthetic>>, name: string) {
  const be = await createBackend(name);
  const L = layoutOf(run.shape);
  const xa = uploadAugmented(be, run.data);
  return { be, L, op: new PatchSpanOperator(be, xa, run.data.samples * run.data.patches, L.row, run.shape.filters) };
}

describe("agreement with independent solvers", () => {
  it.each([0.05, 0.1, 0.2, 0.3])("rho = %s: HiGHS' LP solution of every filter problem matches ADMM's to <= 1e-8", async (rho) => {
    const run = await runSynthetic({ rho, seed: 1, backend: "wasm" });
    const { be, L, op } = await patchOperatorOf(run, "js");
    const u = be.alloc(op.cols), fit = be.alloc(L.row);
    for (let j = 0; j < run.shape.filters; j++) {
      const r = new Float64Array(L.row);
      for (let q = 0; q < L.row; q++) r[q] = run.contaminated[j * L.row + q] - run.init[j * L.row + q];
      const h = await highsLad(op, r);
      be.upload(u, h.u);
      op.apply(u, fit, 1);
      const lp = Float64Array.from(be.view(fit), (v, q) => run.init[j * L.row + q] + v);
      expect(relDiff(run.recovered.subarray(j * L.row, (j + 1) * L.row), lp)).toBeLessThanOrEqual(1e-8);
    }
  });

  it("IRLS reaches the same solution as ADMM on a filter problem", async () => {
    const run = await runSynthetic({ rho: 0.1, seed: 3, backend: "js" });
    const { be, L, op } = await patchOperatorOf(run, "wasm");
    const r = be.upload(be.alloc(L.row), Float64Array.from({ length: L.row }, (_, q) => run.contaminated[q] - run.init[q]));
    const s = irlsLad(op, r);
    const fit = be.alloc(L.row);
    op.apply(be.upload(be.alloc(op.cols), s.u), fit, 1);
    const got = Float64Array.from(be.view(fit), (v, q) => run.init[q] + v);
    expect(relDiff(got, run.trained.subarray(0, L.row))).toBeLessThan(1e-6);
    const viaPurify = await purify(run.contaminated, { shape: run.shape, init: run.init, data: run.data, solver: "irls", trainedReadout: false, clean: run.trained });
    expect(viaPurify.report.errors!.weightRelError).toBeLessThanOrEqual(1e-9);
  });
});

describe("erasures and bit flips", () => {
  it("NaN, +Inf, -Inf and 1e38 entries are restored exactly and reported", async () => {
    const run = await runSynthetic({ rho: 0.1, seed: 4 });
    const bad = run.contaminated.slice();
    bad[3] = NaN; bad[300] = Infinity; bad[700] = -Infinity; bad[1000] = 3e38;
    const { params, report } = await purify(bad, { shape: run.shape, init: run.init, data: run.data, clean: run.trained, trainedReadout: false });
    expect(Array.from(report.erasures)).toEqual([3, 300, 700]);
    expect(Array.from(report.grossOutliers)).toContain(1000);
    expect(report.errors!.weightRelError).toBeLessThanOrEqual(1e-9);
    expect(report.errors!.biasRelError).toBeLessThanOrEqual(1e-9);
    expect(Number.isFinite(params[3]) && Number.isFinite(params[300])).toBe(true);
  });

  it("f32 exponent bit flips (huge values, NaN/Inf) at 1% and 5% of entries: exact", async () => {
    for (const rho of [0.01, 0.05]) {
      const { summary } = await runSynthetic({ rho, contamination: "bitflips", seed: 5 });
      expect(summary.weightRelError).toBeLessThanOrEqual(1e-9);
      expect(summary.biasRelError).toBeLessThanOrEqual(1e-9);
      expect(summary.recovered).toBe(true);
    }
  });
});

describe("failure is reported, not hidden", () => {
  it("rho = 0.5 is past the breakdown point: recovered = false", async () => {
    const { summary, report } = await runSynthetic({ rho: 0.5, seed: 1 });
    expect(summary.weightRelError).toBeGreaterThan(1e-3);
    expect(summary.recovered).toBe(false);
    expect(report.certificateSlack).toBeLessThan(0);
  });

  it("a span that is not thin (n k / (p + 1) = 0.62) at rho = 0.3: recovered = false", async () => {
    const { summary } = await runSynthetic({ rho: 0.3, samples: 40, seed: 1 });
    expect(summary.weightRelError).toBeGreaterThan(1e-3);
    expect(summary.recovered).toBe(false);
  });
});

describe("linearized spans", () => {
  it("exact (<= 1e-9) when training never flips an activation", async () => {
    const r = await runSynthetic({ rho: 0.1, subspace: "linearized", lr: 1e-7, epochs: 100, seed: 1 });
    expect(r.summary.flipRate).toBe(0);
    expect(r.summary.weightRelError).toBeLessThanOrEqual(1e-9);
    expect(r.summary.biasRelError).toBeLessThanOrEqual(1e-9);
    expect(r.summary.recovered).toBe(true);
  });

  it("a patch purifier run on several models gives each what a fresh purify() gives, bit for bit (nothing of one run leaks into the next)", async () => {
    const be = await createBackend("wasm");
    const inst = await trainInstance({ seed: 2, trainReadout: true, lr: 0.002 }, be);
    const o = { shape: inst.shape, init: inst.init, data: inst.data, subspace: "patch" as const, backend: be };
    const p = await createPurifier(o);
    try {
      const residual = p.spanResidual(inst.trained);
      for (const seed of [5, 6, 7]) {
        const c = sparseOutliers(inst.trained, { rho: 0.1, scale: 10, seed }).params;
        const [kept, fresh] = [await p.purify(c), await purify(c, o)];
        expect(Array.from(kept.params)).toEqual(Array.from(fresh.params));
        expect(Array.from(kept.report.estimatedContaminated)).toEqual(Array.from(fresh.report.estimatedContaminated));
        expect(kept.report.recovered).toBe(true);
      }
      expect(p.spanResidual(inst.trained)).toBe(residual);
      expect(residual).toBeLessThan(1e-12);
    } finally {
      p.dispose();
    }
  });

  it("a re-linearized run returns its first pass: bit for bit the linearized run's answer, with its own report", async () => {
    const be = await createBackend("wasm");
    const inst = await trainInstance({ rho: 0.1, lr: 1e-5, epochs: 100, seed: 1 }, be);
    const c = sparseOutliers(inst.trained, { rho: 0.1, scale: 10, seed: 5 }).params;
    const p = await createPurifier({ shape: inst.shape, init: inst.init, data: inst.data, subspace: "relinearized", backend: be, clean: inst.trained });
    try {
      const lin = await p.purify(c, { subspace: "linearized" });
      const relin = await p.purify(c);
      expect(relin.report.subspace).toBe("relinearized");
      expect(relin.firstPass).toBeDefined();
      expect(Array.from(relin.firstPass!.params)).toEqual(Array.from(lin.params));
      expect(relin.firstPass!.report.subspace).toBe("linearized");
      expect(relin.firstPass!.report.iterations).toBe(lin.report.iterations);
      expect(relin.firstPass!.report.errors).toEqual(lin.report.errors);
      expect(relin.report.iterations).toBeGreaterThan(lin.report.iterations);
      expect(relin.report.spanDim).toBe(2 * lin.report.spanDim);
    } finally {
      p.dispose();
    }
  });

  it("with flips, the error grows with the flip rate, the report says not exact, and re-linearization helps", async () => {
    const lin = await runSynthetic({ rho: 0.1, subspace: "linearized", lr: 1e-5, epochs: 100, seed: 1 });
    const relin = await runSynthetic({ rho: 0.1, subspace: "relinearized", lr: 1e-5, epochs: 100, seed: 1 });
    const far = await runSynthetic({ rho: 0.1, subspace: "linearized", lr: 1e-3, epochs: 100, seed: 1 });
    expect(lin.summary.flipRate).toBeGreaterThan(0);
    expect(lin.summary.recovered).toBe(false);
    expect(lin.report.cleanSpanResidual).toBeGreaterThan(1e-3);
    expect(far.summary.flipRate).toBeGreaterThan(lin.summary.flipRate);
    expect(far.summary.weightRelError).toBeGreaterThan(lin.summary.weightRelError);
    // not catastrophic: purification still removes most of the contamination
    expect(lin.summary.weightRelError).toBeLessThan(0.1 * lin.summary.contaminatedWeightRelError);
    expect(relin.summary.weightRelError).toBeLessThan(lin.summary.weightRelError);
  });
});

describe("weight decay and the init column", () => {
  it("with weight decay the patch span needs theta0's row; with it, recovery is exact", async () => {
    const n = 8, k = 4, p = 64;
    const shape: ModelShape = { patchDim: p, patches: k, filters: 4, outputs: 1, readout: "sum" };
    const data: PatchData = { samples: n, patches: k, patchDim: p, values: randn(n * k * p, 21) };
    const teacher = initParams(shape, { seed: 22, biasStd: 0.5 });
    const targets = (await evaluate(shape, teacher, data, new Float64Array(n))).outputs;
    const init = initParams(shape, { seed: 23, biasStd: 0.5 });
    const tr = await train(shape, init, data, targets, { epochs: 100, lr: 0.01, weightDecay: 0.01, batchSize: 4, trainReadout: false });
    const { sparseOutliers } = await import("../src/contaminate.js");
    const c = sparseOutliers(tr.params, { rho: 0.1, seed: 24 });
    const without = await purify(c.params, { shape, init, data, clean: tr.params, trainedReadout: false });
    const withCol = await purify(c.params, { shape, init, data, clean: tr.params, trainedReadout: false, weightDecay: true });
    expect(without.report.errors!.weightRelError).toBeGreaterThan(1e-6);
    expect(without.report.recovered).toBe(false);
    expect(withCol.report.errors!.weightRelError).toBeLessThanOrEqual(1e-9);
    expect(withCol.report.errors!.biasRelError).toBeLessThanOrEqual(1e-9);
    expect(withCol.report.recovered).toBe(true);
  });
});

describe("resources and progress", () => {
  it("purify frees every buffer it allocates and reports ADMM progress", async () => {
    const be = await createBackend("wasm");
    const run = await runSynthetic({ rho: 0.2, seed: 6, backend: be });
    const before = be.allocatedBytes();
    const seen: number[] = [];
    for (const subspace of ["patch", "linearized", "relinearized"] as const) {
      await purify(run.contaminated, { shape: run.shape, init: run.init, data: run.data, backend: be, subspace, trainedReadout: false, onProgress: (p) => seen.push(p.iteration) });
    }
    expect(be.allocatedBytes()).toBe(before);
    expect(seen.length).toBeGreaterThan(0);
  });
});

describe("the memory estimate (one-hidden-layer model)", () => {
  it("bounds purify's peak WebAssembly memory on the patch, linearized and re-linearized spans", async () => {
    const { memoryEstimate } = await import("../src/recover/memory.js");
    const shape: ModelShape = { patchDim: 49, patches: 16, filters: 16, outputs: 10, readout: "dense" };
    const n = 60, data: PatchData = { samples: n, patches: 16, patchDim: 49, values: randn(n * 16 * 49, 3) };
    const init = initParams(shape, { seed: 4 }), c = sparseOutliers(init.map((v, i) => v + 0.01 * Math.sin(i)), { rho: 0.05, seed: 5 }).params;
    for (const subspace of ["patch", "linearized", "relinearized"] as const) {
      const be = await createBackend("wasm");
      be.resetPeak();
      const before = be.peakBytes();
      await purify(c, { shape, init, data, subspace, backend: be, admm: { maxIter: 30 } });
      const estimate = memoryEstimate(shape, n, subspace);
      expect(be.peakBytes() - before, subspace).toBeLessThanOrEqual(estimate);
      expect(be.peakBytes() - before, subspace).toBeGreaterThan(estimate / 20);
    }
    // thin patch spans (the filters' 160 patches for rows of 257; the readout's 40 samples for rows of 257): both layers solved
    const thin: ModelShape = { patchDim: 256, patches: 4, filters: 64, outputs: 10, readout: "dense" }, m = 40;
    const thinData: PatchData = { samples: m, patches: 4, patchDim: 256, values: randn(m * 4 * 256, 6) };
    const thinInit = initParams(thin, { seed: 7 }), be = await createBackend("wasm");
    be.resetPeak();
    const before = be.peakBytes(), estimate = memoryEstimate(thin, m, "patch");
    const r = await purify(sparseOutliers(thinInit.map((v, i) => v + 0.01 * Math.sin(i)), { rho: 0.05, seed: 8 }).params, { shape: thin, init: thinInit, data: thinData, subspace: "patch", backend: be, admm: { maxIter: 30 } });
    expect(r.report.spanDim).toBe(160);
    expect(be.peakBytes() - before).toBeLessThanOrEqual(estimate);
    expect(be.peakBytes() - before).toBeGreaterThan(estimate / 4);
  }, 60_000);
});
