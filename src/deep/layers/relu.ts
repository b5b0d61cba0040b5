// ReLU: no parameters; its VJP and JVP mask by the sign of the forward's input.
import type { LayerKind } from "./layer.js";

export const relu: LayerKind<{ type: "relu" }> = {
  shape: (_spec, input) => ({ output: input }),
  forward: (p, _theta, input, out) => { p.be.relu(out, input); },
  backward: (p, _theta, input, g, gx) => { if (gx) p.be.reluBackward(gx, g, input); },
  jvp: (p, _theta, _dtheta, input, t, out) => { if (t) p.be.reluBackward(out, t, input); else p.be.fill(out, 0); },
};
