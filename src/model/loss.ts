// Losses on the small n x O output matrix. They read outputs through a view and write dL/dy;
// the cost is O(n O), negligible beside the GEMMs, so they are written once here, not per backend.

import { ShapeError, ValueError, checkFinite } from "../errors.js";

export type LossName = "mse" | "cross-entropy";
export const LOSS_NAMES: readonly LossName[] = ["mse", "cross-entropy"];

/**
 * Mean squared error L = 1/(2n) sum (y - t)^2 over n x O outputs; writes dL/dy into dy.
 * targets: n x O values.
 */
export function mse(y: Float64Array, targets: ArrayLike<number>, dy: Float64Array | null, n: number): number {
  let loss = 0;
  for (let i = 0; i < y.length; i++) {
    const e = y[i] - targets[i];
    loss += e * e;
    if (dy) dy[i] = e / n;
  }
  return loss / (2 * n);
}

/**
 * Softmax cross-entropy, mean over n samples; targets: n class indices in [0, O).
 * Writes dL/dy = (softmax(y) - onehot) / n into dy. Log-sum-exp is shifted by the row max.
 */
export function crossEntropy(y: Float64Array, targets: ArrayLike<number>, dy: Float64Array | null, n: number, O: number): number {
  let loss = 0;
  for (let s = 0; s < n; s++) {
    const row = s * O;
    let m = -Infinity;
    for (let o = 0; o < O; o++) m = Math.max(m, y[row + o]);
    let z = 0;
    for (let o = 0; o < O; o++) z += Math.exp(y[row + o] - m);
    const t = targets[s];
    loss += Math.log(z) + m - y[row + t];
    if (dy) for (let o = 0; o < O; o++) dy[row + o] = (Math.exp(y[row + o] - m) / z - (o === t ? 1 : 0)) / n;
  }
  return loss / n;
}

/** Fraction of rows whose argmax equals the label. */
export function accuracy(y: Float64Array, labels: ArrayLike<number>, n: number, O: number): number {
  let ok = 0;
  for (let s = 0; s < n; s++) {
    let best = 0;
    for (let o = 1; o < O; o++) if (y[s * O + o] > y[s * O + best]) best = o;
    if (best === labels[s]) ok++;
  }
  return ok / n;
}

/** Loss of outputs y (a view) for n samples' targets; writes dL/dy into dy if given. */
export function lossOf(loss: LossName, y: Float64Array, targets: ArrayLike<number>, dy: Float64Array | null, n: number, O: number): number {
  return loss === "mse" ? mse(y, targets, dy, n) : crossEntropy(y, targets, dy, n, O);
}

/** Validates targets against the loss: n x O reals for "mse", n integer labels for "cross-entropy". */
export function checkTargets(where: string, loss: LossName, targets: ArrayLike<number>, n: number, O: number): void {
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
