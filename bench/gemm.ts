// Patch GEMMs at several sizes: wasm (f64x2) vs wasm-scalar vs the js backend vs ml-matrix, and
// wasm's f32 GEMM (f32x4), in GFLOP/s (2 m n k / time), beside the f64x2 and f32x4 peak kernels.
import { Matrix } from "ml-matrix";
import type { Backend } from "../src/backend/types.js";
import { Rng } from "../src/random.js";
import type { Contender } from "./harness.js";
import { measure } from "./harness.js";

export interface GemmShape { label: string; m: number; n: number; k: number; inCache: boolean }
export interface GemmRow { shape: GemmShape; gflops: Record<string, { median: number; min: number; max: number }> }

/** Shapes of the products recovery and training run, plus squares for context. */
export function gemmShapes(quick: boolean): GemmShape[] {
  const bytes = (m: number, n: number, k: number) => 8 * (m * k + k * n + m * n);
  const mk = (label: string, m: number, n: number, k: number): GemmShape => ({ label, m, n, k, inCache: bytes(m, n, k) <= 1 << 20 });
  const all = [
    mk("square 64", 64, 64, 64),
    mk("square 128", 128, 128, 128),
    mk("A U: K 256 x (p+1) 257, n k 64", 256, 257, 64),
    mk("square 256", 256, 256, 256),
    mk("forward: n k 2048 x K 64, p+1 50 (MNIST 7x7)", 2048, 64, 50),
    mk("square 512", 512, 512, 512),
    mk("Gram: n k 1024 x 1024, p+1 257", 1024, 1024, 257),
  ];
  return quick ? all.filter((s) => ["square 128", "A U: K 256 x (p+1) 257, n k 64", "square 512"].includes(s.label)) : all;
}

export async function benchGemm(backends: Backend[], shapes: GemmShape[], o: { rounds: number; timeMs: number }): Promise<GemmRow[]> {
  const rows: GemmRow[] = [];
  for (const s of shapes) {
    const rng = new Rng(7);
    const a = rng.normals(s.m * s.k), b = rng.normals(s.k * s.n);
    const contenders: Contender[] = [];
    const cleanup: Array<() => void> = [];
    for (const be of backends) {
      const A = be.upload(be.alloc(a.length), a), B = be.upload(be.alloc(b.length), b), C = be.alloc(s.m * s.n);
      contenders.push({ name: be.name, fn: () => { be.gemm(false, false, s.m, s.n, s.k, 1, A, s.k, B, s.n, 0, C, s.n); } });
      cleanup.push(() => { be.free(A); be.free(B); be.free(C); });
      if (be.simd) {
        // the same product in f32 (f32x4 microkernel), same binary
        const f = be.f32, A32 = f.demote(f.alloc(a.length), A), B32 = f.demote(f.alloc(b.length), B), C32 = f.alloc(s.m * s.n);
        contenders.push({ name: `${be.name}-f32`, fn: () => { f.gemm(false, false, s.m, s.n, s.k, 1, A32, s.k, B32, s.n, 0, C32, s.n); } });
        cleanup.push(() => { f.free(A32); f.free(B32); f.free(C32); });
      }
    }
    const MA = new Matrix(s.m, s.k), MB = new Matrix(s.k, s.n);
    for (let i = 0; i < s.m; i++) for (let j = 0; j < s.k; j++) MA.set(i, j, a[i * s.k + j]);
    for (let i = 0; i < s.k; i++) for (let j = 0; j < s.n; j++) MB.set(i, j, b[i * s.n + j]);
    contenders.push({ name: "ml-matrix", fn: () => { MA.mmul(MB); } });
    const flops = 2 * s.m * s.n * s.k;
    // The f64x2 peak kernel doing the same flop count, interleaved with the GEMMs: the machine's
    // clock drifts between runs, so the fraction of peak is taken within the same rounds.
    const simd = backends.find((b) => b.simd);
    if (simd) {
      const perIter = simd.peakFlops(1), perIter32 = simd.f32.peakFlops(1);
      contenders.push({ name: "peak", fn: () => { simd.peakFlops(Math.ceil(flops / perIter)); } });
      contenders.push({ name: "peak-f32", fn: () => { simd.f32.peakFlops(Math.ceil(flops / perIter32)); } });
    }
    const t = await measure(contenders, o);
    rows.push({ shape: s, gflops: Object.fromEntries(t.map((x) => [x.name, { median: flops / x.seconds / 1e9, min: flops / x.max / 1e9, max: flops / x.min / 1e9 }])) });
    cleanup.forEach((f) => f());
  }
  return rows;
}
