// Training and layerwise purification of sequential CNNs (DESIGN.md section 4, method (a)).
//
// Layerwise patch span: with SGD, the update of a conv/dense layer's W~ lies in the span of that
// layer's augmented input patch rows (im2col of its input) over the training data. That span is
// fixed only while the layers below are fixed, so the method is exact when the lower layers were
// frozen (fine-tuning the top), approximate otherwise. Layers are purified bottom-up, each layer's
// patches computed from the already purified layers below; frozen layers are restored to init.
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { ShapeError, ValueError, checkFinite, checkOptionNames } from "../errors.js";
import { crossEntropy } from "../model/loss.js";
import { Rng } from "../random.js";
import { PatchSpanOperator } from "../recover/operator.js";
import type { AdmmOptions } from "../recover/admm.js";
import { solveBatch } from "../recover/solve.js";
import type { Dims, LayerSpec } from "./sequential.js";
import { SequentialWorkspace, planLayers, scratchSizes, sequentialBackward, sequentialForward } from "./sequential.js";

export interface SequentialModel { input: Dims; layers: LayerSpec[] }

/** Gaussian init: He for conv/dense weights (std sqrt(2 / fan-in)), biases 0.1 std. */
export function initSequential(model: SequentialModel, seed = 0): Float64Array {
  const plan = planLayers(model.input, model.layers);
  const rng = new Rng(seed);
  const theta = new Float64Array(plan.size);
  for (const l of plan.layers) {
    if (!l.rows) continue;
    const std = Math.sqrt(2 / (l.rowLength - 1));
    for (let r = 0; r < l.rows; r++) {
      for (let q = 0; q < l.rowLength - 1; q++) theta[l.offset + r * l.rowLength + q] = std * rng.normal();
      theta[l.offset + r * l.rowLength + l.rowLength - 1] = 0.1 * rng.normal();
    }
  }
  return theta;
}

export interface SequentialTrainOptions {
  epochs?: number;
  lr?: number;
  momentum?: number;
  batchSize?: number;
  seed?: number;
  /** Indices of layers whose parameters stay at their initial values. */
  frozen?: number[];
  backend?: Backend | string;
}

/** Minibatch SGD with momentum on softmax cross-entropy; x: n x C x H x W, labels: n classes. */
export async function trainSequential(model: SequentialModel, init: Float64Array, x: Float64Array, labels: ArrayLike<number>, o: SequentialTrainOptions = {}): Promise<Float64Array> {
  checkOptionNames("trainSequential", o, ["epochs", "lr", "momentum", "batchSize", "seed", "frozen", "backend"]);
  const plan = planLayers(model.input, model.layers);
  const per = model.input.C * model.input.H * model.input.W, n = labels.length, O = plan.output.C;
  if (init.length !== plan.size) throw new ShapeError(`trainSequential: init has length ${init.length}, expected ${plan.size}`);
  if (x.length !== n * per) throw new ShapeError(`trainSequential: x has length ${x.length}, expected ${n * per} (${n} samples of ${per})`);
  checkFinite("trainSequential", "x", x);
  const be = await resolveBackend(o.backend);
  const batch = Math.min(o.batchSize ?? n, n), lr = o.lr ?? 0.05, mu = o.momentum ?? 0.9;
  const mask = new Float64Array(plan.size).fill(1);
  for (const i of o.frozen ?? []) {
    const l = plan.layers[i];
    if (!l) throw new ValueError(`trainSequential: frozen layer ${i} does not exist (${plan.layers.length} layers)`);
    mask.fill(0, l.offset, l.offset + l.rows * l.rowLength);
  }
  const theta = be.upload(be.alloc(plan.size), init), vel = be.alloc(plan.size), grad = be.alloc(plan.size), m = be.upload(be.alloc(plan.size), mask);
  const xb = be.alloc(batch * per), dy = be.alloc(batch * O);
  const wsFull = new SequentialWorkspace(be, plan, batch);
  const wsTail = n % batch ? new SequentialWorkspace(be, plan, n % batch) : null;
  const scratch = scratchSizes(plan, batch).map((len) => be.alloc(len));
  const order = Int32Array.from({ length: n }, (_, i) => i), rng = new Rng(o.seed ?? 0);
  const tb = new Float64Array(batch);
  try {
    for (let e = 0; e < (o.epochs ?? 20); e++) {
      if (batch < n) rng.shuffle(order);
      for (let start = 0; start < n; start += batch) {
        const b = Math.min(batch, n - start), ws = b === batch ? wsFull : wsTail!;
        const xv = be.view(xb);
        for (let q = 0; q < b; q++) { xv.set(x.subarray(order[start + q] * per, (order[start + q] + 1) * per), q * per); tb[q] = labels[order[start + q]]; }
        const xs = be.slice(xb, 0, b * per), ds = be.slice(dy, 0, b * O);
        const y = sequentialForward(ws, theta, xs);
        crossEntropy(be.view(y), tb, be.view(ds), b, O);
        sequentialBackward(ws, theta, xs, ds, grad, scratch);
        be.mul(grad, grad, m);
        be.momentumStep(theta, vel, grad, lr, mu, 0);
      }
    }
    return be.download(theta);
  } finally {
    wsFull.dispose(); wsTail?.dispose();
    for (const buf of [theta, vel, grad, m, xb, dy, ...scratch]) be.free(buf);
  }
}

