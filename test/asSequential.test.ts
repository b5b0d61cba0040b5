// The one-hidden-layer CNN as a sequential plan (one model family): the parameter map, outputs
// against the model's definition in plain loops (test/helpers.ts naiveOutputs), the same network
// written as PyTorch writes it (a conv with kernel = stride = patch over the images) giving the
// same outputs, and the plan's structured NTK (frozen readout too) against VJP/JVP pairs.
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import { SequentialLinearizedOperator } from "../src/deep/linearized.js";
import { reluFlipRate } from "../src/deep/patterns.js";
import type { LayerNtkChoice } from "../src/deep/ntk.js";
import { ntkBetween, ntkChoices, ntkFactors, ntkWeightedBetween } from "../src/deep/ntk.js";
import { SequentialWorkspace, planLayers, scratchSizes, sequentialForward } from "../src/deep/sequential.js";
import { oneHiddenAsSequential } from "../src/model/asSequential.js";
import { patchesFromImages } from "../src/model/data.js";
import type { ImageShape, ModelShape, Readout } from "../src/model/shape.js";
import { layoutOf, patchGeometry } from "../src/model/shape.js";
import { naiveOutputs, randn, relDiff } from "./helpers.js";

// 8 x 12 images of 2 channels cut into 4 x 3 patches: k = 2 x 4 = 8 positions, p = 24
const image: ImageShape = { channels: 2, height: 8, width: 12, patchHeight: 4, patchWidth: 3 };
const n = 5;
const x = randn(n * 2 * 8 * 12, 1);

for (const readout of ["dense", "sum"] as Readout[]) {
  describe(`one-hidden-layer (${readout} readout) as a sequential model`, () => {
    const { patchDim, patches } = patchGeometry(image);
    const shape: ModelShape = { patchDim, patches, filters: 3, outputs: 4, readout };
    const map = oneHiddenAsSequential(shape);
    const plan = map.plan;
    const theta = randn(layoutOf(shape).size, 2), theta1 = theta.map((v, i) => v + 0.1 * Math.cos(i));

    it("the ReLU flip rate on the plan equals the count from the definition (sign of w_j . x_i + b_j per sample, patch, filter)", async () => {
      const be = await createBackend("wasm");
      const data = patchesFromImages(be, x, n, image), K = shape.filters, R = patchDim + 1;
      const on = (t: Float64Array) => Array.from({ length: n * patches * K }, (_, u) => {
        const j = u % K, row = Math.floor(u / K);
        let z = t[j * R + patchDim];
        for (let q = 0; q < patchDim; q++) z += t[j * R + q] * data.values[row * patchDim + q];
        return z > 0;
      });
      const a = on(theta), b = on(theta1), expected = a.filter((v, u) => v !== b[u]).length / a.length;
      expect(expected).toBeGreaterThan(0);
      expect(reluFlipRate(be, plan, data.values, n, map.toSequential(theta), map.toSequential(theta1))).toBe(expected);
    });

    it("maps parameters both ways (a permutation plus the dense layer's zero biases)", () => {
      const s = map.toSequential(theta);
      expect(s.length).toBe(plan.size);
      expect(Array.from(map.fromSequential(s))).toEqual(Array.from(theta));
      expect(s.filter((v) => v === 0).length).toBe(shape.outputs);
      expect(new Set(map.index).size).toBe(theta.length);
    });

    for (const name of ["wasm", "js"]) {
      it(`${name}: outputs equal the definition's, and the image-conv form of the same network (kernel = stride = patch) gives them too`, async () => {
        const be = await createBackend(name);
        const data = patchesFromImages(be, x, n, image);
        const ws = new SequentialWorkspace(be, plan, n), st = be.upload(be.alloc(plan.size), map.toSequential(theta)), xb = be.upload(be.alloc(data.values.length), data.values);
        const ours = be.download(sequentialForward(ws, st, xb));
        expect(relDiff(ours, naiveOutputs(shape, theta, data))).toBeLessThan(1e-13);
        // PyTorch's form: conv over the images; its rows are W~'s rows (channel-major patches), the readout the same
        const patch: [number, number] = [image.patchHeight, image.patchWidth];
        const imagePlan = planLayers({ C: image.channels, H: image.height, W: image.width }, [{ type: "conv", filters: 3, kernel: patch, stride: patch }, ...map.model.layers.slice(1)]);
        expect(imagePlan.size).toBe(plan.size);
        const iws = new SequentialWorkspace(be, imagePlan, n), xi = be.upload(be.alloc(x.length), x);
        expect(relDiff(be.download(sequentialForward(iws, st, xi)), ours)).toBeLessThan(1e-13);
      });

      it(`${name}: the plan's structured NTK equals J J^T from VJP + JVP pairs, at one point, across two, and with the readout frozen`, async () => {
        const be = await createBackend(name);
        const data = patchesFromImages(be, x, n, image);
        const m = n * shape.outputs, h = be.alloc(m * m), ref = be.alloc(m * m);
        for (const frozen of [[], [map.readoutLayer]]) {
          const b0 = new SequentialLinearizedOperator(be, plan, data.values, n, map.toSequential(theta), frozen);
          const b1 = new SequentialLinearizedOperator(be, plan, data.values, n, map.toSequential(theta1), frozen);
          b0.gram(h);
          b0.gramByPairs(b0, null, ref);
          expect(relDiff(be.download(h), be.download(ref))).toBeLessThan(1e-10);
          b0.crossWeightedGram(b1, null, h);
          b0.gramByPairs(b1, null, ref);
          expect(relDiff(be.download(h), be.download(ref))).toBeLessThan(1e-10);
          b0.dispose(); b1.dispose();
        }
        // the conv's signals factor through relu and the readout (never stored); as stored filter-major signals and as explicit blocks the same
        expect(ntkChoices(plan, n).map((c) => `${c.type}:${c.kind}`)).toEqual(["conv:factored", "dense:contraction"]);
        const ws = new SequentialWorkspace(be, plan, n), th = be.upload(be.alloc(plan.size), map.toSequential(theta)), xb = be.upload(be.alloc(data.values.length), data.values);
        const scratch = scratchSizes(plan, n).map((len) => be.alloc(len));
        sequentialForward(ws, th, xb);
        const w = be.upload(be.alloc(plan.size), randn(plan.size, 9).map(Math.abs));
        const as = (kind: LayerNtkChoice["kind"] | null, weighted: boolean) => {
          const f = ntkFactors(ws, th, xb, scratch, ntkChoices(plan, n).map((c) => (kind && c.type === "conv" ? { ...c, kind } : c)));
          const out = be.alloc(m * m);
          if (weighted) ntkWeightedBetween(be, f, f, w, out); else ntkBetween(be, f, f, out);
          f.dispose();
          return be.download(out);
        };
        for (const weighted of [false, true]) {
          const factored = as(null, weighted);
          expect(relDiff(as("filters", weighted), factored)).toBeLessThan(1e-12);
          expect(relDiff(as("explicit", weighted), factored)).toBeLessThan(1e-12);
        }
        // freezing the readout removes its (nonzero) block
        const all = new SequentialLinearizedOperator(be, plan, data.values, n, map.toSequential(theta));
        const lower = new SequentialLinearizedOperator(be, plan, data.values, n, map.toSequential(theta), [map.readoutLayer]);
        all.gram(h); lower.gram(ref);
        expect(relDiff(be.download(ref), be.download(h))).toBeGreaterThan(1e-3);
        all.dispose(); lower.dispose();
      });
    }
  });
}
