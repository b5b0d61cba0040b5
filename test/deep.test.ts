// Multi-layer CNNs: the sequential model's VJP and JVP against central finite differences, their
// adjointness, backend agreement, repeated products at one point, and shape errors by layer.
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import type { Backend } from "../src/backend/types.js";
import type { LayerSpec } from "../src/deep/sequential.js";
import { SequentialWorkspace, planLayers, scratchSizes, sequentialBackward, sequentialForward, sequentialJvp } from "../src/deep/sequential.js";
import { Rng } from "../src/random.js";

const layers: LayerSpec[] = [
  { type: "conv", filters: 3, kernel: 3, padding: 1 }, { type: "relu" }, { type: "maxpool", size: 2 },
  { type: "conv", filters: 4, kernel: 3, stride: 1 }, { type: "relu" }, { type: "avgpool", size: 2 },
  { type: "flatten" }, { type: "dense", units: 3 },
];
const input = { C: 2, H: 8, W: 8 };

function setup(be: Backend, n: number) {
  const plan = planLayers(input, layers);
  const ws = new SequentialWorkspace(be, plan, n);
  const rng = new Rng(3);
  const theta = be.upload(be.alloc(plan.size), rng.normals(plan.size, 0.4));
  const x = be.upload(be.alloc(n * 128), rng.normals(n * 128));
  const scratch = scratchSizes(plan, n).map((len) => be.alloc(len));
  const outputs = n * plan.output.C;
  const f = (t: Float64Array) => { be.upload(theta, t); return be.download(sequentialForward(ws, theta, x)); };
  return { plan, ws, theta, x, scratch, outputs, f, rng };
}

