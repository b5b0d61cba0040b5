// Shared test fixtures: seeded random arrays, relative-error measures, the CLI run in process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { onTestFinished } from "vitest";
import type { Backend, Buf } from "../src/backend/types.js";
import { main } from "../src/cli/run.js";
import { Rng } from "../src/random.js";

/** A temporary folder, removed when the current test finishes, passed or failed (call it inside a test). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function randn(n: number, seed: number, std = 1): Float64Array {
  return new Rng(seed).normals(n, std);
}

/**
 * The one-hidden-layer CNN's outputs by its definition, in plain loops (a reference independent of
 * the library's plans and kernels): y[s, o] = sum_(i, j) beta[(i K + j) or j, o] relu(w_j . x_si + b_j).
 */
export function naiveOutputs(shape: { patchDim: number; patches: number; filters: number; outputs: number; readout: string },
  theta: ArrayLike<number>, data: { samples: number; values: ArrayLike<number> }): Float64Array {
  const { patchDim: p, patches: k, filters: K, outputs: O } = shape, wSize = K * (p + 1), y = new Float64Array(data.samples * O);
  for (let s = 0; s < data.samples; s++) {
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < K; j++) {
        let z = theta[j * (p + 1) + p];
        for (let q = 0; q < p; q++) z += theta[j * (p + 1) + q] * data.values[(s * k + i) * p + q];
        if (z <= 0) continue;
        const r = shape.readout === "dense" ? i * K + j : j;
        for (let o = 0; o < O; o++) y[s * O + o] += theta[wSize + r * O + o] * z;
      }
    }
  }
  return y;
}

/** The fused ADMM step on one problem through the batched kernel (B = 1): its five sums. */
export function admmStepOne(be: Backend, z: Buf, y: Buf, au: Buf, r: Buf, alpha: number, t: number): Float64Array {
  const tb = be.upload(be.alloc(1), [t]), on = be.upload(be.alloc(1), [1]), st = be.alloc(5);
  try {
    return be.download(be.admmUpdateBatch(z, y, au, r, alpha, tb, on, 1, st));
  } finally {
    for (const b of [tb, on, st]) be.free(b);
  }
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
  const { initSequential, train } = await import("../src/index.js");
  const model = { input: { C: 1, H: 8, W: 8 }, layers: [
    { type: "conv", filters: 8, kernel: 3, padding: 1 }, { type: "relu" },
    { type: "conv", filters: 6, kernel: 4, stride: 4 }, { type: "relu" }, { type: "flatten" }, { type: "dense", units: 2 },
  ] } as Parameters<typeof initSequential>[0];
  const n = 4, x = new Rng(5 + seed).normals(n * 64), frozen = [0, 5];
  const init = initSequential(model, 1 + seed);
  const clean = (await train(model, init, { samples: n, values: x }, [0, 1, 1, 0], { epochs: 300, lr: 0.1, frozen })).params;
  return { model, n, x, init, clean, frozen };
}
