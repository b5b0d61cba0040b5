// Training and evaluation of sequential CNNs (the one model family: the one-hidden-layer CNN is a
// plan too, src/model/asSequential.ts), written once against the Backend: seeded init, minibatch SGD
// with momentum or Adam on mse or softmax cross-entropy with weight decay (frozen layers, or any 0/1
// update mask for a sparse attacker), chunked evaluation and the full-data gradient.
//
// Subspace property (DESIGN.md section 2): with SGD (any batches, steps, momentum) each conv/dense
// row [w ; b] moves only inside the span of its layer's augmented input patches at the iterates;
// weight decay adds the init row. Adam divides coordinates by different scales and breaks this.
import type { Backend, Buf } from "../backend/types.js";
import { OptionError, ValueError, checkInt, shown } from "../errors.js";
import type { LossName } from "../model/loss.js";
import { LOSS_NAMES, accuracy, checkTargets, lossOf } from "../model/loss.js";
import { Rng } from "../random.js";
import type { Dims, LayerSpec, planLayers } from "./sequential.js";
import { SequentialWorkspace, planLayers as plan_, scratchSizes, sequentialBackward, sequentialForward } from "./sequential.js";
import { batchNormInit } from "./layers/batchnorm.js";

type Plan = ReturnType<typeof planLayers>;

export interface SequentialModel { input: Dims; layers: LayerSpec[] }

export type OptimizerName = "sgd" | "adam";

export interface TrainProgress { epoch: number; epochs: number; step: number; loss: number }

export interface TrainResult {
  params: Float64Array;
  /** Mean training loss per epoch, before the epoch's updates are counted. */
  losses: number[];
  steps: number;
  /** Full-data loss at the start and at the end. */
  initialLoss: number;
  finalLoss: number;
}

