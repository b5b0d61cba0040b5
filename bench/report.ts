// Benchmark output: the JSON summary, a markdown report, and SVG plots.
import type { GemmRow } from "./gemm.js";
import type { Peak } from "./peak.js";
import type { RecoveryRow } from "./recovery.js";
import type { ScalingSeries } from "./scaling.js";
import { linePlot } from "../src/plot/svg.js";
import { fmt } from "../src/cli/table.js";

export interface BenchSummary {
  machine: { cpu: string; cores: number; node: string };
  quick: boolean;
  ratios: { gemmSimdVsJs: number; gemmSimdVsScalar: number; gemmSimdVsMlMatrix: number; recoverySimdVsJs: number; recoverySimdVsScalar: number; admmVsHighs: number | null; parallelSpeedup: number; ntkStructuredVsPairs: number;
    recoveryMixedVsF64: number | null; recoveryBestVsJs: number; gemmF32VsF64: number; gemmPeakFractionF32: number; recoveryVsNumpy: number | null };
  /** The relaxed-SIMD binary beside the SIMD one, per node that runs it (bench/relaxed.ts). */
  relaxed?: Array<{ node: string; gemm: Record<string, number>; recovery: Record<string, { seconds: number; error: number }> }>;
  /** Per patch-span problem: ours (2 workers) against the numpy peer (2 OpenBLAS threads). */
  vsNumpy?: Array<{ problem: string; ours: number; numpy: number; numpyF32: number | null; ratio: number; oursError: number | null; numpyError: number | null }>;
  parallel: import("./parallel.js").ParallelResult;
  ntk: import("./ntk.js").NtkBench;
  gemmPeakFraction: number;
  peaks: Peak[];
  gemm: GemmRow[];
  rows: RecoveryRow[];
  scaling: ScalingSeries[];
  notes: string[];
}