describe("sequential multi-layer CNN", () => {
  it("plans shapes: conv with stride and padding, pools, flatten, dense", () => {
    const plan = planLayers(input, layers);
    expect(plan.layers.map((l) => `${l.output.C}x${l.output.H}x${l.output.W}`)).toEqual(["3x8x8", "3x8x8", "3x4x4", "4x2x2", "4x2x2", "4x1x1", "4x1x1", "3x1x1"]);
    expect(plan.size).toBe(3 * 19 + 4 * 28 + 3 * 5);
    expect(() => planLayers(input, [{ type: "conv", filters: 2, kernel: 3, stride: 2 }])).toThrow(/layer 0 \(conv\): stride 2 does not tile the padded input 8x8 with kernel 3/);
    expect(() => planLayers(input, [{ type: "dense", units: 2 }])).toThrow(/layer 0 \(dense\): its input is 2x8x8; put a flatten layer before it/);
    expect(() => planLayers(input, [{ type: "maxpool", size: 3 }])).toThrow(/size 3 does not divide 8x8/);
  });

  for (const name of ["wasm", "js"] as const) {
    it(`${name}: VJP and JVP match central differences and are adjoint; repeated VJPs at one point agree`, async () => {
      const be = await createBackend(name);
      const n = 3;
      const { plan, ws, theta, x, scratch, outputs, f, rng } = setup(be, n);
      const t0 = be.download(theta);
      const c = rng.normals(outputs), d = rng.normals(plan.size);
      f(t0);
      const grad = be.alloc(plan.size), jv = be.alloc(outputs);
      const g1 = be.download(sequentialBackward(ws, theta, x, be.upload(be.alloc(outputs), c), grad, scratch));
      const g2 = be.download(sequentialBackward(ws, theta, x, be.upload(be.alloc(outputs), c), grad, scratch));
      expect(Array.from(g2)).toEqual(Array.from(g1));
      const j = be.download(sequentialJvp(ws, theta, x, be.upload(be.alloc(plan.size), d), jv, scratch));
      // the point held (a linearization): layers with few rows pack their patch rows once; same bits
      ws.hold();
      const packed = plan.layers.flatMap((l, i) => (l.rows > 0 && l.rows < 32 ? [i] : []));
      expect(packed.length).toBeGreaterThan(0);
      for (const i of packed) expect(ws.state[i].colsA && ws.state[i].colsB).toBeTruthy();
      expect(Array.from(be.download(sequentialBackward(ws, theta, x, be.upload(be.alloc(outputs), c), grad, scratch)))).toEqual(Array.from(g1));
      expect(Array.from(be.download(sequentialJvp(ws, theta, x, be.upload(be.alloc(plan.size), d), jv, scratch)))).toEqual(Array.from(j));
      // the next forward releases them
      sequentialForward(ws, theta, x);
      for (const i of packed) expect(ws.state[i].colsA).toBeUndefined();
      // adjointness <J d, c> = <d, J^T c>
      let lhs = 0, rhs = 0;
      for (let i = 0; i < outputs; i++) lhs += j[i] * c[i];
      for (let i = 0; i < plan.size; i++) rhs += d[i] * g1[i];
      expect(Math.abs(lhs - rhs)).toBeLessThan(1e-10 * (1 + Math.abs(lhs)));
      // central differences: the gradient of <f, c> entry by entry, and J d along d
      const h = 1e-6;
      const dot = (y: Float64Array) => y.reduce((s, v, i) => s + v * c[i], 0);
      let worst = 0;
      for (let i = 0; i < plan.size; i += 3) {
        const a = t0.slice(), b = t0.slice();
        a[i] += h; b[i] -= h;
        worst = Math.max(worst, Math.abs((dot(f(a)) - dot(f(b))) / (2 * h) - g1[i]));
      }
      expect(worst).toBeLessThan(1e-6);
      const fa = f(t0.map((v, i) => v + h * d[i])), fb = f(t0.map((v, i) => v - h * d[i]));
      for (let i = 0; i < outputs; i++) expect(Math.abs((fa[i] - fb[i]) / (2 * h) - j[i])).toBeLessThan(1e-6 * (1 + Math.abs(j[i])));
      ws.dispose();
    });
  }

  it("wasm and js agree on forward, VJP and JVP to 1e-12", async () => {
    const res = await Promise.all((["wasm", "js"] as const).map(async (name) => {
      const be = await createBackend(name);
      const { plan, ws, theta, x, scratch, outputs, rng } = setup(be, 2);
      const y = be.download(sequentialForward(ws, theta, x));
      const c = rng.normals(outputs), d = rng.normals(plan.size);
      const g = be.download(sequentialBackward(ws, theta, x, be.upload(be.alloc(outputs), c), be.alloc(plan.size), scratch));
      const j = be.download(sequentialJvp(ws, theta, x, be.upload(be.alloc(plan.size), d), be.alloc(outputs), scratch));
      return [y, g, j];
    }));
    for (let k = 0; k < 3; k++) {
      const [a, b] = [res[0][k], res[1][k]];
      let num = 0, den = 0;
      for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += a[i] ** 2; }
      expect(Math.sqrt(num / den)).toBeLessThan(1e-12);
    }
  });
});

