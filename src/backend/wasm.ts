// The "wasm" and "wasm-scalar" backends: the same AssemblyScript kernels, compiled with and without
// SIMD, operating on buffers that live in the module's linear memory (no copies per call).
import type { BinaryId } from "./binaries.js";
import type { Backend, BackendName, Buf, Buf32, ConvGeometry, PackSide, SingleKernels } from "./types.js";
import { LinearAllocator } from "./allocator.js";

/** The kernel exports of assembly/index.ts (pointers are byte offsets). */
interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  simdEnabled(): number;
  fill(x: number, n: number, v: number): void;
  copy(d: number, s: number, n: number): void;
  scale(x: number, n: number, a: number): void;
  axpy(y: number, a: number, x: number, n: number): void;
  axpby(o: number, a: number, x: number, b: number, y: number, n: number): void;
  sub(o: number, x: number, y: number, n: number): void;
  mul(o: number, x: number, y: number, n: number): void;
  dot(x: number, y: number, n: number): number;
  asum(x: number, n: number): number;
  amax(x: number, n: number): number;
  softThreshold(o: number, x: number, t: number, n: number): void;
  scaleColumns(o: number, a: number, rows: number, cols: number, s: number): void;
  momentumStep(th: number, v: number, g: number, n: number, lr: number, mu: number, wd: number): void;
  adamStep(th: number, m: number, v: number, g: number, n: number, lr: number, b1: number, b2: number, eps: number, c1: number, c2: number, wd: number): void;
  gemm(ta: number, tb: number, m: number, n: number, k: number, alpha: number, a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number, work: number): void;
  gemv(t: number, m: number, k: number, alpha: number, a: number, lda: number, x: number, beta: number, y: number): void;
  gemmWorkspaceBytes(): number;
  extractPatches(o: number, ld: number, x: number, n: number, C: number, H: number, W: number, ph: number, pw: number, aug: number): void;
  sumBlocks(o: number, a: number, g: number, s: number, c: number): void;
  broadcastBlocks(o: number, a: number, g: number, s: number, c: number): void;
  relu(o: number, z: number, n: number): void;
  reluMask(o: number, z: number, n: number): void;
  reluBackward(o: number, g: number, z: number, n: number): void;
  choleskyFactor(a: number, n: number, lda: number): number;
  peakF64(iters: number, m: number, a: number): number;
  peakFlopsPerIteration(): number;
  choleskySolve(l: number, n: number, lda: number, b: number, nrhs: number, ldb: number): void;
  solveLowerTransposed(l: number, n: number, lda: number, b: number, rows: number, ldb: number): void;
  im2col(o: number, ld: number, x: number, n: number, C: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number, aug: number): void;
  col2im(o: number, cols: number, ld: number, n: number, C: number, H: number, W: number, kh: number, kw: number, sh: number, sw: number, ph: number, pw: number): void;
  blockTranspose(o: number, a: number, batches: number, rows: number, cols: number): void;
  copyRows(o: number, ldo: number, a: number, lda: number, rows: number, cols: number): void;
  maxPool(o: number, idx: number, x: number, planes: number, H: number, W: number, size: number): void;
  avgPool(o: number, x: number, planes: number, H: number, W: number, size: number): void;
  scatterAdd(gx: number, inCount: number, gy: number, idx: number, outCount: number): void;
  gather(o: number, t: number, idx: number, count: number): void;
  avgPoolBackward(gx: number, gy: number, planes: number, H: number, W: number, size: number): void;
  channelAffine(o: number, x: number, scale: number, shift: number, n: number, C: number, HW: number, acc: number): void;
  channelSums(sumGX: number, sumG: number, g: number, x: number, n: number, C: number, HW: number): void;
  packedLength(side: number, rows: number, cols: number, f32: number): number;
  prepack(side: number, o: number, x: number, trans: number, ld: number, rows: number, cols: number): void;
  prepackF32(side: number, o: number, x: number, trans: number, ld: number, rows: number, cols: number): void;
  gemmPrepacked(side: number, packed: number, x: number, tx: number, ldx: number, m: number, n: number, k: number, beta: number, c: number, ldc: number, work: number): void;
  gemmPrepackedF32(side: number, packed: number, x: number, tx: number, ldx: number, m: number, n: number, k: number, beta: number, c: number, ldc: number, work: number): void;
  gemmF32(ta: number, tb: number, m: number, n: number, k: number, alpha: number, a: number, lda: number, b: number, ldb: number, beta: number, c: number, ldc: number, work: number): void;
  peakF32(iters: number, m: number, a: number): number;
  peakFlopsPerIterationF32(): number;
  demote(o: number, x: number, n: number): void;
  promote(o: number, x: number, n: number): void;
  admmRhsF32(q: number, r: number, y: number, z: number, n: number): void;
  l1DiffF32(x: number, y: number, n: number): number;
  admmUpdateBatch(z: number, y: number, au: number, r: number, alpha: number, t: number, active: number, n: number, B: number, stats: number): void;
  scaleF32(x: number, n: number, a: number): void;
  accumulateF32(out: number, x: number, n: number): void;
  choleskyFactorF32(a: number, n: number, lda: number): number;
  choleskySolveF32(l: number, n: number, lda: number, b: number, nrhs: number, ldb: number): void;
  solveLowerTransposedF32(l: number, n: number, lda: number, b: number, rows: number, ldb: number): void;
  choleskyMultiplyF32(l: number, n: number, lda: number, x: number, t: number): void;
  admmUpdateBatchF32(z: number, y: number, au: number, r: number, alpha: number, t: number, active: number, n: number, B: number, stats: number): void;
}

