// Shared test fixtures: seeded random arrays, relative-error measures, the CLI run in process.
import { main } from "../src/cli/run.js";
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

/** Runs `cnn-purify ARGS` in this process: exit code, stdout lines and stderr text. */
export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  try {
    return { code: await main(args, (s) => { out += s + "\n"; }), out, err };
  } finally {
    process.stderr.write = write;
  }
}

/**
 * A two-conv CNN whose first conv layer (and readout) training left frozen while the top conv layer
 * was trained: the multi-layer case the layerwise span recovers exactly (4 samples of 1 x 8 x 8).
 */
export async function frozenFirstLayerCnn(seed = 0) {
  const { initSequential, trainSequential } = await import("../src/deep/train.js");
  const model = { input: { C: 1, H: 8, W: 8 }, layers: [
    { type: "conv", filters: 8, kernel: 3, padding: 1 }, { type: "relu" },
    { type: "conv", filters: 6, kernel: 4, stride: 4 }, { type: "relu" }, { type: "flatten" }, { type: "dense", units: 2 },
  ] } as Parameters<typeof initSequential>[0];
  const n = 4, x = new Rng(5 + seed).normals(n * 64), frozen = [0, 5];
  const init = initSequential(model, 1 + seed);
  const clean = await trainSequential(model, init, x, [0, 1, 1, 0], { epochs: 300, lr: 0.1, frozen });
  return { model, n, x, init, clean, frozen };
}
