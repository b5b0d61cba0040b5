// Requests the runtime tests and the edge benchmark (bench/edgeRuntimes.ts) send.
import { initParams } from "../../src/model/init.js";
import type { ModelShape } from "../../src/model/shape.js";
import { Rng } from "../../src/random.js";
import { memoryEstimate } from "../../src/recover/memory.js";

/**
 * The largest problem the README promises on a 128 MiB isolate (Cloudflare Workers, Vercel Edge):
 * 28x28 images in 7x7 patches, 32 filters, 10 classes, the linearized span over n samples.
 */
export const LARGEST_SAMPLES = 230, REFUSED_SAMPLES = 240;
export const LARGEST_SHAPE: ModelShape = { patchDim: 49, patches: 16, filters: 32, outputs: 10, readout: "dense" };

/** That problem at n samples as a JSON request body, and purify's memory estimate for it. */
export function largestRequest(n: number): { body: string; estimate: number } {
  const shape = LARGEST_SHAPE;
  const rng = new Rng(1), init = initParams(shape, { seed: 1 });
  const c = Array.from(init);
  for (let i = 0; i < c.length; i += 97) c[i] += 1; // sparse outliers on an untrained model: the update is 0
  const body = JSON.stringify({
    shape, init: Array.from(init), contaminated: c, options: { subspace: "linearized" },
    data: { samples: n, patches: 16, patchDim: 49, values: Array.from(rng.normals(n * 16 * 49), (v) => Math.round(v * 1e4) / 1e4) },
  });
  return { body, estimate: memoryEstimate(shape, n, "linearized") };
}
