// Multi-layer CNNs (DESIGN.md section 4): a sequential model of conv2d (any kernel, stride, zero
// padding), BatchNorm (src/deep/batchnorm.ts), ReLU, average/max pooling, flatten and dense layers,
// with the forward pass, the parameter gradient (VJP) and the forward-mode product (JVP), all written
// once against the Backend.
//
// Layout: activations are n x C x H x W (row-major, flatten is the identity on memory); the
// parameters are one flat vector, layer after layer, each conv/dense layer a matrix W~ with one row
// per output channel [w_f ; b_f] (w_f channel-major over C x kh x kw, as in the one-hidden-layer
// model), so a layer's update lies in the span of its augmented input patches (the layerwise span).
import type { Backend, Buf, ConvGeometry } from "../backend/types.js";
import { OptionError, ShapeError, checkInt } from "../errors.js";
import type { BatchNormBuffers } from "./batchnorm.js";
import { batchNormBackward, batchNormBuffers, batchNormForward, batchNormJvp } from "./batchnorm.js";

export type LayerSpec =
  | { type: "conv"; filters: number; kernel: number; stride?: number; padding?: number; bias?: boolean }
  | { type: "batchnorm"; eps?: number }
  | { type: "relu" }
  | { type: "avgpool"; size: number }
  | { type: "maxpool"; size: number }
  | { type: "flatten" }
  | { type: "dense"; units: number; bias?: boolean };

export interface Dims { C: number; H: number; W: number }

/** A layer's place in the model: its input/output dims and, for conv/dense, its parameters. */
export interface LayerInfo {
  spec: LayerSpec;
  input: Dims;
  output: Dims;
  /** conv/dense: offset of W~ in theta, rows (output channels), row length (p + 1). */
  offset: number;
  rows: number;
  rowLength: number;
  geometry: ConvGeometry | null;
  /** Parameters at offset (conv/dense: rows x rowLength; batchnorm: gamma and beta). */
  params: number;
  /** Statistics right after the parameters (batchnorm: mean and var), never trained or purified. */
  stats: number;
}

/** Checks a spec and computes every layer's dims and parameter offsets; throws naming the layer. */
export function planLayers(input: Dims, layers: LayerSpec[]): { layers: LayerInfo[]; size: number; output: Dims } {
  for (const k of ["C", "H", "W"] as const) checkInt("sequential", `input.${k}`, input[k]);
  let d = input, offset = 0;
  const out: LayerInfo[] = [];
  layers.forEach((spec, i) => {
    const where = `sequential: layer ${i} (${spec.type})`;
    let o: Dims = d, rows = 0, rowLength = 0, geometry: ConvGeometry | null = null, params = 0, stats = 0;
    if (spec.type === "conv") {
      const s = spec.stride ?? 1, pad = spec.padding ?? 0;
      for (const [k, v] of [["filters", spec.filters], ["kernel", spec.kernel], ["stride", s]] as const) checkInt(where, k, v);
      checkInt(where, "padding", pad, 0);
      if (spec.kernel > d.H + 2 * pad || spec.kernel > d.W + 2 * pad) throw new ShapeError(`${where}: kernel ${spec.kernel} is larger than the padded input ${d.H + 2 * pad}x${d.W + 2 * pad}`);
      if ((d.H + 2 * pad - spec.kernel) % s !== 0 || (d.W + 2 * pad - spec.kernel) % s !== 0) {
        throw new ShapeError(`${where}: stride ${s} does not tile the padded input ${d.H + 2 * pad}x${d.W + 2 * pad} with kernel ${spec.kernel}`);
      }
      geometry = { C: d.C, H: d.H, W: d.W, kh: spec.kernel, kw: spec.kernel, strideH: s, strideW: s, padH: pad, padW: pad };
      o = { C: spec.filters, H: (d.H + 2 * pad - spec.kernel) / s + 1, W: (d.W + 2 * pad - spec.kernel) / s + 1 };
      rows = spec.filters; rowLength = d.C * spec.kernel * spec.kernel + 1;
    } else if (spec.type === "dense") {
      checkInt(where, "units", spec.units);
      if (d.H !== 1 || d.W !== 1) throw new ShapeError(`${where}: its input is ${d.C}x${d.H}x${d.W}; put a flatten layer before it`);
      o = { C: spec.units, H: 1, W: 1 };
      rows = spec.units; rowLength = d.C + 1;
    } else if (spec.type === "batchnorm") {
      const eps = spec.eps ?? 1e-5;
      if (!(eps > 0 && Number.isFinite(eps))) throw new OptionError(`${where}: eps must be a positive number, got ${eps}`);
      params = 2 * d.C; stats = 2 * d.C;
    } else if (spec.type === "avgpool" || spec.type === "maxpool") {
      checkInt(where, "size", spec.size);
      if (d.H % spec.size !== 0 || d.W % spec.size !== 0) throw new ShapeError(`${where}: size ${spec.size} does not divide ${d.H}x${d.W}`);
      o = { C: d.C, H: d.H / spec.size, W: d.W / spec.size };
    } else if (spec.type === "flatten") {
      o = { C: d.C * d.H * d.W, H: 1, W: 1 };
    } else if (spec.type !== "relu") {
      throw new OptionError(`${where}: unknown layer type (known: conv, batchnorm, relu, avgpool, maxpool, flatten, dense)`);
    }
    if (rows) params = rows * rowLength;
    out.push({ spec, input: d, output: o, offset, rows, rowLength, geometry, params, stats });
    offset += params + stats;
    d = o;
  });
  return { layers: out, size: offset, output: d };
}

