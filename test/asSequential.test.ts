// The one-hidden-layer CNN expressed as a sequential model (conv with stride = kernel, rectangular
// patches, relu, [sum], flatten, bias-free dense) computes what the one-hidden-layer code computes:
// outputs, parameter gradients, JVPs and the NTK, each against src/model/network.ts (written
// separately, with its own closed forms; the one-hidden-layer linearized operator is now the plan's).
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import { SequentialLinearizedOperator } from "../src/deep/linearized.js";
import { SequentialWorkspace, planLayers, scratchSizes, sequentialBackward, sequentialForward, sequentialJvp } from "../src/deep/sequential.js";
import { oneHiddenAsSequential } from "../src/model/asSequential.js";
import { patchesFromImages, uploadAugmented } from "../src/model/data.js";
import { Workspace, backward, forward, jvp } from "../src/model/network.js";
import type { ImageShape, ModelShape, Readout } from "../src/model/shape.js";
import { layoutOf, patchGeometry } from "../src/model/shape.js";
import { randn, relDiff } from "./helpers.js";

// 8 x 12 images of 2 channels cut into 4 x 3 patches: k = 2 x 4 = 8 positions, p = 24
const image: ImageShape = { channels: 2, height: 8, width: 12, patchHeight: 4, patchWidth: 3 };
const n = 5;
const x = randn(n * 2 * 8 * 12, 1);

for (const readout of ["dense", "sum"] as Readout[]) {
  describe(`one-hidden-layer (${readout} readout) as a sequential model`, () => {
    const { patchDim, patches } = patchGeometry(image);
    const shape: ModelShape = { patchDim, patches, filters: 3, outputs: 4, readout };
    const map = oneHiddenAsSequential(shape, image);
    const plan = planLayers(map.model.input, map.model.layers);
    const theta = randn(layoutOf(shape).size, 2), theta1 = theta.map((v, i) => v + 0.1 * Math.cos(i));

    it("maps parameters both ways (a permutation plus the dense layer's zero biases)", () => {
      const s = map.toSequential(theta);
      expect(s.length).toBe(plan.size);
      expect(Array.from(map.fromSequential(s))).toEqual(Array.from(theta));
      expect(s.filter((v) => v === 0).length).toBe(shape.outputs);
    });

    for (const name of ["wasm", "js"]) {
      it(`${name}: outputs, gradients (VJP) and JVPs equal the one-hidden-layer code's to 1e-12`, async () => {
        const be = await createBackend(name);
        const data = patchesFromImages(be, x, n, image), xa = uploadAugmented(be, data);
        const ows = new Workspace(be, shape, n), tb = be.upload(be.alloc(theta.length), theta);
        const ours = be.download(forward(ows, tb, xa));
        const sws = new SequentialWorkspace(be, plan, n), st = be.upload(be.alloc(plan.size), map.toSequential(theta)), xb = be.upload(be.alloc(x.length), x);
        expect(relDiff(be.download(sequentialForward(sws, st, xb)), ours)).toBeLessThan(1e-12);
        const dy = randn(n * shape.outputs, 3), scratch = scratchSizes(plan, n).map((len) => be.alloc(len));
        be.upload(ows.dy, dy);
        const g1 = be.download(backward(ows, tb, xa));
        const g2 = be.download(sequentialBackward(sws, st, xb, be.upload(be.alloc(dy.length), dy), be.alloc(plan.size), scratch));
        expect(relDiff(map.fromSequential(g2), g1)).toBeLessThan(1e-12);
        const dt = randn(theta.length, 4);
        const j1 = be.download(jvp(ows, tb, xa, be.upload(be.alloc(dt.length), dt), be.alloc(n * shape.outputs)));
        const j2 = be.download(sequentialJvp(sws, st, xb, be.upload(be.alloc(plan.size), map.toSequential(dt)), be.alloc(n * shape.outputs), scratch));
        expect(relDiff(j2, j1)).toBeLessThan(1e-12);
      });

      it(`${name}: the structured NTK of the plan equals J J^T built from the one-hidden-layer code's VJP + JVP pairs, at one point and across two`, async () => {
        const be = await createBackend(name);
        const data = patchesFromImages(be, x, n, image), xa = uploadAugmented(be, data);
        const m = n * shape.outputs, P = theta.length;
        /** J_a J_b^T column by column: column c = JVP_a(VJP_b(e_c)), both from src/model/network.ts. */
        const pairs = (ta: Float64Array, tb: Float64Array) => {
          const wa = new Workspace(be, shape, n), wb = new Workspace(be, shape, n);
          const ba = be.upload(be.alloc(P), ta), bb = be.upload(be.alloc(P), tb);
          forward(wa, ba, xa); forward(wb, bb, xa);
          const out = new Float64Array(m * m), col = be.alloc(m);
          for (let c = 0; c < m; c++) {
            const e = new Float64Array(m); e[c] = 1;
            be.upload(wb.dy, e);
            const g = backward(wb, bb, xa);
            const v = be.download(jvp(wa, ba, xa, g, col));
            for (let r = 0; r < m; r++) out[r * m + c] = v[r];
          }
          return out;
        };
        const b0 = new SequentialLinearizedOperator(be, plan, x, n, map.toSequential(theta)), b1 = new SequentialLinearizedOperator(be, plan, x, n, map.toSequential(theta1));
        const h = be.alloc(m * m);
        b0.gram(h);
        expect(relDiff(be.download(h), pairs(theta, theta))).toBeLessThan(1e-10);
        b0.crossWeightedGram(b1, null, h);
        expect(relDiff(be.download(h), pairs(theta, theta1))).toBeLessThan(1e-10);
        b0.dispose(); b1.dispose();
      });
    }
  });
}
