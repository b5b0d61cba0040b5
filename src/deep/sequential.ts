// Multi-layer CNNs (DESIGN.md section 4): a sequential model of the layer kinds in src/deep/layers
// (conv, BatchNorm, ReLU, average/max pooling, flatten, dense; one file each), with the forward
// pass, the parameter gradient (VJP) and the forward-mode product (JVP) walking the plan; every
// kind's passes are written once against the Backend.
//
// Layout: activations are n x C x H x W (row-major, flatten is the identity on memory); the
// parameters are one flat vector, layer after layer, each conv/dense layer a matrix W~ with one row
// per output channel [w_f ; b_f] (w_f channel-major over C x kh x kw, as in the one-hidden-layer
// model), so a layer's update lies in the span of its augmented input patches (the layerwise span).
import type { Backend, Buf } from "../backend/types.js";
import { OptionError, checkInt } from "../errors.js";
import type { Dims, LayerState, PlannedLayer } from "./layers/layer.js";
import { volume } from "./layers/layer.js";
import type { LayerSpec } from "./layers/index.js";
import { LAYER_KINDS, kindOf } from "./layers/index.js";

export type { Dims } from "./layers/layer.js";
export type { LayerSpec } from "./layers/index.js";

/** A layer's place in the model: its input/output dims and, for layers with parameters, where they lie in theta. */
export type LayerInfo = PlannedLayer<LayerSpec>;

/** Checks a spec and computes every layer's dims and parameter offsets; throws naming the layer. */
export function planLayers(input: Dims, layers: LayerSpec[]): { layers: LayerInfo[]; size: number; output: Dims } {
  for (const k of ["C", "H", "W"] as const) checkInt("sequential", `input.${k}`, input[k]);
  let d = input, offset = 0;
  const out: LayerInfo[] = [];
  layers.forEach((spec, i) => {
    const where = `sequential: layer ${i} (${spec.type})`;
    if (!Object.hasOwn(LAYER_KINDS, spec.type)) throw new OptionError(`${where}: unknown layer type (known: ${Object.keys(LAYER_KINDS).join(", ")})`);
    const s = kindOf(spec).shape(spec, d, where);
    const l: LayerInfo = { spec, input: d, output: s.output, offset, rows: s.rows ?? 0, rowLength: s.rowLength ?? 0, geometry: s.geometry ?? null, params: s.params ?? 0, stats: s.stats ?? 0 };
    out.push(l);
    offset += l.params + l.stats;
    d = s.output;
  });
  return { layers: out, size: offset, output: d };
}



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
 * Buffers for one batch size n: every layer's output and the kind's own buffers (patch rows, argmax,
 * per-channel scales). Reused across calls; the caller owns theta and x.
 */
export class SequentialWorkspace {
  readonly acts: Buf[] = [];
  readonly state: LayerState[] = [];
  private readonly owned: Buf[] = [];

  constructor(readonly be: Backend, readonly plan: ReturnType<typeof planLayers>, readonly n: number) {
    const alloc = (len: number) => { const b = be.alloc(len); this.owned.push(b); return b; };
    for (const l of plan.layers) {
      this.acts.push(alloc(n * volume(l.output)));
      this.state.push(kindOf(l.spec).buffers?.(l, n, alloc) ?? {});
    }
  }
  /** A linear layer's augmented patch rows at the last forward (the layerwise span; the NTK's factors). */
  cols(i: number): Buf { return this.state[i].cols!; }

  private held: Array<{ layer: number; key: string; buf: Buf }> = [];
  /** Holds the point of the last forward for many VJPs and JVPs (see LayerKind.hold); the next forward releases it. */
  hold(): void {
    this.release();
    this.plan.layers.forEach((l, i) => {
      const extra = kindOf(l.spec).hold?.({ be: this.be, n: this.n, l, state: this.state[i] }, (len) => this.be.alloc(len)) ?? {};
      for (const [key, buf] of Object.entries(extra)) { this.state[i][key] = buf; this.held.push({ layer: i, key, buf: buf! }); }
    });
  }
  release(): void {
    for (const h of this.held) { delete this.state[h.layer][h.key]; this.be.free(h.buf); }
    this.held = [];
  }
  dispose(): void { this.release(); for (const b of this.owned) this.be.free(b); }
}