const volume = (d: Dims) => d.C * d.H * d.W;

type Plan = ReturnType<typeof planLayers>;

/** Whether theta holds statistics (BatchNorm's mean and var) besides parameters. */
export const hasStatistics = (plan: Plan) => plan.layers.some((l) => l.stats > 0);

/** A copy of theta whose statistics entries are taken from `from` (statistics are never purified). */
export function withStatisticsOf(plan: Plan, theta: Float64Array, from: Float64Array): Float64Array {
  const out = theta.slice();
  for (const l of plan.layers) if (l.stats) out.set(from.subarray(l.offset + l.params, l.offset + l.params + l.stats), l.offset + l.params);
  return out;
}

/**
 * theta with every BatchNorm layer's mean and var recomputed over the n inputs x (precise
 * BatchNorm: one forward pass, each layer's statistics from its input at theta's parameters).
 */
export function preciseStatistics(be: Backend, plan: Plan, theta: Float64Array, x: Float64Array, n: number): Float64Array {
  if (!hasStatistics(plan)) return theta;
  const ws = new SequentialWorkspace(be, plan, n);
  const t = be.upload(be.alloc(theta.length), theta), xb = be.upload(be.alloc(x.length), x);
  try {
    sequentialForward(ws, t, xb, true);
    return be.download(t);
  } finally {
    ws.dispose(); be.free(t); be.free(xb);
  }
}

/**
 * Buffers for one batch size n: every layer's output (and for conv/dense its augmented patch rows),
 * plus their tangents (JVP) and cotangents (VJP). Reused across calls; the caller owns theta and x.
 */
export class SequentialWorkspace {
  readonly acts: Buf[] = [];
  readonly cols: Array<Buf | null> = [];
  readonly rowsOut: Array<Buf | null> = [];
  /** maxpool: index (into the layer input, as f64) of each output's maximum. */
  readonly argmax: Array<Buf | null> = [];
  readonly batchNorm: Array<BatchNormBuffers | null> = [];
  private readonly owned: Buf[] = [];

  constructor(readonly be: Backend, readonly plan: ReturnType<typeof planLayers>, readonly n: number) {
    const alloc = (len: number) => { const b = be.alloc(len); this.owned.push(b); return b; };
    for (const l of plan.layers) {
      this.acts.push(alloc(n * volume(l.output)));
      const spatial = n * l.output.H * l.output.W;
      this.cols.push(l.rows ? alloc(spatial * l.rowLength) : null);
      this.rowsOut.push(l.rows ? alloc(spatial * l.rows) : null);
      this.argmax.push(l.spec.type === "maxpool" ? alloc(n * volume(l.output)) : null);
      this.batchNorm.push(l.spec.type === "batchnorm" ? batchNormBuffers(be, l.output.C, alloc) : null);
    }
  }
  dispose(): void { for (const b of this.owned) this.be.free(b); }
}