/** Gaussian init: He for conv/dense weights (std sqrt(2 / fan-in)), biases 0.1 std; BatchNorm as PyTorch's. */
export function initSequential(model: SequentialModel, seed = 0): Float64Array {
  const plan = plan_(model.input, model.layers);
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

/** What the trainer needs once the entry point has validated its inputs (theta in the plan's layout). */
export interface PlanTraining {
  loss: LossName;
  optimizer: OptimizerName;
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  seed: number;
  /** 0/1 per entry of theta (frozen layers and a sparse attacker's mask); null: all move. */
  mask: Float64Array | null;
  onProgress?: (p: TrainProgress) => void;
}

/** Samples per forward pass when a whole data set is evaluated: memory stays O(chunk), not O(n). */
const CHUNK = 256;

/** Forward pass over the n inputs x (uploaded) in chunks; visit gets each chunk's outputs (count x O view). */
function forEachChunk(be: Backend, plan: Plan, theta: Buf, x: Buf, n: number, visit: (y: Float64Array, from: number, count: number) => void): void {
  const per = x.length / n, c = Math.min(CHUNK, n);
  const main = new SequentialWorkspace(be, plan, c), tail = n % c ? new SequentialWorkspace(be, plan, n % c) : null;
  try {
    for (let from = 0; from < n; from += c) {
      const count = Math.min(c, n - from);
      visit(be.view(sequentialForward(count === c ? main : tail!, theta, be.slice(x, from * per, count * per))), from, count);
    }
  } finally {
    main.dispose(); tail?.dispose();
  }
}

/** Targets of samples [from, from + count). */
const targetsOf = (loss: LossName, targets: ArrayLike<number>, from: number, count: number, O: number) =>
  (loss === "mse" ? Array.prototype.slice.call(targets, from * O, (from + count) * O) : Array.prototype.slice.call(targets, from, from + count)) as number[];

/** Mean loss of theta over the n inputs, chunked. */
function datasetLoss(be: Backend, plan: Plan, loss: LossName, theta: Buf, x: Buf, n: number, targets: ArrayLike<number>): number {
  const O = plan.output.C;
  let sum = 0;
  forEachChunk(be, plan, theta, x, n, (y, from, count) => { sum += count * lossOf(loss, y, targetsOf(loss, targets, from, count, O), null, count, O); });
  return sum / n;
}

/**
 * Minibatch training of theta (plan layout) on n inputs x (n x C x H x W, host) with validated
 * options: the one trainer behind train() (for a sequential model and for the one-hidden-layer
 * CNN through its plan). Batches come from one seeded shuffle per epoch.
 */
export function trainPlan(be: Backend, plan: Plan, init: Float64Array, x: Float64Array, n: number, targets: ArrayLike<number>, o: PlanTraining): TrainResult {
  const per = x.length / n, O = plan.output.C, batch = Math.min(o.batchSize, n), isCE = o.loss === "cross-entropy";
  const xs = be.upload(be.alloc(x.length), x);
  const theta = be.upload(be.alloc(plan.size), init), vel = be.alloc(plan.size), vel2 = be.alloc(plan.size), grad = be.alloc(plan.size);
  const mask = o.mask ? be.upload(be.alloc(plan.size), o.mask) : null;
  const xb = be.alloc(batch * per), dy = be.alloc(batch * O);
  const wsFull = new SequentialWorkspace(be, plan, batch);
  const wsTail = n % batch ? new SequentialWorkspace(be, plan, n % batch) : null;
  const scratch = scratchSizes(plan, batch).map((len) => be.alloc(len));
  const order = Int32Array.from({ length: n }, (_, i) => i), rng = new Rng(o.seed);
  const tb = new Float64Array(batch * (isCE ? 1 : O));
  // with a mask, decay enters the gradient before masking so that frozen entries do not decay
  const wdInStep = mask ? 0 : o.weightDecay;
  try {
    const initialLoss = datasetLoss(be, plan, o.loss, theta, xs, n, targets);
    const losses: number[] = [];
    let steps = 0;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      if (batch < n) rng.shuffle(order);
      let sum = 0;
      for (let start = 0; start < n; start += batch) {
        const b = Math.min(batch, n - start), ws = b === batch ? wsFull : wsTail!;
        let xin: Buf = xs;
        if (b < n) {
          xin = be.slice(xb, 0, b * per);
          for (let q = 0; q < b; q++) {
            const s = order[start + q];
            be.copy(be.slice(xb, q * per, per), be.slice(xs, s * per, per));
            if (isCE) tb[q] = targets[s];
            else for (let k = 0; k < O; k++) tb[q * O + k] = targets[s * O + k];
          }
        }
        const ds = be.slice(dy, 0, b * O);
        const y = sequentialForward(ws, theta, xin);
        sum += b * lossOf(o.loss, be.view(y), b < n ? tb : targets, be.view(ds), b, O);
        sequentialBackward(ws, theta, xin, ds, grad, scratch);
        steps++;
        if (mask) {
          if (o.weightDecay) be.axpy(grad, o.weightDecay, theta);
          be.mul(grad, grad, mask);
        }
        if (o.optimizer === "sgd") be.momentumStep(theta, vel, grad, o.lr, o.momentum, wdInStep);
        else be.adamStep(theta, vel, vel2, grad, o.lr, 0.9, 0.999, 1e-8, 1 - 0.9 ** steps, 1 - 0.999 ** steps, wdInStep);
      }
      losses.push(sum / n);
      o.onProgress?.({ epoch: epoch + 1, epochs: o.epochs, step: steps, loss: sum / n });
    }
    const finalLoss = datasetLoss(be, plan, o.loss, theta, xs, n, targets);
    return { params: be.download(theta), losses, steps, initialLoss, finalLoss };
  } finally {
    wsFull.dispose(); wsTail?.dispose();
    for (const buf of [xs, theta, vel, vel2, grad, xb, dy, ...scratch]) be.free(buf);
    if (mask) be.free(mask);
  }
}

export interface SequentialTrainOptions {
  /** Default "cross-entropy" (mse: targets are n x O reals). */
  loss?: LossName;
  optimizer?: OptimizerName;
  epochs?: number;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  batchSize?: number;
  seed?: number;
  /** Indices of layers whose parameters stay at their initial values. */
  frozen?: number[];
  /** 0/1 per parameter: only entries with 1 change (combined with frozen). */
  updateMask?: ArrayLike<number>;
  backend?: Backend | string;
  onProgress?: (p: TrainProgress) => void;
}

/**
 * Validates what every trainer entry point shares (loss, optimizer, step sizes, batch, mask) and
 * returns the trainer's settings; `mask` is already in the plan's layout (null: none).
 */
