// Seeded randomness for everything in the package: xoroshiro128+ from pure-rand, doubles with 53
// random bits, normals by Box-Muller. The same seed gives the same stream in every runtime.
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { ValueError, shown } from "./errors.js";

export class Rng {
  private readonly gen: ReturnType<typeof xoroshiro128plus>;
  private spare = NaN;

  constructor(seed: number) {
    // every seed option of the package arrives here: "x" or 1.5 would have seeded silently as 0 or 1
    if (!Number.isInteger(seed)) throw new ValueError(`seed must be an integer, got ${shown(seed)}`);
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** Uniform in [0, 1). */
  uniform(): number { return uniformFloat64(this.gen); }

  /** Standard normal. */
  normal(): number {
    if (!Number.isNaN(this.spare)) { const s = this.spare; this.spare = NaN; return s; }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number { return Math.min(n - 1, Math.floor(this.uniform() * n)); }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]; a[i] = a[j]; a[j] = t;
    }
    return a;
  }

  /** `count` distinct indices from [0, n), sorted. */
  sample(n: number, count: number): Int32Array {
    const idx = new Int32Array(n);
    for (let i = 0; i < n; i++) idx[i] = i;
    for (let i = 0; i < count; i++) {
      const j = i + this.int(n - i);
      const t = idx[i]; idx[i] = idx[j]; idx[j] = t;
    }
    return idx.slice(0, count).sort();
  }

  /** A Float64Array of n normals times std. */
  normals(n: number, std = 1): Float64Array {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = std * this.normal();
    return out;
  }
}
