// `npm run bench` (full) and `npm run bench -- --quick` (under 3 minutes on 2 cores): kernels,
// peaks, end-to-end recovery against generic LP solvers, scaling. Writes bench/results/latest.json,
// docs/bench/README.md and SVG plots; `--json` prints the summary to stdout.
import { cpus } from "node:os";
import { join } from "node:path";
import { createBackend } from "../src/backend/index.js";
import { writeFileAtomic } from "../src/cli/files.js";
import { benchGemm, gemmShapes } from "./gemm.js";
import { measurePeak } from "./peak.js";
import type { RecoveryProblem } from "./recovery.js";
import { benchRecovery } from "./recovery.js";
import { numpyPeerMissing } from "./numpyPeer.js";
import { benchRelaxed } from "./relaxed.js";
import type { BenchSummary } from "./report.js";
import { gemmSvg, markdown, scalingSvg } from "./report.js";
import { benchScaling } from "./scaling.js";
import { benchParallel } from "./parallel.js";
import { benchNtk } from "./ntk.js";
import { LP_SOLVERS } from "./lpSolvers.js";
import type { LpSolverName } from "./lpSolvers.js";

const args = process.argv.slice(2);
for (const a of args) if (!["--quick", "--json"].includes(a)) { process.stderr.write(`bench: unknown option "${a}" (known: --quick, --json)\n`); process.exit(2); }
const quick = args.includes("--quick"), json = args.includes("--json");
const log = (s: string) => process.stderr.write(s + "\n");
const t0 = performance.now();

const wasm = await createBackend("wasm"), scalar = await createBackend("wasm-scalar"), js = await createBackend("js");
const backends = [wasm, scalar, js];

log("peaks");
const peaks = backends.map((be) => measurePeak(be));
log("gemm");
const gemm = await benchGemm(backends, gemmShapes(quick), { rounds: quick ? 3 : 7, timeMs: quick ? 40 : 150 });

const patchProblem = (K: number, nk: number, lp: LpSolverName[]): RecoveryProblem => ({ label: `patch span K ${K}, p 256, n k ${nk}`, p: 256, patches: 4, samples: nk / 4, filters: K, subspace: "patch", rho: 0.2, lr: 0.02, lpSolvers: lp });
const realSized = (nk: number, lp: LpSolverName[]) => patchProblem(256, nk, lp);
const problems: RecoveryProblem[] = [
  { label: "synthetic default (K 8, p 256, n k 32)", p: 256, patches: 4, samples: 8, filters: 8, subspace: "patch", rho: 0.2, lr: 0.02, lpSolvers: quick ? ["highs", "glpk.js", "yalps"] : LP_SOLVERS },
  // P = 72 x 257 + 72 = 18,576 >= 17,000: the smallest problem of the ADMM-vs-HiGHS target
  patchProblem(72, 64, quick ? ["highs"] : LP_SOLVERS),
  ...(quick ? [] : [realSized(16, ["highs"]), realSized(32, ["highs"])]),
  realSized(64, quick ? [] : LP_SOLVERS),
  { label: "linearized span K 256, p 196, n k 32", p: 196, patches: 4, samples: 8, filters: 256, subspace: "linearized", rho: 0.1, lr: 1e-9, lpSolvers: quick ? [] : LP_SOLVERS },
];
log("recovery");
const peerMissing = numpyPeerMissing();
if (peerMissing) log(`  numpy peer skipped: ${peerMissing}`);
const rows = await benchRecovery(backends, problems, { rounds: quick ? 3 : 5, timeMs: 1, lpCapSeconds: quick ? 45 : 120, log, peer: !peerMissing });
log("parallel");
const parallel = await benchParallel(quick ? 512 : 1024, { rounds: quick ? 3 : 5 });
log(`  ${parallel.filters} filters: 1 thread ${parallel.oneThread.toFixed(2)} s, 2 workers ${parallel.twoWorkers.toFixed(2)} s, x${parallel.speedup.toFixed(2)}, identical ${parallel.identical}`);
log("scaling");
const scaling = await benchScaling(wasm, quick, { rounds: quick ? 2 : 3, timeMs: 1 });
log("ntk (LeNet-5, n = 300)");
const ntk = benchNtk(wasm, 300, quick ? 20 : 60);
log(`  structured ${ntk.structuredSeconds.toFixed(2)} s, VJP/JVP pairs ${ntk.pairsSeconds.toFixed(1)} s (from ${ntk.pairsColumnsTimed} columns), x${ntk.ratio.toFixed(1)}`);

log("relaxed SIMD (a child node that runs it)");
const relaxed = benchRelaxed(quick ? 3 : 5, log);

const last = gemm[gemm.length - 1].gflops;
const secs = (problem: string, method: string) => rows.find((r) => r.problem === problem && r.method === method)?.seconds ?? NaN;
const big = realSized(64, []).label;
const errorOf = (problem: string, method: string) => rows.find((r) => r.problem === problem && r.method === method)?.error ?? NaN;
/** Both runs reached the exact answer (<= 1e-12 relative): the mixed-precision ratio compares like with like. */
const sameError = (problem: string, a: string, b: string) => errorOf(problem, a) <= 1e-12 && errorOf(problem, b) <= 1e-12;
const peakW = peaks[0].gflops;
const admmVsHighs = rows
  .filter((r) => r.method === "highs" && r.status === "ok" && r.params >= 17000 && r.error !== null && r.error <= 1e-8)
  .map((r) => { const a = rows.find((x) => x.problem === r.problem && x.method === "admm (wasm)")!; return a.error! <= 1e-8 ? r.seconds! / a.seconds! : NaN; })
  .filter(Number.isFinite);
