// The benchmark's native peer (bench/peers/admm_numpy.py, run by bench/numpyPeer.ts) solves the same
// problems as ours: on an exact-regime patch span it recovers the clean filters like purify does, in
// f64 and with its f32 ADMM; .ci/run installs numpy and scipy, so this runs in CI.
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import { sparseOutliers } from "../src/contaminate.js";
import { trainInstance } from "../src/experiments/synthetic.js";
import { uploadAugmented } from "../src/model/data.js";
import { purify } from "../src/recover/purify.js";
import { numpyPeerMissing, runNumpyPeer } from "../bench/numpyPeer.js";
import { relDiff } from "./helpers.js";

describe("the numpy + scipy peer", () => {
  it("is available here (python3 with numpy and scipy)", () => {
    expect(numpyPeerMissing()).toBeNull();
  });

  it("recovers the clean filters of an exact-regime patch span as purify does (f64, and f32 ADMM + f64 polish)", async () => {
    const be = await createBackend("wasm");
    const inst = await trainInstance({ p: 40, patches: 4, samples: 3, filters: 12, seed: 4, lr: 0.02, epochs: 200 }, be);
    const { params: c } = sparseOutliers(inst.trained, { rho: 0.15, scale: 10, seed: 5 });
    const m = 12, N = 41, K = 12;
    const xa = be.download(uploadAugmented(be, inst.data));
    const r = Float64Array.from({ length: K * N }, (_, i) => c[i] - inst.init[i]);
    const ours = await purify(c, { shape: inst.shape, init: inst.init, data: inst.data, subspace: "patch", trainedReadout: false, backend: be });
    expect(relDiff(ours.params.subarray(0, K * N), inst.trained.subarray(0, K * N))).toBeLessThan(1e-12);
    for (const dtype of ["float64", "float32"] as const) {
      const run = runNumpyPeer(xa, m, N, r, K, { threads: 1, dtype, rounds: 1 });
      expect(run.dtype).toBe(dtype);
      const w = inst.init.slice(0, K * N);
      for (let j = 0; j < K; j++) for (let q = 0; q < N; q++) { let v = 0; for (let s = 0; s < m; s++) v += run.u[s * K + j] * xa[s * N + q]; w[j * N + q] += v; }
      expect(relDiff(w, inst.trained.subarray(0, K * N))).toBeLessThan(1e-10);
      expect(run.iterations).toBeGreaterThan(1);
    }
  });
});
