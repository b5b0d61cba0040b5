// Shared test fixtures: seeded random arrays and relative-error measures.
import { Rng } from "../src/random.js";

export function randn(n: number, seed: number, std = 1): Float64Array {
  return new Rng(seed).normals(n, std);
}

/** max |a - b| / max(max |b|, tiny). */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-300);
}