describe("layerwise purification (method a)", () => {
  it("a two-conv-layer CNN with a frozen first layer (fine-tuning the top) is recovered exactly for rho <= 0.2", async () => {
    const { initSequential, train, purify } = await import("../src/index.js");
    const { sparseOutliers } = await import("../src/contaminate.js");
    const model = {
      input: { C: 1, H: 8, W: 8 },
      layers: [
        { type: "conv", filters: 8, kernel: 3, padding: 1 }, { type: "relu" },
        { type: "conv", filters: 6, kernel: 4, stride: 4 }, { type: "relu" }, { type: "flatten" }, { type: "dense", units: 2 },
      ] as LayerSpec[],
    };
    const n = 4, x = new Rng(5).normals(n * 64), labels = [0, 1, 1, 0];
    const init = initSequential(model, 1);
    const frozen = [0, 5];
    const data = { samples: n, values: x };
    const clean = (await train(model, init, data, labels, { epochs: 300, lr: 0.1, frozen })).params;
    // stored in f32, the model's init is rounded as well
    const init32 = Float64Array.from(init, Math.fround);
    const layerwise = (c: Float64Array, o: { precision?: "f32" } = {}) => purify(c, { model, init: o.precision ? init32 : init, data, frozen, subspace: "layerwise", ...o });
    const plan = planLayers(model.input, model.layers);
    const l2 = plan.layers[2];
    let moved = 0, size = 0;
    for (let q = l2.offset; q < l2.offset + l2.rows * l2.rowLength; q++) { moved += (clean[q] - init[q]) ** 2; size += init[q] ** 2; }
    expect(Math.sqrt(moved / size)).toBeGreaterThan(0.05); // training moved the top conv layer
    for (const rho of [0.05, 0.1, 0.2]) {
      const c = sparseOutliers(clean, { rho, seed: 7 }).params;
      const { params, report: { layers = [] } } = await layerwise(c);
      let num = 0, den = 0;
      for (let q = 0; q < params.length; q++) { num += (params[q] - clean[q]) ** 2; den += clean[q] ** 2; }
      expect(Math.sqrt(num / den), `rho ${rho}`).toBeLessThan(1e-9);
      expect(layers.map((r) => [r.layer, r.frozen, r.spanDim])).toEqual([[0, true, 0], [2, false, 16], [5, true, 0]]);
      // the trained layer's report: certified exact, and it found the contaminated entries of that layer
      const l2r = layers[1];
      expect(l2r.recovered).toBe(true);
      let truth = 0;
      for (let q = l2.offset; q < l2.offset + l2.rows * l2.rowLength; q++) if (c[q] !== clean[q]) truth++;
      expect(l2r.estimatedContaminated).toBe(truth);
    }
    // exponent bit flips (1e38) and NaN in the trained layer are erasures, as in purify(): restored exactly
    const c = sparseOutliers(clean, { rho: 0.05, seed: 9 }).params;
    c[l2.offset + 3] = 1e38; c[l2.offset + 40] = -3e37; c[l2.offset + 77] = NaN;
    const { params } = await layerwise(c);
    let num = 0, den = 0;
    for (let q = 0; q < params.length; q++) { num += (params[q] - clean[q]) ** 2; den += clean[q] ** 2; }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-9);
    // stored in f32 (init and model rounded): the rows fit to f32's rounding, and only the changed
    // entries are flagged, never the rounding of the others (purify()'s rule, shared)
    const c32 = Float64Array.from(sparseOutliers(clean, { rho: 0.1, seed: 11 }).params, Math.fround);
    const r32 = (await layerwise(c32, { precision: "f32" })).report;
    let changed = 0;
    for (let q = l2.offset; q < l2.offset + l2.rows * l2.rowLength; q++) if (c32[q] !== Math.fround(clean[q])) changed++;
    expect(r32.layers![1].recovered).toBe(true);
    expect(r32.layers![1].estimatedContaminated).toBe(changed);
  });
});

describe("global linearized span (method b)", () => {
  it("the NTK formed by VJP/JVP pairs equals J J^T from an explicit Jacobian; a lazily trained model is recovered in its span", async () => {
    const { SequentialLinearizedOperator } = await import("../src/deep/linearized.js");
    const { initSequential, train } = await import("../src/index.js");
    const { solveBatch } = await import("../src/recover/solve.js");
    const { materialize } = await import("../src/recover/operator.js");
    const { sparseOutliers } = await import("../src/contaminate.js");
    const be = await createBackend("wasm");
    const model = { input: { C: 1, H: 6, W: 6 }, layers: [
      { type: "conv", filters: 3, kernel: 3 }, { type: "relu" }, { type: "conv", filters: 4, kernel: 2, stride: 2 }, { type: "relu" },
      { type: "flatten" }, { type: "dense", units: 2 },
    ] as LayerSpec[] };
    const plan = planLayers(model.input, model.layers);
    const n = 3, x = new Rng(8).normals(n * 36);
    const init = initSequential(model, 2);
    const op = new SequentialLinearizedOperator(be, plan, x, n, init);
    const m = op.cols, P = op.rows;
    const A = materialize(op); // P x m, column j = VJP(e_j): the explicit reference
    const g = be.alloc(m * m);
    op.gram(g);
    const G = be.download(g);
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
      let s = 0;
      for (let q = 0; q < P; q++) s += A[q * m + i] * A[q * m + j];
      expect(Math.abs(G[i * m + j] - s)).toBeLessThan(1e-10 * (1 + Math.abs(s)));
    }
    // the union with a second linearization point: its block Gram (cached NTK, cross products) = A^T A
    const { ConcatOperator } = await import("../src/recover/operator.js");
    const op1 = new SequentialLinearizedOperator(be, plan, x, n, init.map((v, i) => v + 0.1 * Math.sin(i)));
    const both = new ConcatOperator(be, [op, op1]);
    const B = materialize(both), mb = both.cols;
    const gb = be.alloc(mb * mb);
    both.gram(gb);
    const GB = be.download(gb);
    for (let i = 0; i < mb; i++) for (let j = 0; j < mb; j++) {
      let s2 = 0;
      for (let q = 0; q < P; q++) s2 += B[q * mb + i] * B[q * mb + j];
      expect(Math.abs(GB[i * mb + j] - s2)).toBeLessThan(1e-10 * (1 + Math.abs(s2)));
    }
    op1.dispose();
    // tiny steps keep the Jacobian nearly fixed: the update is (almost) in the span at init
    const clean = (await train(model, init, { samples: n, values: x }, [0, 1, 1], { epochs: 5, lr: 1e-4 })).params;
    const c = sparseOutliers(clean, { rho: 0.1, seed: 3 }).params;
    const r = c.map((v, i) => v - init[i]);
    const sol = await solveBatch(op, r, 1, { solver: "admm" });
    let num = 0, den = 0, before = 0;
    for (let q = 0; q < P; q++) { num += (init[q] + sol.fitted[q] - clean[q]) ** 2; den += (clean[q] - init[q]) ** 2; before += (c[q] - clean[q]) ** 2; }
    expect(Math.sqrt(num / den)).toBeLessThan(1e-3);
    expect(Math.sqrt(before / den)).toBeGreaterThan(10);
    op.dispose();
  });
});

