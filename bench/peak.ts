// Arithmetic peaks in this run: register-only multiply/add chains (see assembly/peak.ts), per
// backend. The f64x2 number is the ceiling the GEMM is judged against.
import type { Backend } from "../src/backend/types.js";

export interface Peak { backend: string; gflops: number }

export function measurePeak(be: Backend, seconds = 0.3): Peak {
  be.peakFlops(1e6);
  let iters = 1e6, t = 0, flops = 0;
  while (t < seconds) {
    const t0 = performance.now();
    flops = be.peakFlops(iters);
    t = (performance.now() - t0) / 1000;
    if (t < seconds) iters *= 2;
  }
  // Best of three at the calibrated length.
  let best = flops / t / 1e9;
  for (let r = 0; r < 2; r++) {
    const t0 = performance.now();
    const f = be.peakFlops(iters);
    best = Math.max(best, f / ((performance.now() - t0) / 1000) / 1e9);
  }
  return { backend: be.name, gflops: best };
}
