// BatchNorm2d in the sequential model (PyTorch's eval form): y = gamma (x - mean) / sqrt(var + eps)
// + beta per channel. gamma and beta are parameters; mean and var are statistics, stored in theta
// right after them (so a file's running_mean / running_var are written back in place) but never
// trained or purified: their gradient is zero, and `statistics` mode recomputes them from the
// layer's input over the inputs given (precise BatchNorm, PyTorch's unbiased running_var).
//
// Layout in theta at the layer's offset: [gamma (C), beta (C), mean (C), var (C)].
import type { Backend, Buf } from "../../backend/types.js";
import { OptionError } from "../../errors.js";
import type { LayerKind, PlannedLayer } from "./layer.js";

export type BatchNormSpec = { type: "batchnorm"; eps?: number };
type LayerInfo = PlannedLayer;

/** Per-channel buffers a BatchNorm layer needs in a workspace (each C long). */
interface BatchNormBuffers { scale: Buf; shift: Buf; a: Buf; b: Buf; zero: Buf }

const epsOf = (l: LayerInfo) => (l.spec as BatchNormSpec).eps ?? 1e-5;

/** Sets mean and var in theta from the layer's input (n x C x HW): sums in WASM, C divisions here. */
function recomputeStatistics(be: Backend, l: LayerInfo, theta: Buf, input: Buf, n: number, bufs: BatchNormBuffers): void {
  const C = l.output.C, HW = l.output.H * l.output.W, m = n * HW;
  be.channelSums(bufs.a, bufs.b, input, input, n, C, HW);
  const sq = be.view(bufs.a), s = be.view(bufs.b), t = be.view(theta);
  for (let c = 0; c < C; c++) {
    const mean = s[c] / m;
    t[l.offset + 2 * C + c] = mean;
    t[l.offset + 3 * C + c] = m > 1 ? Math.max(0, (sq[c] - m * mean * mean) / (m - 1)) : 0;
  }
}

/** out = the layer applied to input; `statistics`: recompute mean and var from this input first. */
function batchNormForward(be: Backend, l: LayerInfo, theta: Buf, input: Buf, out: Buf, n: number, bufs: BatchNormBuffers, statistics: boolean): void {
  const C = l.output.C, HW = l.output.H * l.output.W, eps = epsOf(l);
  if (statistics) recomputeStatistics(be, l, theta, input, n, bufs);
  be.fill(bufs.zero, 0); // the VJP's and JVP's zero shift (C entries; buffers come uninitialized)
  const t = be.view(theta), a = be.view(bufs.scale), b = be.view(bufs.shift);
  for (let c = 0; c < C; c++) {
    a[c] = t[l.offset + c] / Math.sqrt(t[l.offset + 3 * C + c] + eps);
    b[c] = t[l.offset + C + c] - a[c] * t[l.offset + 2 * C + c];
  }
  be.channelAffine(out, input, bufs.scale, bufs.shift, n, C, HW, 0);
}

/**
 * VJP at the point of the last forward: grad's gamma and beta entries from the output cotangent g
 * (n x C x HW), and gx = dL/dinput (when not null). The statistics' entries of grad stay 0.
 */
function batchNormBackward(be: Backend, l: LayerInfo, theta: Buf, input: Buf, g: Buf, gx: Buf | null, grad: Buf, n: number, bufs: BatchNormBuffers): void {
  const C = l.output.C, HW = l.output.H * l.output.W;
  be.channelSums(bufs.a, bufs.b, g, input, n, C, HW);
  const t = be.view(theta), gr = be.view(grad), sgx = be.view(bufs.a), sg = be.view(bufs.b), eps = epsOf(l);
  for (let c = 0; c < C; c++) {
    const mean = t[l.offset + 2 * C + c], sd = Math.sqrt(t[l.offset + 3 * C + c] + eps);
    gr[l.offset + c] = (sgx[c] - mean * sg[c]) / sd;
    gr[l.offset + C + c] = sg[c];
  }
  if (gx) be.channelAffine(gx, g, bufs.scale, bufs.zero, n, C, HW, 0);
}

/** JVP: out = scale .* t (t: the input's tangent, null when zero) + the tangent of gamma and beta. */
function batchNormJvp(be: Backend, l: LayerInfo, theta: Buf, dtheta: Buf, input: Buf, t: Buf | null, out: Buf, n: number, bufs: BatchNormBuffers): void {
  const C = l.output.C, HW = l.output.H * l.output.W, eps = epsOf(l);
  const th = be.view(theta), dt = be.view(dtheta), a = be.view(bufs.a), b = be.view(bufs.b);
  for (let c = 0; c < C; c++) {
    const mean = th[l.offset + 2 * C + c], sd = Math.sqrt(th[l.offset + 3 * C + c] + eps);
    a[c] = dt[l.offset + c] / sd;
    b[c] = dt[l.offset + C + c] - a[c] * mean;
  }
  if (t) be.channelAffine(out, t, bufs.scale, bufs.zero, n, C, HW, 0);
  be.channelAffine(out, input, bufs.a, bufs.b, n, C, HW, t ? 1 : 0);
}

/**
 * One sample's Jacobian row for gamma and beta (out: 2C) from its output cotangent g (C x HW) and
 * input x (C x HW): the structured NTK's explicit block of this layer (src/deep/ntk.ts).
 */
export function batchNormJacobianRow(be: Backend, l: LayerInfo, theta: Buf, x: Buf, g: Buf, out: Buf): void {
  const C = l.output.C, HW = l.output.H * l.output.W, eps = epsOf(l);
  be.channelSums(be.slice(out, 0, C), be.slice(out, C, C), g, x, 1, C, HW);
  const t = be.view(theta), o = be.view(out);
  for (let c = 0; c < C; c++) o[c] = (o[c] - t[l.offset + 2 * C + c] * o[C + c]) / Math.sqrt(t[l.offset + 3 * C + c] + eps);
}

/** Initial values: gamma 1, beta 0, mean 0, var 1 (PyTorch's). */
export function batchNormInit(l: LayerInfo, theta: Float64Array): void {
  const C = l.output.C;
  theta.fill(1, l.offset, l.offset + C);
  theta.fill(0, l.offset + C, l.offset + 3 * C);
  theta.fill(1, l.offset + 3 * C, l.offset + 4 * C);
}

export const batchnorm: LayerKind<BatchNormSpec> = {
  shape(spec, d, where) {
    const eps = spec.eps ?? 1e-5;
    if (!(eps > 0 && Number.isFinite(eps))) throw new OptionError(`${where}: eps must be a positive number, got ${eps}`);
    return { output: d, params: 2 * d.C, stats: 2 * d.C };
  },
  buffers(l, _n, alloc) {
    const C = l.output.C;
    return { scale: alloc(C), shift: alloc(C), a: alloc(C), b: alloc(C), zero: alloc(C) };
  },
  forward: (p, theta, input, out, statistics) => batchNormForward(p.be, p.l, theta, input, out, p.n, p.state as unknown as BatchNormBuffers, statistics),
  backward(p, theta, input, g, gx, grad, _scratch, signals) {
    signals?.(g);
    batchNormBackward(p.be, p.l, theta, input, g, gx, grad, p.n, p.state as unknown as BatchNormBuffers);
  },
  jvp: (p, theta, dtheta, input, t, out) => batchNormJvp(p.be, p.l, theta, dtheta, input, t, out, p.n, p.state as unknown as BatchNormBuffers),
};