/**
 * Entries a workspace of n samples holds (outputs, the kinds' buffers) plus, unless forwardOnly,
 * what hold() adds and the VJP/JVP scratch: for memory estimates.
 */
export function workspaceEntries(plan: ReturnType<typeof planLayers>, n: number, forwardOnly = false): number {
  let total = forwardOnly ? 0 : scratchSizes(plan, n).reduce((a, b) => a + b, 0);
  const count = (len: number) => { total += len; return null as unknown as Buf; };
  for (const l of plan.layers) { total += n * volume(l.output) + (forwardOnly ? 0 : kindOf(l.spec).heldEntries?.(l, n) ?? 0); kindOf(l.spec).buffers?.(l, n, count); }
  return total;
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

/**
 * Forward pass of n inputs x (n x C x H x W); returns the output buffer (a view into ws).
 * `statistics`: every BatchNorm layer first sets its mean and var in theta from its input over these
 * n samples (precise BatchNorm at theta), then normalizes with them.
 */
export function sequentialForward(ws: SequentialWorkspace, theta: Buf, x: Buf, statistics = false): Buf {
  ws.release();
  let input = x;
  ws.plan.layers.forEach((l, i) => {
    kindOf(l.spec).forward({ be: ws.be, n: ws.n, l, state: ws.state[i] }, theta, input, ws.acts[i], statistics);
    input = ws.acts[i];
  });
  return input;
}

/**
 * Parameter gradient (VJP): grad (length P) = J^T dy for cotangents dy (n x outputs) at the point of
 * the last sequentialForward on ws (which it leaves intact, so it can be called again at the same
 * point). scratch (see scratchSizes): two activation-sized buffers and one patch-row-sized one.
 * onSignals(i, s) sees each layer's per-sample signal (linear layers: the output cotangent in row
 * layout, n HW x rows; BatchNorm: the cotangent n x C x HW), valid during the call: what the
 * structured NTK is built from (src/deep/ntk.ts).
 */
export function sequentialBackward(ws: SequentialWorkspace, theta: Buf, x: Buf, dy: Buf, grad: Buf, scratch: Buf[],
  onSignals?: (layer: number, signal: Buf) => void): Buf {
  const be = ws.be, n = ws.n, layers = ws.plan.layers;
  be.fill(grad, 0);
  let g = scratch[0], next = scratch[1];
  be.copy(be.slice(g, 0, dy.length), dy);
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i], input = i === 0 ? x : ws.acts[i - 1];
    const gi = be.slice(g, 0, n * volume(l.output)), gn = i > 0 ? be.slice(next, 0, n * volume(l.input)) : null;
    kindOf(l.spec).backward({ be, n, l, state: ws.state[i] }, theta, input, gi, gn, grad, scratch, onSignals && ((s) => onSignals(i, s)));
    if (i > 0) [g, next] = [next, g];
  }
  return grad;
}

/**
 * Forward-mode product: out (n x outputs) = J dtheta at the point of the last sequentialForward.
 * scratch (see scratchSizes): two activation-sized buffers, a patch-row-sized and a rows-sized one.
 */
export function sequentialJvp(ws: SequentialWorkspace, theta: Buf, x: Buf, dtheta: Buf, out: Buf, scratch: Buf[]): Buf {
  const be = ws.be, n = ws.n;
  let t: Buf | null = null; // tangent of the current activation (null: zero, the input's)
  let cur = scratch[0], other = scratch[1];
  ws.plan.layers.forEach((l, i) => {
    const to = be.slice(cur, 0, n * volume(l.output));
    kindOf(l.spec).jvp({ be, n, l, state: ws.state[i] }, theta, dtheta, i === 0 ? x : ws.acts[i - 1], t, to, scratch);
    t = to;
    [cur, other] = [other, cur];
  });
  be.copy(out, t!);
  return out;
}