export interface LayerReport { layer: number; type: string; rows: number; spanDim: number; iterations: number; frozen: boolean }

/**
 * Method (a): each trainable conv/dense layer, bottom-up, in the span of its augmented input
 * patches computed through the already purified layers below; `frozen` layers go back to init.
 */
export async function purifyLayerwise(model: SequentialModel, contaminated: Float64Array, init: Float64Array, x: Float64Array, n: number,
  o: { frozen?: number[]; backend?: Backend | string; admm?: AdmmOptions } = {}): Promise<{ params: Float64Array; layers: LayerReport[] }> {
  checkOptionNames("purifyLayerwise", o, ["frozen", "backend", "admm"]);
  const plan = planLayers(model.input, model.layers);
  if (contaminated.length !== plan.size || init.length !== plan.size) throw new ShapeError(`purifyLayerwise: parameters must have length ${plan.size}`);
  checkFinite("purifyLayerwise", "init", init);
  const be = await resolveBackend(o.backend);
  const out = contaminated.slice();
  const frozen = new Set(o.frozen ?? []);
  const ws = new SequentialWorkspace(be, plan, n);
  const xb = be.upload(be.alloc(x.length), x), theta = be.alloc(plan.size);
  const reports: LayerReport[] = [];
  try {
    for (let i = 0; i < plan.layers.length; i++) {
      const l = plan.layers[i];
      if (!l.rows) continue;
      const len = l.rows * l.rowLength;
      if (frozen.has(i)) {
        out.set(init.subarray(l.offset, l.offset + len), l.offset);
        reports.push({ layer: i, type: l.spec.type, rows: l.rows, spanDim: 0, iterations: 0, frozen: true });
        continue;
      }
      // the patches of layer i from the purified layers below (forward with out; ws.cols[i] holds them)
      be.upload(theta, out.map((v) => (Number.isFinite(v) ? v : 0)));
      sequentialForward(ws, theta, xb);
      const m = n * l.output.H * l.output.W;
      const op = new PatchSpanOperator(be, ws.cols[i]!, m, l.rowLength, l.rows);
      const r = new Float64Array(len);
      const erased: Array<Int32Array | null> = [];
      for (let f = 0; f < l.rows; f++) {
        const e: number[] = [];
        for (let q = 0; q < l.rowLength; q++) {
          const k = l.offset + f * l.rowLength + q;
          if (Number.isFinite(contaminated[k])) r[f * l.rowLength + q] = contaminated[k] - init[k]; else e.push(q);
        }
        erased.push(e.length ? Int32Array.from(e) : null);
      }
      const sol = await solveBatch(op, r, l.rows, { solver: "admm", admm: o.admm, erased });
      op.dispose();
      for (let q = 0; q < len; q++) out[l.offset + q] = init[l.offset + q] + sol.fitted[q];
      reports.push({ layer: i, type: l.spec.type, rows: l.rows, spanDim: m, iterations: sol.iterations, frozen: false });
    }
    return { params: out, layers: reports };
  } finally {
    ws.dispose();
    be.free(xb); be.free(theta);
  }
}
