// Losses on the small n x O output matrix. They read outputs through a view and write dL/dy;
// the cost is O(n O), negligible beside the GEMMs, so they are written once here, not per backend.

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
