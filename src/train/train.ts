// Minibatch training (SGD with momentum and weight decay, or Adam), deterministic from a seed.
// Written once against the Backend: the same code trains on "wasm", "wasm-scalar" and "js".
//
// Subspace property (DESIGN.md section 2): with SGD (any batches, steps, momentum) each filter row
// [w_j ; b_j] moves only inside the span of the augmented training patches; weight decay adds the
// init row to that span. Adam divides coordinates by different scales and breaks this property.
import type { Backend, Buf } from "../backend/types.js";
import { resolveBackend } from "../backend/index.js";
import { OptionError, ShapeError, ValueError, checkFinite, checkInt, checkOptionNames } from "../errors.js";
import { Rng } from "../random.js";
import type { PatchData } from "../model/data.js";
import { checkPatchData, uploadAugmented } from "../model/data.js";
import type { LossName } from "../model/loss.js";
import { LOSS_NAMES, accuracy, crossEntropy, mse } from "../model/loss.js";
import { Workspace, backward, forward } from "../model/network.js";
import type { ModelShape } from "../model/shape.js";
import { layoutOf } from "../model/shape.js";

export type OptimizerName = "sgd" | "adam";

export interface TrainProgress { epoch: number; epochs: number; step: number; loss: number }

export interface TrainOptions {
  loss?: LossName;
  optimizer?: OptimizerName;
  epochs?: number;
  /** Samples per step; default: all (full-batch gradient descent). */
  batchSize?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  /** Seed of the batch order. */
  seed?: number;
  backend?: Backend | string;
  /** Train beta too (default true); false keeps the readout at init, the theory's usual setting. */
  trainReadout?: boolean;
  /**
   * Per-parameter 0/1 mask (length P): only entries with 1 are updated (e.g. an attacker who touches a
   * few parameters). Not combined with weightDecay, which would move the masked entries too.
   */
  updateMask?: ArrayLike<number>;
  /** Called after every epoch with the epoch's mean loss. */
  onProgress?: (p: TrainProgress) => void;
}

const TRAIN_OPTIONS = ["loss", "optimizer", "epochs", "batchSize", "lr", "momentum", "weightDecay", "seed", "backend", "trainReadout", "updateMask", "onProgress"];

/** Samples per forward pass when a whole data set is evaluated: memory stays O(chunk), not O(n). */
const CHUNK = 1024;

/**
 * Forward pass over n samples (xa: their augmented patch rows) in chunks; visit gets each chunk's
 * outputs (count x O, a view valid during the call) and its first sample.
 */
function forEachChunk(be: Backend, shape: ModelShape, theta: Buf, xa: Buf, n: number, visit: (y: Float64Array, from: number, count: number) => void): void {
  const rowLen = shape.patches * (shape.patchDim + 1);
  const c = Math.min(CHUNK, n);
  const main = new Workspace(be, shape, c);
  const tail = n % c === 0 ? null : new Workspace(be, shape, n % c);
  try {
    for (let from = 0; from < n; from += c) {
      const count = Math.min(c, n - from);
      visit(be.view(forward(count === c ? main : tail!, theta, be.slice(xa, from * rowLen, count * rowLen))), from, count);
    }
  } finally {
    main.dispose();
    tail?.dispose();
  }
}

/** Mean loss of theta over all n samples, chunked. */
function datasetLoss(be: Backend, shape: ModelShape, loss: LossName, theta: Buf, xa: Buf, n: number, targets: ArrayLike<number>): number {
  const O = shape.outputs;
  let sum = 0;
  forEachChunk(be, shape, theta, xa, n, (y, from, count) => {
    const t = loss === "mse" ? Array.prototype.slice.call(targets, from * O, (from + count) * O) : Array.prototype.slice.call(targets, from, from + count);
    sum += count * lossOf(loss, y, t, null, count, O);
  });
  return sum / n;
}

export interface TrainResult {
  params: Float64Array;
  /** Mean training loss per epoch, before the epoch's updates are counted. */
  losses: number[];
  steps: number;
  /** Full-data loss at the start and at the end. */
  initialLoss: number;
  finalLoss: number;
}

/** Validates targets against the loss: n x O reals for "mse", n integer labels for "cross-entropy". */
function checkTargets(where: string, loss: LossName, targets: ArrayLike<number>, n: number, O: number): void {
  if (loss === "mse") {
    if (targets.length !== n * O) throw new ShapeError(`${where}: targets has length ${targets.length}, expected ${n * O} (samples ${n} x outputs ${O}) for loss "mse"`);
    checkFinite(where, "targets", targets);
  } else {
    if (targets.length !== n) throw new ShapeError(`${where}: targets has length ${targets.length}, expected ${n} class labels for loss "cross-entropy"`);
    for (let i = 0; i < n; i++) {
      const t = targets[i];
      if (!Number.isInteger(t) || t < 0 || t >= O) throw new ValueError(`${where}: targets[${i}] = ${t} is not a class label in [0, ${O})`);
    }
  }
}

