// Run in a child node with relaxed SIMD enabled (node 20: --experimental-wasm-relaxed-simd; node 22+
// by default): the relaxed-SIMD binary ("wasm" picks it) beside the SIMD one ("wasm-simd") in the
// same process, interleaved: GEMM in f64 and f32 at 512, and purify on the bench's large patch-span
// problem. Prints one JSON line.
import { createBackend } from "../src/backend/index.js";
import { sparseOutliers } from "../src/contaminate.js";
import { trainInstance } from "../src/experiments/synthetic.js";
import { purify } from "../src/recover/purify.js";
import { recoveryErrors } from "../src/recover/report.js";
import { Rng } from "../src/random.js";
import { measure } from "./harness.js";

const rounds = Number(process.argv[2] ?? 3);
const relaxed = await createBackend("wasm"), simd = await createBackend("wasm-simd");
const s = 512, a = new Rng(7).normals(s * s), flops = 2 * s * s * s;
const contenders = [relaxed, simd].flatMap((be) => {
  const A = be.upload(be.alloc(a.length), a), C = be.alloc(s * s);
  const A32 = be.f32.demote(be.f32.alloc(a.length), A), C32 = be.f32.alloc(s * s);
  return [
    { name: `${be.binary} f64`, fn: () => { be.gemm(false, false, s, s, s, 1, A, s, A, s, 0, C, s); } },
    { name: `${be.binary} f32`, fn: () => { be.f32.gemm(false, false, s, s, s, 1, A32, s, A32, s, 0, C32, s); } },
  ];
});
const gemm = await measure(contenders, { rounds, timeMs: 40 });
const inst = await trainInstance({ p: 256, patches: 4, samples: 16, filters: 256, seed: 1, lr: 0.02, epochs: 300 }, simd);
const { params: c } = sparseOutliers(inst.trained, { rho: 0.2, scale: 10, seed: 2 });
const errors: Record<string, number> = {};
const runs = [relaxed, simd].map((be) => ({
  name: be.binary,
  fn: async () => {
    const r = await purify(c, { shape: inst.shape, init: inst.init, data: inst.data, subspace: "patch", backend: be, trainedReadout: false });
    const e = recoveryErrors(r.params, inst.trained, inst.shape);
    errors[be.binary] = Math.max(e.weightRelError, e.biasRelError);
  },
}));
const recovery = await measure(runs, { rounds, timeMs: 1, iterations: 1 });
process.stdout.write(JSON.stringify({
  node: process.version, binaries: [relaxed.binary, simd.binary],
  gemm: Object.fromEntries(gemm.map((t) => [t.name, flops / t.seconds / 1e9])),
  recovery: Object.fromEntries(recovery.map((t) => [t.name, { seconds: t.seconds, error: errors[t.name] }])),
}) + "\n");