describe("the memory estimate", () => {
  const cases: Array<[string, { C: number; H: number; W: number }, LayerSpec[], number]> = [
    ["the deep experiment's network", { C: 1, H: 28, W: 28 }, [
      { type: "conv", filters: 16, kernel: 4, stride: 2 }, { type: "relu" }, { type: "conv", filters: 32, kernel: 3, stride: 2 }, { type: "relu" },
      { type: "flatten" }, { type: "dense", units: 10 }], 40],
    ["LeNet-5", { C: 1, H: 28, W: 28 }, [
      { type: "conv", filters: 6, kernel: 5, padding: 2 }, { type: "relu" }, { type: "maxpool", size: 2 }, { type: "conv", filters: 16, kernel: 5 }, { type: "relu" },
      { type: "maxpool", size: 2 }, { type: "flatten" }, { type: "dense", units: 120 }, { type: "relu" }, { type: "dense", units: 84 }, { type: "relu" },
      { type: "dense", units: 10 }], 20],
    ["a BatchNorm CNN", { C: 1, H: 28, W: 28 }, [
      { type: "conv", filters: 8, kernel: 7, stride: 7, bias: false }, { type: "batchnorm" }, { type: "relu" }, { type: "flatten" }, { type: "dense", units: 10 }], 40],
  ];
  for (const [name, input, layers, n] of cases) {
    it(`bounds the peak WebAssembly memory of layerwise, linearized and re-linearized purification: ${name}`, async () => {
      const { createPurifier } = await import("../src/recover/purify.js");
      const { initSequential } = await import("../src/deep/train.js");
      const { memoryEstimate } = await import("../src/recover/memory.js");
      const x = new Rng(1).normals(n * 784);
      const init = initSequential({ input, layers }, 1);
      // a change that no span holds exactly, so polishing and the second linearization both run
      const c = init.map((v, i) => v + 0.01 * Math.sin(i) + (i % 97 === 0 ? 1 : 0));
      for (const method of ["layerwise", "linearized", "relinearized"] as const) {
        const be = await createBackend("wasm");
        be.resetPeak();
        const before = be.peakBytes();
        const purifier = await createPurifier({ model: { input, layers }, init, data: { samples: n, values: x }, subspace: method, backend: be, admm: { maxIter: 30 } });
        await purifier.purify(c);
        purifier.dispose();
        const estimate = memoryEstimate({ input, layers }, n, method);
        expect(be.peakBytes() - before, method).toBeLessThanOrEqual(estimate);
        expect(be.peakBytes() - before, method).toBeGreaterThan(estimate / 4);
      }
    }, 120_000);
  }
});