class WasmBuf implements Buf {
  constructor(readonly ptr: number, readonly length: number, readonly owned: boolean) {}
}

function p(b: Buf): number { return (b as WasmBuf).ptr; }
function n(b: Buf): number { return b.length; }

class WasmBuf32 implements Buf32 {
  readonly precision = "f32" as const;
  constructor(readonly ptr: number, readonly length: number, readonly owned: boolean) {}
}
const p32 = (b: Buf32): number => (b as WasmBuf32).ptr;

/** The f32 kernels of a wasm instance, over the same heap and GEMM workspace as its f64 ones. */
class WasmSingle implements SingleKernels {
  private f32v: Float32Array;
  constructor(private readonly k: KernelExports, private readonly heap: LinearAllocator, private readonly work: number) {
    this.f32v = new Float32Array(k.memory.buffer);
  }
  private mem(): Float32Array {
    if (this.f32v.buffer !== this.k.memory.buffer) this.f32v = new Float32Array(this.k.memory.buffer);
    return this.f32v;
  }
  alloc(length: number): Buf32 {
    const ptr = this.heap.alloc(length * 4);
    this.mem().fill(0, ptr >> 2, (ptr >> 2) + length);
    return new WasmBuf32(ptr, length, true);
  }
  free(buf: Buf32): void {
    const b = buf as WasmBuf32;
    if (!b.owned) throw new Error("wasm backend: free() of an f32 slice; free the buffer it came from");
    this.heap.release(b.ptr);
  }
  slice(buf: Buf32, start: number, length: number): Buf32 { return new WasmBuf32(p32(buf) + start * 4, length, false); }
  view(buf: Buf32): Float32Array { return this.mem().subarray(p32(buf) >> 2, (p32(buf) >> 2) + buf.length); }
  demote(o: Buf32, x: Buf): Buf32 { this.k.demote(p32(o), p(x), o.length); return o; }
  promote(o: Buf, x: Buf32): Buf { this.k.promote(p(o), p32(x), o.length); return o; }
  gemm(ta: boolean, tb: boolean, m: number, nn: number, k: number, alpha: number, a: Buf32, lda: number, b: Buf32, ldb: number, beta: number, c: Buf32, ldc: number): Buf32 {
    this.k.gemmF32(ta ? 1 : 0, tb ? 1 : 0, m, nn, k, alpha, p32(a), lda, p32(b), ldb, beta, p32(c), ldc, this.work);
    return c;
  }
  packedLength(side: PackSide, rows: number, cols: number): number { return this.k.packedLength(side === "a" ? 0 : 1, rows, cols, 1); }
  prepack(side: PackSide, o: Buf32, x: Buf32, trans: boolean, ld: number, rows: number, cols: number): Buf32 {
    this.k.prepackF32(side === "a" ? 0 : 1, p32(o), p32(x), trans ? 1 : 0, ld, rows, cols); return o;
  }
  gemmPrepacked(side: PackSide, packed: Buf32, x: Buf32, tx: boolean, ldx: number, m: number, nn: number, k: number, beta: number, c: Buf32, ldc: number): Buf32 {
    this.k.gemmPrepackedF32(side === "a" ? 0 : 1, p32(packed), p32(x), tx ? 1 : 0, ldx, m, nn, k, beta, p32(c), ldc, this.work); return c;
  }
  scale(x: Buf32, a: number): Buf32 { this.k.scaleF32(p32(x), x.length, a); return x; }
  accumulate(o: Buf32, x: Buf): Buf32 { this.k.accumulateF32(p32(o), p(x), o.length); return o; }
  choleskyFactor(a: Buf32, nn: number, lda = nn): number { return this.k.choleskyFactorF32(p32(a), nn, lda); }
  solveLowerTransposed(l: Buf32, nn: number, lda: number, b: Buf32, rows: number, ldb: number): Buf32 {
    this.k.solveLowerTransposedF32(p32(l), nn, lda, p32(b), rows, ldb); return b;
  }
  choleskySolve(l: Buf32, nn: number, b: Buf32, nrhs: number): Buf32 { this.k.choleskySolveF32(p32(l), nn, nn, p32(b), nrhs, nrhs); return b; }
  choleskyMultiply(l: Buf32, nn: number, x: Buf32, t: Buf32): Buf32 { this.k.choleskyMultiplyF32(p32(l), nn, nn, p32(x), p32(t)); return x; }
  admmRhs(q: Buf32, r: Buf32, y: Buf32, z: Buf32): Buf32 { this.k.admmRhsF32(p32(q), p32(r), p32(y), p32(z), q.length); return q; }
  l1Diff(x: Buf32, y: Buf32): number { return this.k.l1DiffF32(p32(x), p32(y), x.length); }
  admmUpdateBatch(z: Buf32, y: Buf32, au: Buf32, r: Buf32, alpha: number, t: Buf, active: Buf, B: number, stats: Buf): Buf {
    this.k.admmUpdateBatchF32(p32(z), p32(y), p32(au), p32(r), alpha, p(t), p(active), z.length / B, B, p(stats));
    return stats;
  }
  /** Keeps peak results observable so no engine can discard the work. */
  sink = 0;
  peakFlops(iters: number): number {
    this.sink += this.k.peakF32(iters, 1.0000001, 1e-9);
    return iters * this.k.peakFlopsPerIterationF32();
  }
}

