// The structured NTK of sequential models against its definition: one VJP + JVP pair per column
// (gramByPairs), at one point, across two points, with 0/1 weights; each layer both ways (explicit
// blocks and the contraction), on every backend.
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import type { Backend } from "../src/backend/types.js";
import { SequentialLinearizedOperator } from "../src/deep/linearized.js";
import type { LayerNtkChoice } from "../src/deep/ntk.js";
import { ntkBetween, ntkChoices, ntkFactors, ntkWeightedBetween } from "../src/deep/ntk.js";
import type { LayerSpec } from "../src/deep/sequential.js";
import { planLayers, scratchSizes, SequentialWorkspace, sequentialForward } from "../src/deep/sequential.js";
import { initSequential } from "../src/deep/train.js";
import { Rng } from "../src/random.js";

const input = { C: 2, H: 8, W: 8 };
const layers: LayerSpec[] = [
  { type: "conv", filters: 3, kernel: 3, padding: 1 }, { type: "relu" }, { type: "maxpool", size: 2 },
  { type: "conv", filters: 4, kernel: 2, stride: 2 }, { type: "relu" }, { type: "avgpool", size: 2 },
  { type: "flatten" }, { type: "dense", units: 5 }, { type: "relu" }, { type: "dense", units: 3 },
];
const n = 4;
const plan = planLayers(input, layers);
const x = new Rng(1).normals(n * 2 * 64);
const theta0 = initSequential({ input, layers }, 2);
const theta1 = theta0.map((v, i) => v + 0.05 * Math.sin(i));

const relErr = (a: Float64Array, b: Float64Array) => {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
  return Math.sqrt(num / den);
};

function pairs(be: Backend, a: SequentialLinearizedOperator, b: SequentialLinearizedOperator, w: Float64Array | null) {
  const out = be.alloc(a.cols * b.cols);
  a.gramByPairs(b, w ? be.upload(be.alloc(w.length), w) : null, out);
  return be.download(out);
}

describe("structured NTK of a sequential CNN", () => {
  for (const name of ["wasm", "js"]) {
    it(`${name}: J J^T, J_0 J_1^T and J_0 diag(w) J_1^T agree with VJP/JVP pairs to 1e-10`, async () => {
      const be = await createBackend(name);
      const op0 = new SequentialLinearizedOperator(be, plan, x, n, theta0), op1 = new SequentialLinearizedOperator(be, plan, x, n, theta1);
      const m = op0.cols;
      const g = be.alloc(m * m);
      op0.gram(g);
      expect(relErr(be.download(g), pairs(be, op0, op0, null))).toBeLessThan(1e-10);
      op0.crossWeightedGram(op1, null, g);
      expect(relErr(be.download(g), pairs(be, op0, op1, null))).toBeLessThan(1e-10);
      // 0/1 weights on a support of parameters (a polish's rows), some in every layer
      const w = new Float64Array(plan.size);
      for (let j = 0; j < plan.size; j += 7) w[j] = 1;
      op0.crossWeightedGram(op1, be.upload(be.alloc(w.length), w), g);
      expect(relErr(be.download(g), pairs(be, op0, op1, w))).toBeLessThan(1e-10);
      // and weights one but on a few dropped rows (a near-exact fit's polish): the whole NTK minus those
      const most = new Float64Array(plan.size).fill(1);
      for (let j = 3; j < plan.size; j += 11) most[j] = 0;
      most[5] = 0.5;
      // (fewer entries differ from one than from zero: the complement is what runs)
      expect(most.filter((v) => v !== 1).length).toBeLessThan(most.filter((v) => v !== 0).length);
      // and general weights (IRLS's), every column weighted
      const general = Float64Array.from({ length: plan.size }, (_, j) => 0.1 + (j % 5) / 3);
      op0.crossWeightedGram(op1, be.upload(be.alloc(general.length), general), g);
      expect(relErr(be.download(g), pairs(be, op0, op1, general))).toBeLessThan(1e-10);
      op0.crossWeightedGram(op1, be.upload(be.alloc(most.length), most), g);
      expect(relErr(be.download(g), pairs(be, op0, op1, most))).toBeLessThan(1e-10);
      op0.dispose(); op1.dispose();
    });
  }

  it("every layer the other way gives the same NTK: explicit blocks and the contraction agree", async () => {
    const be = await createBackend("wasm");
    const ws = new SequentialWorkspace(be, plan, n);
    const th = be.upload(be.alloc(plan.size), theta0), xb = be.upload(be.alloc(x.length), x);
    const scratch = scratchSizes(plan, n).map((len) => be.alloc(len));
    sequentialForward(ws, th, xb);
    const m = n * plan.output.C;
    const run = (kind: LayerNtkChoice["kind"] | null) => {
      const choices = ntkChoices(plan, n).map((c) => (kind ? { ...c, kind } : c));
      const f = ntkFactors(ws, th, xb, scratch, choices);
      try { return be.download(ntkBetween(be, f, f, be.alloc(m * m))); } finally { f.dispose(); }
    };
    const chosen = run(null), explicit = run("explicit"), contraction = run("contraction"), filters = run("filters");
    expect(relErr(explicit, chosen)).toBeLessThan(1e-12);
    expect(relErr(contraction, chosen)).toBeLessThan(1e-12);
    expect(relErr(filters, chosen)).toBeLessThan(1e-12);
    // weighted, an explicit block a row at a time (the chunking big models need) = all at once
    const w = Float64Array.from({ length: plan.size }, (_, j) => (j % 3 === 0 ? 0 : 0.5 + (j % 7)));
    const weighted = (chunk?: number) => {
      const f = ntkFactors(ws, th, xb, scratch, ntkChoices(plan, n));
      try { return be.download(ntkWeightedBetween(be, f, f, be.upload(be.alloc(w.length), w), be.alloc(m * m), chunk)); } finally { f.dispose(); }
    };
    expect(relErr(weighted(7), weighted())).toBeLessThan(1e-12);
    // and each layer's weighted part the other way: conv contractions gathered, explicit dense blocks scaled
    const weightedAs = (kind: LayerNtkChoice["kind"]) => {
      const f = ntkFactors(ws, th, xb, scratch, ntkChoices(plan, n).map((c) => ({ ...c, kind })));
      try { return be.download(ntkWeightedBetween(be, f, f, be.upload(be.alloc(w.length), w), be.alloc(m * m))); } finally { f.dispose(); }
    };
    expect(relErr(weightedAs("contraction"), weighted())).toBeLessThan(1e-12);
    expect(relErr(weightedAs("explicit"), weighted())).toBeLessThan(1e-12);
    expect(relErr(weightedAs("filters"), weighted())).toBeLessThan(1e-12);
    // the rule: conv layers with many positions explicit, one whose rows are at least twice its
    // positions filter by filter (the same flops, less memory), the dense layers by contraction
    expect(ntkChoices(plan, n).map((c) => `${c.type}:${c.kind}`)).toEqual(["conv:explicit", "conv:filters", "dense:contraction", "dense:contraction"]);
  });
});