describe("cnn-purify deep", () => {
  it("a tiny run: every span per scenario (layerwise too), the JSON of mnist --network multi-layer, the figures", async () => {
    const { main } = await import("../src/cli/run.js");
    const { existsSync, mkdtempSync, readFileSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const dir = mkdtempSync(join(tmpdir(), "cnnp-deep-"));
    let out = "";
    try {
    expect(await main(["deep", "--quick", "--samples", "12", "--epochs", "2", "--test", "200", "--out", dir, "--json"], (s) => { out += s; })).toBe(0);
    const r = JSON.parse(out);
    expect(r.network).toBe("multi-layer");
    const names = r.regimes[0].scenarios.map((s: { name: string; span: string }) => `${s.name}/${s.span}`);
    expect(names).toContain("outliers/layerwise");
    expect(names).toContain("outliers/linearized");
    expect(names).toContain("backdoor-sparse/linearized");
    for (const k of ["n", "K", "params", "ratio", "accClean", "flipRate", "spanResidual", "layerSpans", "scenarios"]) expect(r.regimes[0]).toHaveProperty(k);
    expect(r.regimes[0].flipRate).toBeGreaterThan(0);
    expect(names).toContain("outliers/relinearized");
    // the linearized methods hold the n O x n O NTK (n = 12, O = 10), so their peak memory is at least that;
    // accuracies are counts over the 200 test images
    const nO = 12 * 10;
    for (const sc of r.regimes[0].scenarios) {
      if (sc.span !== "layerwise") expect(sc.peakBytes).toBeGreaterThanOrEqual(8 * nO * nO);
      expect(sc.peakBytes).toBeGreaterThan(0);
      expect(sc.unexplained).toBeGreaterThanOrEqual(0);
      for (const k of ["accPurified", "accContaminated"]) expect(Math.abs(sc[k] * 200 - Math.round(sc[k] * 200))).toBeLessThan(1e-9);
    }
    for (const f of ["deep-mnist.json", "deep-mnist-n12-K16-accuracy.svg"]) expect(readFileSync(join(dir, f), "utf8")).toMatch(/^[<{]/);
    // one defender share only: no curve of attack success against it
    expect(existsSync(join(dir, "deep-mnist-n12-K16-backdoor.svg"))).toBe(false);
    // `mnist --network multi-layer` is the same experiment
    let same = "";
    expect(await main(["mnist", "--network", "multi-layer", "--quick", "--regimes", "12:16:2", "--test", "200", "--json"], (s) => { same += s; })).toBe(0);
    const strip = (x: { seconds: number; regimes: Array<{ trainSeconds: number; spanSeconds: number; scenarios: Array<{ seconds: number; peakBytes: number }> }> }) =>
      x.regimes.map((g) => g.scenarios.map((sc) => ({ ...sc, seconds: 0, peakBytes: 0 })));
    expect(strip(JSON.parse(same))).toEqual(strip(r));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe("the one Purifier on a sequential model", () => {
  it("layerwise: the frozen-first-layer CNN recovered exactly, certified, every contaminated entry named (the trained layer's by its fit, a frozen layer's as any change from init)", async () => {
    const { createPurifier } = await import("../src/recover/purify.js");
    const { frozenFirstLayerCnn } = await import("./helpers.js");
    const { model, n, x, init, clean, frozen } = await frozenFirstLayerCnn();
    const l2 = planLayers(model.input, model.layers).layers[2];
    const c = clean.slice(), hit = [5, l2.offset + 3, l2.offset + 40, l2.offset + 77];
    for (const q of hit) c[q] += 1;
    const p = await createPurifier({ model, init, data: { samples: n, values: x }, frozen, backend: "wasm" });
    const { params, report } = await p.purify(c, { clean });
    p.dispose();
    expect(report.subspace).toBe("layerwise");
    expect(Math.max(...params.map((v, q) => Math.abs(v - clean[q])))).toBeLessThan(1e-9);
    expect(report.recovered).toBe(true);
    expect(Array.from(report.estimatedContaminated)).toEqual(hit);
    expect(report.layers!.map((l) => [l.layer, l.frozen, l.recovered])).toEqual([[0, true, false], [2, false, true], [5, true, false]]);
    expect(report.recall).toBe(1);
  });

  it("layerwise: a gross value (an exponent flip's 1e20) is an erasure by the rule every span uses (the caller's grossFactor), else located by the fit", async () => {
    const { purify } = await import("../src/recover/purify.js");
    const { frozenFirstLayerCnn } = await import("./helpers.js");
    const { model, n, x, init, clean, frozen } = await frozenFirstLayerCnn();
    const l2 = planLayers(model.input, model.layers).layers[2], at = l2.offset + 40;
    const c = clean.slice();
    c[at] = 1e20;
    const opts = { model, init, data: { samples: n, values: x }, frozen, subspace: "layerwise" as const, backend: "wasm" };
    const erased = await purify(c, opts);
    expect(Array.from(erased.report.grossOutliers)).toEqual([at]);
    expect(Math.max(...erased.params.map((v, q) => Math.abs(v - clean[q])))).toBeLessThan(1e-9);
    expect(erased.report.recovered).toBe(true);
    // a factor above the change: not erased, located by the fit instead (its residual), still exact
    const kept = await purify(c, { ...opts, grossFactor: 1e40 });
    expect(Array.from(kept.report.grossOutliers)).toEqual([]);
    expect(Array.from(kept.report.estimatedContaminated)).toEqual([at]);
    expect(Math.abs(kept.params[at] - clean[at])).toBeLessThan(1e-9);
    // the unit of "gross" is the typical change of the entries that changed: a model most of whose
    // entries never moved (frozen layers) once had a rounding error as that unit, so real updates were erased
    const { splitErasures } = await import("../src/recover/purify.js");
    // (PyTorch's fine-tuning fixture: 49.7% unchanged, f32 rounding-level changes, the median 6e-8)
    const fineTuned = new Float64Array(1000), start = new Float64Array(1000);
    for (let i = 450; i < 550; i++) fineTuned[i] = 6e-8;
    for (let i = 550; i < 1000; i++) fineTuned[i] = 0.1 * (1 + Math.abs(Math.sin(i)));
    fineTuned[700] = 1e20;
    expect(splitErasures(fineTuned, start).gross).toEqual([700]);
  });

  it("linearized: an f32-stored model trained with its conv layers frozen is certified at its own precision (not at f64's), the outliers named", async () => {
    const { createPurifier } = await import("../src/recover/purify.js");
    const { initSequential, train } = await import("../src/index.js");
    const model = { input: { C: 1, H: 8, W: 8 }, layers: [
      { type: "conv", filters: 8, kernel: 3, padding: 1 }, { type: "relu" },
      { type: "conv", filters: 6, kernel: 4, stride: 4 }, { type: "relu" }, { type: "flatten" }, { type: "dense", units: 2 },
    ] as LayerSpec[] };
    const n = 4, x = new Rng(5).normals(n * 64), frozen = [0, 2];
    // the dense layer's update lies in the linearized span of its own rows at init (its inputs never changed)
    const init = initSequential(model, 1).map(Math.fround);
    const clean = (await train(model, init, { samples: n, values: x }, [0, 1, 1, 0], { epochs: 100, lr: 0.1, frozen })).params.map(Math.fround);
    const dense = planLayers(model.input, model.layers).layers[5];
    const c = clean.slice(), hit = [dense.offset + 2, dense.offset + 30];
    for (const q of hit) c[q] = Math.fround(c[q] + 1);
    const run = async (precision: "f32" | "f64") => {
      const p = await createPurifier({ model, init, data: { samples: n, values: x }, frozen, subspace: "linearized", precision, backend: "wasm" });
      try { return await p.purify(c); } finally { p.dispose(); }
    };
    const f32 = await run("f32"), f64 = await run("f64");
    expect(f32.report.recovered).toBe(true);
    expect(f64.report.recovered).toBe(false);
    expect(Array.from(f32.report.estimatedContaminated)).toEqual(hit);
    const scale = Math.max(...clean.map(Math.abs));
    expect(Math.max(...f32.params.map((v, q) => Math.abs(v - clean[q])))).toBeLessThan(1e-6 * scale);
    for (const l of [0, 2]) { const L = planLayers(model.input, model.layers).layers[l]; for (let q = L.offset; q < L.offset + L.params; q++) expect(f32.params[q]).toBe(init[q]); }
  });
});