/** Loss of outputs y (a view) for samples [from, from + n) of the targets; writes dy if given. */
export function lossOf(loss: LossName, y: Float64Array, targets: ArrayLike<number>, dy: Float64Array | null, n: number, O: number): number {
  return loss === "mse" ? mse(y, targets, dy, n) : crossEntropy(y, targets, dy, n, O);
}

/** Trains from `init`; returns new parameters (init is not modified). */
export async function train(shape: ModelShape, init: Float64Array, data: PatchData, targets: ArrayLike<number>, options: TrainOptions = {}): Promise<TrainResult> {
  const where = "train";
  checkOptionNames(where, options, TRAIN_OPTIONS);
  const layout = layoutOf(shape);
  checkPatchData(where, data);
  if (data.patches !== shape.patches || data.patchDim !== shape.patchDim) {
    throw new ShapeError(`${where}: data has ${data.patches} patches of dim ${data.patchDim}, the model expects ${shape.patches} of dim ${shape.patchDim}`);
  }
  if (init.length !== layout.size) throw new ShapeError(`${where}: init has length ${init.length}, expected ${layout.size} parameters`);
  checkFinite(where, "init", init);
  const loss = options.loss ?? (shape.outputs === 1 ? "mse" : "cross-entropy");
  if (!LOSS_NAMES.includes(loss)) throw new OptionError(`${where}: unknown loss "${loss}" (known: ${LOSS_NAMES.join(", ")})`);
  const optimizer = options.optimizer ?? "sgd";
  if (optimizer !== "sgd" && optimizer !== "adam") throw new OptionError(`${where}: unknown optimizer "${optimizer}" (known: sgd, adam)`);
  const n = data.samples, O = shape.outputs;
  checkTargets(where, loss, targets, n, O);
  const epochs = options.epochs ?? 100;
  checkInt(where, "epochs", epochs, 0);
  const batch = Math.min(options.batchSize ?? n, n);
  checkInt(where, "batchSize", batch);
  const lr = options.lr ?? 0.05, mu = options.momentum ?? 0.9, wd = options.weightDecay ?? 0;
  for (const [k, v] of [["lr", lr], ["momentum", mu], ["weightDecay", wd]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new ValueError(`${where}: ${k} must be a finite number >= 0, got ${v}`);
  }

  const trained = options.trainReadout === false ? layout.wSize : layout.size;
  if (options.updateMask !== undefined) {
    if (options.updateMask.length !== layout.size) throw new ShapeError(`${where}: updateMask has length ${options.updateMask.length}, expected ${layout.size} parameters`);
    for (let i = 0; i < layout.size; i++) {
      const v = options.updateMask[i];
      if (v !== 0 && v !== 1) throw new ValueError(`${where}: updateMask[${i}] = ${v}, expected 0 or 1`);
    }
    if (wd > 0) throw new OptionError(`${where}: updateMask cannot be combined with weightDecay (decay would move the masked entries)`);
    if (optimizer !== "sgd") throw new OptionError(`${where}: updateMask needs optimizer "sgd"`);
  }
  const be = await resolveBackend(options.backend);
  const rowLen = shape.patches * layout.row;
  const xa = uploadAugmented(be, data);
  const theta = be.upload(be.alloc(layout.size), init);
  const vel = be.alloc(layout.size);
  const vel2 = be.alloc(layout.size);
  const mask = options.updateMask ? be.upload(be.alloc(layout.size), Float64Array.from(options.updateMask)) : null;
  const xb = be.alloc(batch * rowLen);
  const main = new Workspace(be, shape, batch);
  const tail = n % batch === 0 ? null : new Workspace(be, shape, n % batch);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new Rng(options.seed ?? 0);
  const isCE = loss === "cross-entropy";
  const tb = new Float64Array(batch * (isCE ? 1 : O));

  const fullLoss = (): number => datasetLoss(be, shape, loss, theta, xa, n, targets);
  const initialLoss = fullLoss();
  const losses: number[] = [];
  let steps = 0;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      if (batch < n) rng.shuffle(order);
      let sum = 0;
      for (let start = 0; start < n; start += batch) {
        const b = Math.min(batch, n - start);
        const ws = b === batch ? main : tail!;
        let x: Buf = xa;
        if (b < n) {
          x = be.slice(xb, 0, b * rowLen);
          for (let q = 0; q < b; q++) {
            const s = order[start + q];
            be.copy(be.slice(xb, q * rowLen, rowLen), be.slice(xa, s * rowLen, rowLen));
            if (isCE) tb[q] = targets[s];
            else for (let o = 0; o < O; o++) tb[q * O + o] = targets[s * O + o];
          }
        }
        const tgt = b < n ? tb : targets;
        forward(ws, theta, x);
        sum += b * lossOf(loss, be.view(ws.y), tgt, be.view(ws.dy), b, O);
        backward(ws, theta, x);
        steps++;
        if (mask) be.mul(ws.grad, ws.grad, mask);
        const th = be.slice(theta, 0, trained), g = be.slice(ws.grad, 0, trained);
        if (optimizer === "sgd") be.momentumStep(th, be.slice(vel, 0, trained), g, lr, mu, wd);
        else be.adamStep(th, be.slice(vel, 0, trained), be.slice(vel2, 0, trained), g, lr, 0.9, 0.999, 1e-8, 1 - 0.9 ** steps, 1 - 0.999 ** steps, wd);
      }
      losses.push(sum / n);
      options.onProgress?.({ epoch: epoch + 1, epochs, step: steps, loss: sum / n });
    }
    const finalLoss = fullLoss();
    return { params: be.download(theta), losses, steps, initialLoss, finalLoss };
  } finally {
    for (const w of [main, tail]) w?.dispose();
    for (const buf of [xa, theta, vel, vel2, xb]) be.free(buf);
    if (mask) be.free(mask);
  }
}