/** Lengths of the scratch buffers backward/jvp take: [activation, activation, patch rows, conv rows]. */
export function scratchSizes(plan: ReturnType<typeof planLayers>, n: number): number[] {
  let act = n * volume(plan.layers[0]?.input ?? { C: 1, H: 1, W: 1 }), cols = 1, rows = 1;
  for (const l of plan.layers) {
    act = Math.max(act, n * volume(l.output));
    if (l.rows) { cols = Math.max(cols, n * l.output.H * l.output.W * l.rowLength); rows = Math.max(rows, n * l.output.H * l.output.W * l.rows); }
  }
  return [act, act, cols, rows];
}

/** rows (n HW x F, one row per position) <-> channels-first (n x F x HW). */
function rowsToChannels(be: Backend, rows: Buf, out: Buf, n: number, F: number, HW: number): void { be.blockTranspose(out, rows, n, HW, F); }
function channelsToRows(be: Backend, x: Buf, rows: Buf, n: number, F: number, HW: number): void { be.blockTranspose(rows, x, n, F, HW); }

/**
 * Augmented patch rows of a conv/dense layer's input x (n samples); the bias column is 1, or 0 for
 * tangents and for layers without bias (bias: false), whose bias entry then never moves from 0.
 */
function patchRows(be: Backend, l: LayerInfo, x: Buf, n: number, out: Buf, augment: boolean): void {
  augment &&= (l.spec as { bias?: boolean }).bias !== false;
  if (l.geometry) be.im2col(out, l.rowLength, x, n, l.geometry, augment);
  else be.extractPatches(out, l.rowLength, x, n, 1, 1, l.rowLength - 1, 1, l.rowLength - 1, augment); // a dense input: one patch per sample
}

/**
 * Forward pass of n inputs x (n x C x H x W); returns the output buffer (a view into ws).
 * `statistics`: every BatchNorm layer first sets its mean and var in theta from its input over these
 * n samples (precise BatchNorm at theta), then normalizes with them.
 */
export function sequentialForward(ws: SequentialWorkspace, theta: Buf, x: Buf, statistics = false): Buf {
  const be = ws.be, n = ws.n;
  let input = x;
  ws.plan.layers.forEach((l, i) => {
    const out = ws.acts[i];
    const HW = l.output.H * l.output.W;
    if (l.rows) {
      const cols = ws.cols[i]!, rows = ws.rowsOut[i]!;
      patchRows(be, l, input, n, cols, true);
      be.gemm(false, true, n * HW, l.rows, l.rowLength, 1, cols, l.rowLength, be.slice(theta, l.offset, l.rows * l.rowLength), l.rowLength, 0, rows, l.rows);
      rowsToChannels(be, rows, out, n, l.rows, HW);
    } else if (l.spec.type === "batchnorm") {
      batchNormForward(be, l, theta, input, out, n, ws.batchNorm[i]!, statistics);
    } else if (l.spec.type === "relu") {
      be.relu(out, input);
    } else if (l.spec.type === "flatten") {
      be.copy(out, input);
    } else {
      pool(be, l, input, out, n, ws.argmax[i]);
    }
    input = out;
  });
  return input;
}

function pool(be: Backend, l: LayerInfo, input: Buf, out: Buf, n: number, argmax: Buf | null): void {
  const size = (l.spec as { size: number }).size, { C, H, W } = l.input;
  if (argmax) be.maxPool(out, argmax, input, n * C, H, W, size);
  else be.avgPool(out, input, n * C, H, W, size);
}

/**
 * Parameter gradient (VJP): grad (length P) = J^T dy for cotangents dy (n x outputs) at the point of
 * the last sequentialForward on ws (which it leaves intact, so it can be called again at the same
 * point). scratch (see scratchSizes): two activation-sized buffers and one patch-row-sized one.
 * onRows(i, dRows) sees each conv/dense layer's output cotangent in row layout (n HW x rows, valid
 * during the call), and each BatchNorm layer's (n x C x HW): the per-sample signals the structured
 * NTK is built from (src/deep/ntk.ts).
 */