export class WasmBackend implements Backend {
  readonly simd: boolean;
  private readonly heap: LinearAllocator;
  private readonly work: number;
  private f64: Float64Array;
  readonly f32: SingleKernels;

  constructor(readonly name: BackendName, readonly binary: BinaryId, private readonly k: KernelExports) {
    this.simd = k.simdEnabled() === 1;
    this.heap = new LinearAllocator(k.memory, k.heapBase());
    this.f64 = new Float64Array(k.memory.buffer);
    this.work = this.heap.alloc(k.gemmWorkspaceBytes());
    this.f32 = new WasmSingle(k, this.heap, this.work);
  }

  private mem(): Float64Array {
    if (this.f64.buffer !== this.k.memory.buffer) this.f64 = new Float64Array(this.k.memory.buffer);
    return this.f64;
  }

  alloc(length: number): Buf {
    const ptr = this.heap.alloc(length * 8);
    this.mem().fill(0, ptr >> 3, (ptr >> 3) + length);
    return new WasmBuf(ptr, length, true);
  }
  free(buf: Buf): void {
    const b = buf as WasmBuf;
    if (!b.owned) throw new Error("wasm backend: free() of a slice; free the buffer it came from");
    this.heap.release(b.ptr);
  }
  slice(buf: Buf, start: number, length: number): Buf { return new WasmBuf(p(buf) + start * 8, length, false); }
  view(buf: Buf): Float64Array { return this.mem().subarray(p(buf) >> 3, (p(buf) >> 3) + buf.length); }
  upload(buf: Buf, src: ArrayLike<number>, at = 0): Buf { this.mem().set(src, (p(buf) >> 3) + at); return buf; }
  download(buf: Buf): Float64Array { return this.view(buf).slice(); }
  allocatedBytes(): number { return this.heap.allocated; }
  peakBytes(): number { return this.heap.peak; }
  resetPeak(): void { this.heap.resetPeak(); }
  memoryBytes(): number { return this.k.memory.buffer.byteLength; }

