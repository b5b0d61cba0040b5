// Max and average pooling, size x size windows with stride size: no parameters. Max pooling keeps
// each maximum's index (argmax) for its VJP (scatter) and JVP (gather).
import { ShapeError, checkInt } from "../../errors.js";
import type { Dims, LayerKind } from "./layer.js";
import { volume } from "./layer.js";

export type PoolSpec = { type: "maxpool"; size: number } | { type: "avgpool"; size: number };

function shape(spec: PoolSpec, d: Dims, where: string) {
  checkInt(where, "size", spec.size);
  if (d.H % spec.size !== 0 || d.W % spec.size !== 0) throw new ShapeError(`${where}: size ${spec.size} does not divide ${d.H}x${d.W}`);
  return { output: { C: d.C, H: d.H / spec.size, W: d.W / spec.size } };
}

export const maxpool: LayerKind<Extract<PoolSpec, { type: "maxpool" }>> = {
  shape,
  buffers: (l, n, alloc) => ({ argmax: alloc(n * volume(l.output)) }),
  forward(p, _theta, input, out) {
    const { C, H, W } = p.l.input;
    p.be.maxPool(out, p.state.argmax!, input, p.n * C, H, W, p.l.spec.size);
  },
  backward: (p, _theta, _input, g, gx) => { if (gx) p.be.scatterAdd(gx, g, p.state.argmax!); },
  jvp: (p, _theta, _dtheta, _input, t, out) => { if (t) p.be.gather(out, t, p.state.argmax!); else p.be.fill(out, 0); },
};

export const avgpool: LayerKind<Extract<PoolSpec, { type: "avgpool" }>> = {
  shape,
  forward(p, _theta, input, out) {
    const { C, H, W } = p.l.input;
    p.be.avgPool(out, input, p.n * C, H, W, p.l.spec.size);
  },
  backward(p, _theta, _input, g, gx) {
    const { C, H, W } = p.l.input;
    if (gx) p.be.avgPoolBackward(gx, g, p.n * C, H, W, p.l.spec.size);
  },
  jvp(p, _theta, _dtheta, _input, t, out) {
    const { C, H, W } = p.l.input;
    if (t) p.be.avgPool(out, t, p.n * C, H, W, p.l.spec.size);
    else p.be.fill(out, 0);
  },
};