export function markdown(s: BenchSummary): string {
  const out: string[] = [];
  out.push(`# Benchmarks\n\n${s.machine.cpu}, ${s.machine.cores} cores, node ${s.machine.node}${s.quick ? " (quick run)" : ""}. One process; contenders interleaved round by round; medians with [min, max] over rounds.\n`);
  out.push("## Ratios (speed-ups; > 1 means cnn-purify's wasm-simd is faster)\n");
  out.push("| ratio | value |\n|---|---|");
  for (const [k, v] of Object.entries(s.ratios)) out.push(`| ${k} | ${v === null ? "n/a" : fmt(v)} |`);
  out.push(`| gemmPeakFraction | ${fmt(s.gemmPeakFraction)} |\n`);
  if (s.relaxed?.length) {
    out.push("## The relaxed-SIMD binary (fused multiply-add) beside the SIMD one\n");
    out.push("Each in a child node that runs relaxed SIMD (node 20 with --experimental-wasm-relaxed-simd; node 22+ by default), both binaries in that process, interleaved.\n");
    out.push("| node | GEMM 512 f64: relaxed / simd GFLOP/s | GEMM 512 f32: relaxed / simd | recovery K 256: relaxed / simd s | errors |\n|---|---|---|---|---|");
    for (const r of s.relaxed) {
      out.push(`| ${r.node} | ${fmt(r.gemm["relaxed f64"])} / ${fmt(r.gemm["simd f64"])} | ${fmt(r.gemm["relaxed f32"])} / ${fmt(r.gemm["simd f32"])} | ${fmt(r.recovery.relaxed.seconds)} / ${fmt(r.recovery.simd.seconds)} | ${r.recovery.relaxed.error.toExponential(1)} / ${r.recovery.simd.error.toExponential(1)} |`);
    }
    out.push("");
  }
  if (s.vsNumpy?.length) {
    out.push("## Against the native peer (numpy + scipy over OpenBLAS, bench/peers/admm_numpy.py: the same ADMM, balancing, stopping rule, freezing and polish)\n");
    out.push("Ours: the default arithmetic (f32 ADMM where it pays, f64 polish), the filter problems over 2 workers; the peer: f64 on 2 OpenBLAS threads (and its f32-ADMM variant). Seconds (median), relative error of the answer.\n");
    out.push("| problem | ours | numpy f64 | numpy f32 ADMM | ours / numpy | error ours | error numpy |\n|---|---|---|---|---|---|---|");
    for (const v of s.vsNumpy) out.push(`| ${v.problem} | ${fmt(v.ours)} | ${fmt(v.numpy)} | ${v.numpyF32 === null ? "n/a" : fmt(v.numpyF32)} | ${fmt(v.ratio)}x | ${v.oursError === null ? "n/a" : v.oursError.toExponential(1)} | ${v.numpyError === null ? "n/a" : v.numpyError.toExponential(1)} |`);
    out.push("");
  }
  const k = s.ntk;
  out.push(`## The NTK of ${k.model} (P ${k.params}, n ${k.samples}, ${k.columns} columns)\n\nComposed per layer: ${fmt(k.structuredSeconds)} s; one VJP + JVP pair per column: ${fmt(k.pairsSeconds)} s (timed on ${k.pairsColumnsTimed} columns, scaled): x${fmt(k.ratio)}.\n\n| layer | way | explicit GFLOP | contraction GFLOP |\n|---|---|---|---|`);
  for (const l of k.layers) out.push(`| ${l.type} | ${l.kind} | ${fmt(l.explicitGflop)} | ${fmt(l.contractionGflop)} |`);
  out.push("");
  out.push("## Arithmetic peaks (register-only multiply/add chains, this run)\n\n| backend | GFLOP/s |\n|---|---|");
  for (const p of s.peaks) out.push(`| ${p.backend} | ${fmt(p.gflops)} |`);
  out.push("\n## GEMM (GFLOP/s)\n");
  const names = Object.keys(s.gemm[0]?.gflops ?? {});
  out.push("`peak` is the register-only f64x2 kernel run for the same flop count, interleaved with the GEMMs; `peak-f32` the same chains in f32x4, for `wasm-f32` (the f32 GEMM of the same binary).\n");
  out.push(`| shape (m x n x k) | in cache | ${names.join(" | ")} | wasm / peak | wasm-f32 / peak-f32 |\n|---|---|${names.map(() => "---").join("|")}|---|---|`);
  for (const r of s.gemm) {
    out.push(`| ${r.shape.label} (${r.shape.m} x ${r.shape.n} x ${r.shape.k}) | ${r.shape.inCache ? "yes" : "no"} | ${names.map((n) => `${fmt(r.gflops[n].median)} [${fmt(r.gflops[n].min)}, ${fmt(r.gflops[n].max)}]`).join(" | ")} | ${fmt(r.gflops.wasm.median / r.gflops.peak.median)} | ${r.gflops["wasm-f32"] ? fmt(r.gflops["wasm-f32"].median / r.gflops["peak-f32"].median) : "n/a"} |`);
  }
  out.push("\n## End-to-end LAD recovery\n\n| problem | P | n k | method | seconds [min, max] | max(weight, bias) rel. error | status |\n|---|---|---|---|---|---|---|");
  for (const r of s.rows) {
    out.push(`| ${r.problem} | ${r.params} | ${r.nk} | ${r.method} | ${r.seconds === null ? "-" : `${fmt(r.seconds)} [${fmt(r.min!)}, ${fmt(r.max!)}]`} | ${r.error === null ? "-" : fmt(r.error)} | ${r.status}${r.note ? ` (${r.note})` : ""} |`);
  }
  if (s.parallel) {
    const p = s.parallel;
    out.push(`\n## Workers\n\npurify() on the patch span, K ${p.filters} filters (P ${p.params}): 1 thread ${fmt(p.oneThread)} s, 2 workers ${fmt(p.twoWorkers)} s, speed-up ${fmt(p.speedup)}; parameters bit-identical: ${p.identical}; error ${fmt(p.error)}.`);
  }
  out.push("\n## Scaling (ADMM on wasm)\n");
  for (const sc of s.scaling) {
    out.push(`${sc.x}: fitted exponent ${fmt(sc.exponent)}\n\n| x | seconds | error |\n|---|---|---|`);
    for (const p of sc.points) out.push(`| ${p.x} | ${fmt(p.seconds)} | ${fmt(p.error)} |`);
    out.push("");
  }
  if (s.notes.length) out.push("## Notes\n\n" + s.notes.map((n) => `- ${n}`).join("\n"));
  return out.join("\n") + "\n";
}

export function gemmSvg(s: BenchSummary): string {
  const colors: Record<string, string> = { wasm: "#1f77b4", "wasm-scalar": "#ff7f0e", js: "#2ca02c", "ml-matrix": "#d62728" };
  const names = Object.keys(s.gemm[0]?.gflops ?? {}).filter((n) => n !== "peak");
  return linePlot({
    title: "GEMM throughput by problem size", xLabel: "2 m n k (flops per call)", yLabel: "GFLOP/s", logX: true, logY: true,
    series: names.map((n) => ({ name: n, color: colors[n] ?? "#555", points: s.gemm.map((r) => [2 * r.shape.m * r.shape.n * r.shape.k, r.gflops[n].median] as [number, number]) })),
    hLine: { y: Math.max(...s.gemm.map((r) => r.gflops.peak.median)), label: "f64x2 peak" },
  });
}

export function scalingSvg(s: BenchSummary): string {
  const colors = ["#1f77b4", "#d62728"];
  return linePlot({
    title: "Recovery time (ADMM, wasm) against problem size", xLabel: "P (parameters) or n k (span dimension)", yLabel: "seconds", logX: true, logY: true,
    series: s.scaling.map((sc, i) => ({ name: `${sc.x.split(" (")[0]}: slope ${sc.exponent.toFixed(2)}`, color: colors[i], points: sc.points.map((p) => [p.x, p.seconds] as [number, number]) })),
  });
}