export function sequentialBackward(ws: SequentialWorkspace, theta: Buf, x: Buf, dy: Buf, grad: Buf, scratch: Buf[],
  onRows?: (layer: number, dRows: Buf) => void): Buf {
  const be = ws.be, n = ws.n, layers = ws.plan.layers;
  be.fill(grad, 0);
  let g = scratch[0], next = scratch[1];
  be.copy(be.slice(g, 0, dy.length), dy);
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i], input = i === 0 ? x : ws.acts[i - 1];
    const inLen = n * volume(l.input), outLen = n * volume(l.output), HW = l.output.H * l.output.W;
    const gi = be.slice(g, 0, outLen), gn = be.slice(next, 0, inLen);
    if (l.rows) {
      const rows = ws.rowsOut[i]!, cols = ws.cols[i]!, dcols = be.slice(scratch[2], 0, n * HW * l.rowLength);
      channelsToRows(be, gi, rows, n, l.rows, HW);
      onRows?.(i, rows);
      // dW~ = dRows^T cols; the patch rows' cotangent dCols = dRows W~, then back to the input
      be.gemm(true, false, l.rows, l.rowLength, n * HW, 1, rows, l.rows, cols, l.rowLength, 0, be.slice(grad, l.offset, l.rows * l.rowLength), l.rowLength);
      if (i > 0) {
        be.gemm(false, false, n * HW, l.rowLength, l.rows, 1, rows, l.rows, be.slice(theta, l.offset, l.rows * l.rowLength), l.rowLength, 0, dcols, l.rowLength);
        if (l.geometry) be.col2im(gn, dcols, l.rowLength, n, l.geometry);
        else be.copyRows(gn, l.rowLength - 1, dcols, l.rowLength, n, l.rowLength - 1);
      }
    } else if (l.spec.type === "batchnorm") {
      onRows?.(i, gi);
      batchNormBackward(be, l, theta, input, gi, i > 0 ? gn : null, grad, n, ws.batchNorm[i]!);
    } else if (l.spec.type === "relu") {
      be.reluBackward(gn, gi, input);
    } else if (l.spec.type === "flatten") {
      be.copy(gn, gi);
    } else {
      const am = ws.argmax[i], { C, H, W } = l.input;
      if (am) be.scatterAdd(gn, gi, am);
      else be.avgPoolBackward(gn, gi, n * C, H, W, (l.spec as { size: number }).size);
    }
    if (i > 0) [g, next] = [next, g];
  }
  return grad;
}

/**
 * Forward-mode product: out (n x outputs) = J dtheta at the point of the last sequentialForward.
 * scratch (see scratchSizes): two activation-sized buffers, a patch-row-sized and a rows-sized one.
 */
export function sequentialJvp(ws: SequentialWorkspace, theta: Buf, x: Buf, dtheta: Buf, out: Buf, scratch: Buf[]): Buf {
  const be = ws.be, n = ws.n, layers = ws.plan.layers;
  let t: Buf | null = null; // tangent of the current activation (null: zero, the input's)
  let cur = scratch[0], other = scratch[1];
  const tmpCols = scratch[2];
  layers.forEach((l, i) => {
    const input = i === 0 ? x : ws.acts[i - 1];
    const outLen = n * volume(l.output), HW = l.output.H * l.output.W;
    const to = be.slice(cur, 0, outLen);
    if (l.rows) {
      const W = be.slice(theta, l.offset, l.rows * l.rowLength), dW = be.slice(dtheta, l.offset, l.rows * l.rowLength);
      const rows = be.slice(scratch[3], 0, n * HW * l.rows);
      const cols = be.slice(tmpCols, 0, n * HW * l.rowLength);
      // d(out) = cols(x) dW^T + cols(dx) W^T (bias column of cols(dx) is 0); cols(x) are the forward's
      be.gemm(false, true, n * HW, l.rows, l.rowLength, 1, ws.cols[i]!, l.rowLength, dW, l.rowLength, 0, rows, l.rows);
      if (t) {
        patchRows(be, l, t, n, cols, false);
        be.gemm(false, true, n * HW, l.rows, l.rowLength, 1, cols, l.rowLength, W, l.rowLength, 1, rows, l.rows);
      }
      rowsToChannels(be, rows, to, n, l.rows, HW);
    } else if (l.spec.type === "batchnorm") {
      batchNormJvp(be, l, theta, dtheta, input, t, to, n, ws.batchNorm[i]!);
    } else if (!t) {
      be.fill(to, 0);
    } else if (l.spec.type === "relu") {
      be.reluBackward(to, t, input);
    } else if (l.spec.type === "flatten") {
      be.copy(to, t);
    } else {
      const am = ws.argmax[i], { C, H, W } = l.input;
      if (am) be.gather(to, t, am);
      else be.avgPool(to, t, n * C, H, W, (l.spec as { size: number }).size);
    }
    t = to;
    [cur, other] = [other, cur];
  });
  be.copy(out, t!);
  return out;
}
