// Global sum over positions: C x H x W -> C x 1 x 1 (the one-hidden-layer CNN's "sum" readout is
// conv -> relu -> sum -> flatten -> a bias-free dense layer). No parameters.
import type { LayerKind } from "./layer.js";

export const sum: LayerKind<{ type: "sum" }> = {
  shape: (_spec, d) => ({ output: { C: d.C, H: 1, W: 1 } }),
  forward(p, _theta, input, out) {
    const { C, H, W } = p.l.input;
    p.be.sumBlocks(out, input, p.n * C, H * W, 1);
  },
  backward(p, _theta, _input, g, gx) {
    const { C, H, W } = p.l.input;
    if (gx) p.be.broadcastBlocks(gx, g, p.n * C, H * W, 1);
  },
  jvp(p, _theta, _dtheta, _input, t, out) {
    const { C, H, W } = p.l.input;
    if (t) p.be.sumBlocks(out, t, p.n * C, H * W, 1);
    else p.be.fill(out, 0);
  },
};
