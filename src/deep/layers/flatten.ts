// Flatten: C x H x W -> (C H W) x 1 x 1; activations are channels-first, so memory does not move.
import type { LayerKind } from "./layer.js";

export const flatten: LayerKind<{ type: "flatten" }> = {
  shape: (_spec, d) => ({ output: { C: d.C * d.H * d.W, H: 1, W: 1 } }),
  forward: (p, _theta, input, out) => { p.be.copy(out, input); },
  backward: (p, _theta, _input, g, gx) => { if (gx) p.be.copy(gx, g); },
  jvp: (p, _theta, _dtheta, _input, t, out) => { if (t) p.be.copy(out, t); else p.be.fill(out, 0); },
};