// ours (mixed arithmetic, 2 workers) against the numpy peer in f64 on 2 OpenBLAS threads, per patch-span problem
const vsNumpy = [...new Set(rows.map((r) => r.problem))].flatMap((problem) => {
  const ours = rows.find((r) => r.problem === problem && r.method === "admm (wasm, 2 workers)");
  const peer = rows.find((r) => r.problem === problem && r.method.startsWith("numpy f64"));
  const peer32 = rows.find((r) => r.problem === problem && r.method.startsWith("numpy f32"));
  if (!ours?.seconds || !peer?.seconds) return [];
  return [{ problem, ours: ours.seconds, numpy: peer.seconds, numpyF32: peer32?.seconds ?? null, ratio: peer.seconds / ours.seconds, oursError: ours.error, numpyError: peer.error }];
});
const summary: BenchSummary = {
  machine: { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, node: process.version },
  quick,
  ratios: {
    gemmSimdVsJs: last.wasm.median / last.js.median,
    gemmSimdVsScalar: last.wasm.median / last["wasm-scalar"].median,
    gemmSimdVsMlMatrix: last.wasm.median / last["ml-matrix"].median,
    recoverySimdVsJs: secs(big, "admm (js)") / secs(big, "admm (wasm)"),
    recoverySimdVsScalar: secs(big, "admm (wasm-scalar)") / secs(big, "admm (wasm)"),
    admmVsHighs: admmVsHighs.length ? Math.min(...admmVsHighs) : null,
    parallelSpeedup: parallel.speedup,
    ntkStructuredVsPairs: ntk.ratio,
    recoveryMixedVsF64: sameError(big, "admm (wasm)", "admm (wasm f64)") ? secs(big, "admm (wasm f64)") / secs(big, "admm (wasm)") : null,
    recoveryBestVsJs: secs(big, "admm (js)") / Math.min(secs(big, "admm (wasm)"), secs(big, "admm (wasm f64)")),
    gemmF32VsF64: last["wasm-f32"].median / last.wasm.median,
    gemmPeakFractionF32: Math.max(...gemm.map((g) => g.gflops["wasm-f32"].median / g.gflops["peak-f32"].median)),
    recoveryVsNumpy: vsNumpy.length ? Math.min(...vsNumpy.map((x) => x.ratio)) : null,
  },
  vsNumpy,
  parallel, ntk, relaxed,
  gemmPeakFraction: Math.max(...gemm.filter((g) => g.shape.inCache).map((g) => g.gflops.wasm.median / g.gflops.peak.median)),
  peaks, gemm, rows, scaling,
  notes: [
    `Peak: ${peakW.toFixed(1)} GFLOP/s f64x2 (wasm), ${peaks[1].gflops.toFixed(1)} scalar wasm, ${peaks[2].gflops.toFixed(1)} plain JS. WASM SIMD in node 20 has no fused multiply-add, so a multiply and an add are separate instructions; the f64x2 peak is 2x the scalar peak, which bounds wasm-simd / wasm-scalar on compute-bound kernels at 2x.`,
    `The js backend is a packed, register-blocked GEMM; it reaches ${(gemm[gemm.length - 1].gflops.js.median / peaks[2].gflops * 100).toFixed(0)}% of the plain-JS peak on the largest GEMM, so wasm-simd / js on the GEMM is bounded by ${(peakW / gemm[gemm.length - 1].gflops.js.median).toFixed(1)}x (the wasm peak over the js backend's achieved rate).`,
    "LP solvers get the same LAD problems in LP form (u free, one t per row); their time includes building their model from the dense A. 'timeout' means no answer within the cap.",
    "Mixed precision: 'admm (wasm)' runs ADMM in f32 (f32x4) to find the support, then polish and certificate in f64; 'admm (wasm f64)' is f64 throughout. Both reach the same answer (errors in the table); recoveryMixedVsF64 is reported only when both are within 1e-12.",
  ],
};
summary.notes.push(`Total benchmark time ${((performance.now() - t0) / 1000).toFixed(0)} s.`);

const root = new URL("../..", import.meta.url).pathname;
writeFileAtomic(join(root, "bench", "results", quick ? "quick.json" : "latest.json"), JSON.stringify(summary, null, 2) + "\n");
const docs = join(root, "docs", "bench");
writeFileAtomic(join(docs, quick ? "quick.md" : "README.md"), markdown(summary));
writeFileAtomic(join(docs, quick ? "gemm-quick.svg" : "gemm.svg"), gemmSvg(summary));
writeFileAtomic(join(docs, quick ? "scaling-quick.svg" : "scaling.svg"), scalingSvg(summary));
if (json) process.stdout.write(JSON.stringify(summary) + "\n");
else process.stdout.write(markdown(summary));