  fill(x: Buf, v: number): Buf { this.k.fill(p(x), n(x), v); return x; }
  copy(d: Buf, s: Buf): Buf { this.k.copy(p(d), p(s), n(d)); return d; }
  scale(x: Buf, a: number): Buf { this.k.scale(p(x), n(x), a); return x; }
  axpy(y: Buf, a: number, x: Buf): Buf { this.k.axpy(p(y), a, p(x), n(y)); return y; }
  axpby(o: Buf, a: number, x: Buf, b: number, y: Buf): Buf { this.k.axpby(p(o), a, p(x), b, p(y), n(o)); return o; }
  sub(o: Buf, x: Buf, y: Buf): Buf { this.k.sub(p(o), p(x), p(y), n(o)); return o; }
  mul(o: Buf, x: Buf, y: Buf): Buf { this.k.mul(p(o), p(x), p(y), n(o)); return o; }
  dot(x: Buf, y: Buf): number { return this.k.dot(p(x), p(y), n(x)); }
  asum(x: Buf): number { return this.k.asum(p(x), n(x)); }
  amax(x: Buf): number { return this.k.amax(p(x), n(x)); }
  scaleColumns(o: Buf, a: Buf, rows: number, cols: number, s: Buf): Buf { this.k.scaleColumns(p(o), p(a), rows, cols, p(s)); return o; }
  softThreshold(o: Buf, x: Buf, t: number): Buf { this.k.softThreshold(p(o), p(x), t, n(o)); return o; }
  admmUpdateBatch(z: Buf, y: Buf, au: Buf, r: Buf, alpha: number, t: Buf, active: Buf, B: number, stats: Buf): Buf {
    this.k.admmUpdateBatch(p(z), p(y), p(au), p(r), alpha, p(t), p(active), n(z) / B, B, p(stats));
    return stats;
  }
  momentumStep(th: Buf, v: Buf, g: Buf, lr: number, mu: number, wd: number): Buf {
    this.k.momentumStep(p(th), p(v), p(g), n(th), lr, mu, wd); return th;
  }
  adamStep(th: Buf, m: Buf, v: Buf, g: Buf, lr: number, b1: number, b2: number, eps: number, c1: number, c2: number, wd: number): Buf {
    this.k.adamStep(p(th), p(m), p(v), p(g), n(th), lr, b1, b2, eps, c1, c2, wd); return th;
  }
  gemm(ta: boolean, tb: boolean, m: number, nn: number, k: number, alpha: number, a: Buf, lda: number, b: Buf, ldb: number, beta: number, c: Buf, ldc: number): Buf {
    this.k.gemm(ta ? 1 : 0, tb ? 1 : 0, m, nn, k, alpha, p(a), lda, p(b), ldb, beta, p(c), ldc, this.work);
    return c;
  }
  packedLength(side: PackSide, rows: number, cols: number): number { return this.k.packedLength(side === "a" ? 0 : 1, rows, cols, 0); }
  prepack(side: PackSide, o: Buf, x: Buf, trans: boolean, ld: number, rows: number, cols: number): Buf {
    this.k.prepack(side === "a" ? 0 : 1, p(o), p(x), trans ? 1 : 0, ld, rows, cols); return o;
  }
  gemmPrepacked(side: PackSide, packed: Buf, x: Buf, tx: boolean, ldx: number, m: number, nn: number, k: number, beta: number, c: Buf, ldc: number): Buf {
    this.k.gemmPrepacked(side === "a" ? 0 : 1, p(packed), p(x), tx ? 1 : 0, ldx, m, nn, k, beta, p(c), ldc, this.work); return c;
  }
  gemv(t: boolean, m: number, k: number, alpha: number, a: Buf, lda: number, x: Buf, beta: number, y: Buf): Buf {
    this.k.gemv(t ? 1 : 0, m, k, alpha, p(a), lda, p(x), beta, p(y)); return y;
  }
  extractPatches(o: Buf, ld: number, x: Buf, nn: number, C: number, H: number, W: number, ph: number, pw: number, aug: boolean): Buf {
    this.k.extractPatches(p(o), ld, p(x), nn, C, H, W, ph, pw, aug ? 1 : 0); return o;
  }
  sumBlocks(o: Buf, a: Buf, g: number, s: number, c: number): Buf { this.k.sumBlocks(p(o), p(a), g, s, c); return o; }
  broadcastBlocks(o: Buf, a: Buf, g: number, s: number, c: number): Buf { this.k.broadcastBlocks(p(o), p(a), g, s, c); return o; }
  relu(o: Buf, z: Buf): Buf { this.k.relu(p(o), p(z), n(o)); return o; }
  reluMask(o: Buf, z: Buf): Buf { this.k.reluMask(p(o), p(z), n(o)); return o; }
  reluBackward(o: Buf, g: Buf, z: Buf): Buf { this.k.reluBackward(p(o), p(g), p(z), n(o)); return o; }
  peakFlops(iters: number): number {
    this.sink += this.k.peakF64(iters, 1.0000001, 1e-9);
    return iters * this.k.peakFlopsPerIteration();
  }
  /** Keeps peak results observable so no engine can discard the work. */
  sink = 0;
  im2col(out: Buf, ld: number, x: Buf, n: number, g: ConvGeometry, augment: boolean): Buf {
    this.k.im2col(p(out), ld, p(x), n, g.C, g.H, g.W, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW, augment ? 1 : 0);
    return out;
  }
  col2im(out: Buf, cols: Buf, ld: number, n: number, g: ConvGeometry): Buf {
    this.k.col2im(p(out), p(cols), ld, n, g.C, g.H, g.W, g.kh, g.kw, g.strideH, g.strideW, g.padH, g.padW);
    return out;
  }
  blockTranspose(o: Buf, a: Buf, batches: number, rows: number, cols: number): Buf { this.k.blockTranspose(p(o), p(a), batches, rows, cols); return o; }
  copyRows(o: Buf, ldo: number, a: Buf, lda: number, rows: number, cols: number): Buf { this.k.copyRows(p(o), ldo, p(a), lda, rows, cols); return o; }
  maxPool(o: Buf, idx: Buf, x: Buf, planes: number, H: number, W: number, size: number): Buf { this.k.maxPool(p(o), p(idx), p(x), planes, H, W, size); return o; }
  avgPool(o: Buf, x: Buf, planes: number, H: number, W: number, size: number): Buf { this.k.avgPool(p(o), p(x), planes, H, W, size); return o; }
  scatterAdd(gx: Buf, gy: Buf, idx: Buf): Buf { this.k.scatterAdd(p(gx), n(gx), p(gy), p(idx), n(gy)); return gx; }
  gather(o: Buf, t: Buf, idx: Buf): Buf { this.k.gather(p(o), p(t), p(idx), n(o)); return o; }
  avgPoolBackward(gx: Buf, gy: Buf, planes: number, H: number, W: number, size: number): Buf { this.k.avgPoolBackward(p(gx), p(gy), planes, H, W, size); return gx; }
  channelAffine(o: Buf, x: Buf, scale: Buf, shift: Buf, nn: number, C: number, HW: number, acc: number): Buf { this.k.channelAffine(p(o), p(x), p(scale), p(shift), nn, C, HW, acc); return o; }
  channelSums(sx: Buf, s: Buf, g: Buf, x: Buf, nn: number, C: number, HW: number): Buf { this.k.channelSums(p(sx), p(s), p(g), p(x), nn, C, HW); return sx; }
  choleskyFactor(a: Buf, nn: number, lda = nn): number { return this.k.choleskyFactor(p(a), nn, lda); }
  solveLowerTransposed(l: Buf, nn: number, lda: number, b: Buf, rows: number, ldb: number): Buf {
    this.k.solveLowerTransposed(p(l), nn, lda, p(b), rows, ldb);
    return b;
  }
  choleskySolve(l: Buf, nn: number, b: Buf, nrhs: number): Buf { this.k.choleskySolve(p(l), nn, nn, p(b), nrhs, nrhs); return b; }
}

/**
 * Instantiates a compiled kernel binary (build/simd.wasm or build/scalar.wasm) as a backend. The
 * binaries import nothing (stub runtime, no asserts) and export plain numeric functions, so they
 * are instantiated directly: @assemblyscript/loader's instanceof check would send a module compiled
 * in another realm (a host binding it into an edge context, as Vercel's Edge does) to
 * WebAssembly.compile, which those runtimes forbid.
 */
export async function createWasmBackend(name: BackendName, binary: BinaryId, module: WebAssembly.Module): Promise<Backend> {
  const instance = await WebAssembly.instantiate(module, {});
  return new WasmBackend(name, binary, instance.exports as unknown as KernelExports);
}