/** The boundary checks evaluate() and gradient() share; returns what they derive from the inputs. */
function checkModelInputs(where: string, shape: ModelShape, params: Float64Array, data: PatchData, targets: ArrayLike<number>, options: { loss?: LossName; backend?: Backend | string }) {
  checkOptionNames(where, options, ["loss", "backend"]);
  const layout = layoutOf(shape);
  checkPatchData(where, data);
  if (params.length !== layout.size) throw new ShapeError(`${where}: params has length ${params.length}, expected ${layout.size}`);
  const loss: LossName = options.loss ?? (shape.outputs === 1 ? "mse" : "cross-entropy");
  if (!LOSS_NAMES.includes(loss)) throw new OptionError(`${where}: unknown loss "${loss}" (known: ${LOSS_NAMES.join(", ")})`);
  const n = data.samples, O = shape.outputs;
  checkTargets(where, loss, targets, n, O);
  return { layout, loss, n, O };
}

export interface Evaluation { loss: number; accuracy: number | null; outputs: Float64Array }

/** Loss (and accuracy for classifiers) of params on data. */
export async function evaluate(shape: ModelShape, params: Float64Array, data: PatchData, targets: ArrayLike<number>, options: { loss?: LossName; backend?: Backend | string } = {}): Promise<Evaluation> {
  const { layout, loss, n, O } = checkModelInputs("evaluate", shape, params, data, targets, options);
  const be = await resolveBackend(options.backend);
  const xa = uploadAugmented(be, data);
  const theta = be.upload(be.alloc(layout.size), params);
  try {
    const outputs = new Float64Array(n * O);
    forEachChunk(be, shape, theta, xa, n, (y, from) => outputs.set(y, from * O));
    const l = lossOf(loss, outputs, targets, null, n, O);
    const acc = loss === "cross-entropy" ? accuracy(outputs, targets, n, O) : null;
    return { loss: l, accuracy: acc, outputs };
  } finally {
    be.free(xa);
    be.free(theta);
  }
}

/** Full-data gradient of the mean loss at params (length P), computed in chunks. */
export async function gradient(shape: ModelShape, params: Float64Array, data: PatchData, targets: ArrayLike<number>, options: { loss?: LossName; backend?: Backend | string } = {}): Promise<Float64Array> {
  const { layout, loss, n, O } = checkModelInputs("gradient", shape, params, data, targets, options);
  checkFinite("gradient", "params", params);
  const be = await resolveBackend(options.backend);
  const xa = uploadAugmented(be, data);
  const theta = be.upload(be.alloc(layout.size), params);
  const rowLen = shape.patches * layout.row;
  const total = new Float64Array(layout.size);
  try {
    for (let from = 0; from < n; from += CHUNK) {
      const count = Math.min(CHUNK, n - from);
      const ws = new Workspace(be, shape, count);
      try {
        const x = be.slice(xa, from * rowLen, count * rowLen);
        const t = loss === "mse" ? Array.prototype.slice.call(targets, from * O, (from + count) * O) : Array.prototype.slice.call(targets, from, from + count);
        lossOf(loss, be.view(forward(ws, theta, x)), t, be.view(ws.dy), count, O);
        backward(ws, theta, x);
        // each chunk's gradient is of its own mean: weight by its share of the samples
        const g = be.view(ws.grad);
        for (let i = 0; i < layout.size; i++) total[i] += g[i] * count / n;
      } finally {
        ws.dispose();
      }
    }
    return total;
  } finally {
    be.free(xa);
    be.free(theta);
  }
}