export function planTraining(where: string, plan: Plan, n: number, targets: ArrayLike<number>, o: Omit<SequentialTrainOptions, "frozen" | "updateMask" | "backend">,
  mask: Float64Array | null, defaults: { epochs: number; loss: LossName }): PlanTraining {
  const loss = o.loss ?? defaults.loss;
  if (!LOSS_NAMES.includes(loss)) throw new OptionError(`${where}: unknown loss "${loss}" (known: ${LOSS_NAMES.join(", ")})`);
  const optimizer = o.optimizer ?? "sgd";
  if (optimizer !== "sgd" && optimizer !== "adam") throw new OptionError(`${where}: unknown optimizer "${optimizer}" (known: sgd, adam)`);
  checkTargets(where, loss, targets, n, plan.output.C);
  const epochs = o.epochs ?? defaults.epochs;
  checkInt(where, "epochs", epochs, 0);
  const batchSize = Math.min(o.batchSize ?? n, n);
  checkInt(where, "batchSize", batchSize);
  const lr = o.lr ?? 0.05, momentum = o.momentum ?? 0.9, weightDecay = o.weightDecay ?? 0;
  for (const [k, v] of [["lr", lr], ["momentum", momentum], ["weightDecay", weightDecay]] as const) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw new ValueError(`${where}: ${k} must be a finite number >= 0, got ${shown(v)}`);
  }
  return { loss, optimizer, epochs, batchSize, lr, momentum, weightDecay, seed: o.seed ?? 0, mask, onProgress: o.onProgress };
}

/** Refuses a plan this trainer cannot train: BatchNorm's batch statistics are not trained here. */
export function checkTrainable(where: string, plan: Plan): void {
  const bn = plan.layers.findIndex((l) => l.spec.type === "batchnorm");
  if (bn >= 0) throw new ValueError(`${where}: layer ${bn} is a BatchNorm, which this trainer does not train (batch statistics); purification of BatchNorm models trained elsewhere (PyTorch) is supported`);
}

/** The 0/1 mask (plan layout) of an update mask combined with frozen layers; null when nothing is held. */
export function updateMaskOf(plan: Plan, updateMask?: Float64Array, frozen?: number[]): Float64Array | null {
  if (!updateMask && !frozen?.length) return null;
  const mask = updateMask ? updateMask.slice() : new Float64Array(plan.size).fill(1);
  for (const i of frozen ?? []) mask.fill(0, plan.layers[i].offset, plan.layers[i].offset + plan.layers[i].params + plan.layers[i].stats);
  return mask;
}

export interface Evaluation { loss: number; accuracy: number | null; outputs: Float64Array }

/** Outputs (n x O) of theta on the n inputs x, chunked. */
export function planOutputs(be: Backend, plan: Plan, theta: Float64Array, x: Float64Array, n: number): Float64Array {
  const O = plan.output.C, outputs = new Float64Array(n * O);
  const t = be.upload(be.alloc(plan.size), theta), xs = be.upload(be.alloc(x.length), x);
  try {
    forEachChunk(be, plan, t, xs, n, (y, from) => outputs.set(y, from * O));
    return outputs;
  } finally {
    be.free(t); be.free(xs);
  }
}

/** Loss, accuracy (classifiers) and outputs of theta on n inputs. */
export function evaluatePlan(be: Backend, plan: Plan, theta: Float64Array, x: Float64Array, n: number, targets: ArrayLike<number>, loss: LossName): Evaluation {
  const O = plan.output.C, outputs = planOutputs(be, plan, theta, x, n);
  return { loss: lossOf(loss, outputs, targets, null, n, O), accuracy: loss === "cross-entropy" ? accuracy(outputs, targets, n, O) : null, outputs };
}

/** Gradient of the mean loss over n inputs (chunked), length P. */
export function planGradient(be: Backend, plan: Plan, theta: Float64Array, x: Float64Array, n: number, targets: ArrayLike<number>, loss: LossName): Float64Array {
  const per = x.length / n, O = plan.output.C;
  const total = new Float64Array(plan.size);
  const t = be.upload(be.alloc(plan.size), theta), grad = be.alloc(plan.size), xs = be.upload(be.alloc(x.length), x);
  try {
    for (let from = 0; from < n; from += CHUNK) {
      const count = Math.min(CHUNK, n - from);
      const ws = new SequentialWorkspace(be, plan, count);
      const scratch = scratchSizes(plan, count).map((len) => be.alloc(len));
      const xb = be.slice(xs, from * per, count * per), dy = be.alloc(count * O);
      try {
        const y = sequentialForward(ws, t, xb);
        // each chunk's gradient is of its own mean: weight by its share of the samples
        lossOf(loss, be.view(y), targetsOf(loss, targets, from, count, O), be.view(dy), count, O);
        const g = be.view(sequentialBackward(ws, t, xb, dy, grad, scratch));
        for (let i = 0; i < plan.size; i++) total[i] += g[i] * count / n;
      } finally {
        ws.dispose();
        for (const b of [...scratch, dy]) be.free(b);
      }
    }
    return total;
  } finally {
    be.free(t); be.free(grad); be.free(xs);
  }
}
