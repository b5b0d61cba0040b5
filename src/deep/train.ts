// Training and evaluation of sequential CNNs, written once against the Backend: seeded init,
// minibatch SGD with momentum on softmax cross-entropy (frozen layers, or any 0/1 update mask for a
// sparse attacker), chunked evaluation and the full-data gradient.
import type { Backend } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { ShapeError, ValueError, checkFinite, checkOptionNames } from "../errors.js";
import { crossEntropy } from "../model/loss.js";
import { Rng } from "../random.js";
import type { Dims, LayerSpec } from "./sequential.js";
import { SequentialWorkspace, planLayers, scratchSizes, sequentialBackward, sequentialForward } from "./sequential.js";
import { batchNormInit } from "./layers/batchnorm.js";

export interface SequentialModel { input: Dims; layers: LayerSpec[] }

/** Gaussian init: He for conv/dense weights (std sqrt(2 / fan-in)), biases 0.1 std; BatchNorm as PyTorch's. */
export function initSequential(model: SequentialModel, seed = 0): Float64Array {
  const plan = planLayers(model.input, model.layers);
  const rng = new Rng(seed);
  const theta = new Float64Array(plan.size);
  for (const l of plan.layers) {
    if (l.spec.type === "batchnorm") batchNormInit(l, theta);
    if (!l.rows) continue;
    const std = Math.sqrt(2 / (l.rowLength - 1));
    for (let r = 0; r < l.rows; r++) {
      for (let q = 0; q < l.rowLength - 1; q++) theta[l.offset + r * l.rowLength + q] = std * rng.normal();
      const b = 0.1 * rng.normal();
      theta[l.offset + r * l.rowLength + l.rowLength - 1] = (l.spec as { bias?: boolean }).bias === false ? 0 : b;
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
  /** 0/1 per parameter: only entries with 1 change (combined with frozen). */
  updateMask?: ArrayLike<number>;
  backend?: Backend | string;
}

/** Minibatch SGD with momentum on softmax cross-entropy; x: n x C x H x W, labels: n classes. */
export async function trainSequential(model: SequentialModel, init: Float64Array, x: Float64Array, labels: ArrayLike<number>, o: SequentialTrainOptions = {}): Promise<Float64Array> {
  checkOptionNames("trainSequential", o, ["epochs", "lr", "momentum", "batchSize", "seed", "frozen", "updateMask", "backend"]);
  const plan = planLayers(model.input, model.layers);
  const per = model.input.C * model.input.H * model.input.W, n = labels.length, O = plan.output.C;
  if (init.length !== plan.size) throw new ShapeError(`trainSequential: init has length ${init.length}, expected ${plan.size}`);
  if (x.length !== n * per) throw new ShapeError(`trainSequential: x has length ${x.length}, expected ${n * per} (${n} samples of ${per})`);
  checkFinite("trainSequential", "x", x);
  const bn = plan.layers.findIndex((l) => l.spec.type === "batchnorm");
  if (bn >= 0) throw new ValueError(`trainSequential: layer ${bn} is a BatchNorm, which this trainer does not train (batch statistics); purification of BatchNorm models trained elsewhere (PyTorch) is supported`);
  const be = await resolveBackend(o.backend);
  const batch = Math.min(o.batchSize ?? n, n), lr = o.lr ?? 0.05, mu = o.momentum ?? 0.9;
  if (o.updateMask && o.updateMask.length !== plan.size) throw new ShapeError(`trainSequential: updateMask has length ${o.updateMask.length}, expected ${plan.size}`);
  const mask = o.updateMask ? Float64Array.from(o.updateMask, (v) => (v ? 1 : 0)) : new Float64Array(plan.size).fill(1);
  for (const i of o.frozen ?? []) {
    const l = plan.layers[i];
    if (!l) throw new ValueError(`trainSequential: frozen layer ${i} does not exist (${plan.layers.length} layers)`);
    mask.fill(0, l.offset, l.offset + l.params);
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

const CHUNK = 256;

/** Forward pass over n inputs in chunks; visit gets each chunk's outputs (count x O view). */
function forEachChunk(be: Backend, model: SequentialModel, theta: Float64Array, x: Float64Array, n: number, visit: (y: Float64Array, from: number, count: number) => void): void {
  const plan = planLayers(model.input, model.layers);
  const per = model.input.C * model.input.H * model.input.W;
  const t = be.upload(be.alloc(plan.size), theta);
  const c = Math.min(CHUNK, n);
  const xb = be.alloc(c * per);
  const main = new SequentialWorkspace(be, plan, c), tail = n % c ? new SequentialWorkspace(be, plan, n % c) : null;
  try {
    for (let from = 0; from < n; from += c) {
      const count = Math.min(c, n - from);
      be.view(xb).set(x.subarray(from * per, (from + count) * per));
      visit(be.view(sequentialForward(count === c ? main : tail!, t, be.slice(xb, 0, count * per))), from, count);
    }
  } finally {
    main.dispose(); tail?.dispose(); be.free(t); be.free(xb);
  }
}

/** Test accuracy of theta on n inputs (n x C x H x W) with labels. */
export async function evaluateSequential(model: SequentialModel, theta: Float64Array, x: Float64Array, labels: ArrayLike<number>, backend?: Backend | string): Promise<number> {
  const be = await resolveBackend(backend);
  const n = labels.length;
  let ok = 0;
  forEachChunk(be, model, theta, x, n, (y, from, count) => {
    const O = y.length / count;
    for (let s = 0; s < count; s++) {
      let best = 0;
      for (let o = 1; o < O; o++) if (y[s * O + o] > y[s * O + best]) best = o;
      if (best === labels[from + s]) ok++;
    }
  });
  return ok / n;
}

/** Gradient of the mean cross-entropy over n inputs (chunked), length P. */
export async function gradientSequential(model: SequentialModel, theta: Float64Array, x: Float64Array, labels: ArrayLike<number>, backend?: Backend | string): Promise<Float64Array> {
  const be = await resolveBackend(backend);
  const plan = planLayers(model.input, model.layers);
  const per = model.input.C * model.input.H * model.input.W, n = labels.length, O = plan.output.C;
  const total = new Float64Array(plan.size);
  const t = be.upload(be.alloc(plan.size), theta), grad = be.alloc(plan.size);
  try {
    for (let from = 0; from < n; from += CHUNK) {
      const count = Math.min(CHUNK, n - from);
      const ws = new SequentialWorkspace(be, plan, count);
      const scratch = scratchSizes(plan, count).map((len) => be.alloc(len));
      const xb = be.upload(be.alloc(count * per), x.subarray(from * per, (from + count) * per)), dy = be.alloc(count * O);
      const y = sequentialForward(ws, t, xb);
      crossEntropy(be.view(y), Array.prototype.slice.call(labels, from, from + count), be.view(dy), count, O);
      const g = be.view(sequentialBackward(ws, t, xb, dy, grad, scratch));
      for (let i = 0; i < plan.size; i++) total[i] += g[i] * count / n;
      ws.dispose();
      for (const b of [...scratch, xb, dy]) be.free(b);
    }
    return total;
  } finally {
    be.free(t); be.free(grad);
  }
}
