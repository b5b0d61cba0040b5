// The Backend interface: the one seam between the algorithms (model, training, solvers), which are
// written once, and the kernels, which exist per backend ("wasm", "wasm-scalar", "js").
//
// Shape contract: matrices are row-major f64 with an explicit leading dimension (ld); vectors are
// whole Bufs (their length is n). Kernels trust their inputs: validation happens at the public API.

import type { BinaryId } from "./binaries.js";

/** A handle to f64 storage owned by one backend. Never index it directly: use backend.view(). */
export interface Buf {
  readonly length: number;
}

/** Which gemm operand a prepacked matrix is: "a" (op(A), m x k) or "b" (op(B), k x n). */
export type PackSide = "a" | "b";

/** A handle to f32 storage (the mixed-precision solver's), owned by one backend; length in f32 elements. */
export interface Buf32 {
  readonly length: number;
  readonly precision: "f32";
}

/**
 * The f32 kernels beside the f64 ones (backend.f32): what ADMM needs to find the support in single
 * precision (f32x4 does four lanes per instruction where f64x2 does two). Same contracts as the f64
 * kernels of the same names; polish and certificates stay in f64.
 */
export interface SingleKernels {
  alloc(length: number): Buf32;
  free(buf: Buf32): void;
  slice(buf: Buf32, start: number, length: number): Buf32;
  /** A live Float32Array over buf (invalidated by memory growth, as Backend.view). */
  view(buf: Buf32): Float32Array;
  /** out = x rounded to f32 (round to nearest). */
  demote(out: Buf32, x: Buf): Buf32;
  /** out = x in f64 (exact). */
  promote(out: Buf, x: Buf32): Buf;
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Buf32, lda: number, b: Buf32, ldb: number, beta: number, c: Buf32, ldc: number): Buf32;
  packedLength(side: PackSide, rows: number, cols: number): number;
  prepack(side: PackSide, out: Buf32, x: Buf32, trans: boolean, ld: number, rows: number, cols: number): Buf32;
  gemmPrepacked(side: PackSide, packed: Buf32, x: Buf32, transX: boolean, ldx: number, m: number, n: number, k: number, beta: number, c: Buf32, ldc: number): Buf32;
  /** x *= a */
  scale(x: Buf32, a: number): Buf32;
  /** q = r - y + z */
  admmRhs(q: Buf32, r: Buf32, y: Buf32, z: Buf32): Buf32;
  /** sum |x - y| (accumulated in f64). */
  l1Diff(x: Buf32, y: Buf32): number;
  /** Backend.admmUpdateBatch in f32 (t, active and stats are f64). */
  admmUpdateBatch(z: Buf32, y: Buf32, au: Buf32, r: Buf32, alpha: number, t: Buf, active: Buf, B: number, stats: Buf): Buf;
  /** peakFlops with f32 lanes (f32x4 in the SIMD build). */
  peakFlops(iters: number): number;
  /** out (f32) += x (f64), each sum rounded once: f64 partial products accumulated into an f32 matrix. */
  accumulate(out: Buf32, x: Buf): Buf32;
  /** Backend.choleskyFactor in f32. */
  choleskyFactor(a: Buf32, n: number, lda?: number): number;
  /** Backend.solveLowerTransposed in f32. */
  solveLowerTransposed(l: Buf32, n: number, lda: number, b: Buf32, rows: number, ldb: number): Buf32;
  /** Backend.choleskySolve in f32. */
  choleskySolve(l: Buf32, n: number, b: Buf32, nrhs: number): Buf32;
  /** x <- L L^T x for one vector x (n) with the factor L (n x n), t (n) scratch: a power iteration's product. */
  choleskyMultiply(l: Buf32, n: number, x: Buf32, t: Buf32): Buf32;
}

export type BackendName = "wasm" | "wasm-simd" | "wasm-scalar" | "js";
export const BACKEND_NAMES: readonly BackendName[] = ["wasm", "wasm-simd", "wasm-scalar", "js"];

export interface Backend {
  readonly name: BackendName;
  /** True when the kernels use f64x2 SIMD. */
  readonly simd: boolean;
  /** The kernel binary this instance runs (a row of BINARIES), or "js" for the TypeScript kernels. */
  readonly binary: BinaryId | "js";
  /** The f32 kernels (mixed precision). */
  readonly f32: SingleKernels;

  /** A zero-filled buffer of `length` f64. */
  alloc(length: number): Buf;
  /** Releases a buffer from alloc (not a slice). Using it afterwards is undefined. */
  free(buf: Buf): void;
  /** A handle to elements [start, start + length) of buf, sharing its storage (no copy). */
  slice(buf: Buf, start: number, length: number): Buf;
  /**
   * A live Float64Array over buf's storage. For wasm it is invalidated when memory grows (any
   * alloc may grow it), so re-take it after allocating instead of holding it.
   */
  view(buf: Buf): Float64Array;
  /** Copies src into buf starting at element `at` (default 0). */
  upload(buf: Buf, src: ArrayLike<number>, at?: number): Buf;
  /** A copy of buf's contents in a fresh Float64Array (safe to keep). */
  download(buf: Buf): Float64Array;
  /** Bytes currently allocated (for memory reports and leak tests). */
  allocatedBytes(): number;
  /** Most bytes allocated at once since creation or the last resetPeak() (for memory reports). */
  peakBytes(): number;
  resetPeak(): void;
  /**
   * Bytes the backend holds from the runtime: a wasm instance's linear memory (it grows and never
   * shrinks, so this is its high-water mark plus the binary's static data); js: peakBytes().
   */
  memoryBytes(): number;

  // Level 1 (n = out.length or x.length)
  fill(x: Buf, value: number): Buf;
  copy(dst: Buf, src: Buf): Buf;
  scale(x: Buf, a: number): Buf;
  /** y += a x */
  axpy(y: Buf, a: number, x: Buf): Buf;
  /** out = a x + b y */
  axpby(out: Buf, a: number, x: Buf, b: number, y: Buf): Buf;
  /** out = x - y */
  sub(out: Buf, x: Buf, y: Buf): Buf;
  /** out = x .* y */
  mul(out: Buf, x: Buf, y: Buf): Buf;
  dot(x: Buf, y: Buf): number;
  asum(x: Buf): number;
  amax(x: Buf): number;
  /** out (rows x cols) = a with column c scaled by s[c] (out may alias a). */
  scaleColumns(out: Buf, a: Buf, rows: number, cols: number, s: Buf): Buf;
  /** out = sign(x) max(|x| - t, 0) */
  softThreshold(out: Buf, x: Buf, t: number): Buf;
  /**
   * The fused over-relaxed ADMM step (assembly/vector.ts admmStep) on B problems in one call
   * (z, y, au, r: B x n, n = z.length / B): problem b with threshold t[b], skipped where
   * active[b] = 0, updates its z and y and writes [||au - r - z'||^2, ||z' - z||^2, ||au||^2,
   * ||z'||^2, ||y'||^2] to stats[5 b .. 5 b + 5) (stats B x 5).
   */
  admmUpdateBatch(z: Buf, y: Buf, au: Buf, r: Buf, alpha: number, t: Buf, active: Buf, B: number, stats: Buf): Buf;
  /** v = mu v + g + wd theta; theta -= lr v */
  momentumStep(theta: Buf, vel: Buf, grad: Buf, lr: number, mu: number, wd: number): Buf;
  /** Adam with bias corrections c1 = 1 - b1^t, c2 = 1 - b2^t; wd added to the gradient. */
  adamStep(theta: Buf, m: Buf, v: Buf, grad: Buf, lr: number, b1: number, b2: number, eps: number, c1: number, c2: number, wd: number): Buf;

  // Level 2/3
  /** C = alpha op(A) op(B) + beta C; op(A): m x k, op(B): k x n. C must not alias A or B. */
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Buf, lda: number, b: Buf, ldb: number, beta: number, c: Buf, ldc: number): Buf;
  /** y = alpha op(A) x + beta y; op(A): m x k. */
  /** Entries prepack writes for op(X): side "a" (rows m x cols k) or "b" (rows k x cols n). */
  packedLength(side: PackSide, rows: number, cols: number): number;
  /** out = op(X) (rows x cols) packed as gemm's A or B operand, for many gemmPrepacked calls. */
  prepack(side: PackSide, out: Buf, x: Buf, trans: boolean, ld: number, rows: number, cols: number): Buf;
  /**
   * C (m x n) = op(A) op(B) + beta C where one operand is prepacked (side) and the other is
   * (x, transX, ldx): bit for bit gemm with alpha 1 on the unpacked operand, without repacking it.
   */
  gemmPrepacked(side: PackSide, packed: Buf, x: Buf, transX: boolean, ldx: number, m: number, n: number, k: number, beta: number, c: Buf, ldc: number): Buf;
  gemv(trans: boolean, m: number, k: number, alpha: number, a: Buf, lda: number, x: Buf, beta: number, y: Buf): Buf;

  // CNN kernels
  /** Non-overlapping patches of x (n x C x H x W) into out ((n k) x ld); see assembly/patches.ts. */
  extractPatches(out: Buf, ld: number, x: Buf, n: number, C: number, H: number, W: number, ph: number, pw: number, augment: boolean): Buf;
  /**
   * General convolution patches: one row (stride ld) per (sample, output y, output x) holding the
   * C kh kw inputs under the kernel, channel-major, zeros over the padding; column C kh kw = 1 when
   * augment. Output size (H + 2 padH - kh) / strideH + 1 (the caller checks it is whole).
   */
  im2col(out: Buf, ld: number, x: Buf, n: number, g: ConvGeometry, augment: boolean): Buf;
  /** Adjoint of im2col: out (n x C x H x W) = the sum of every column entry into its input pixel. */
  col2im(out: Buf, cols: Buf, ld: number, n: number, g: ConvGeometry): Buf;

  // Layout and pooling of sequential models (out first; planes = n C planes of H x W).
  /** out (batches x cols x rows) = each batch of a (batches x rows x cols) transposed. */
  blockTranspose(out: Buf, a: Buf, batches: number, rows: number, cols: number): Buf;
  /** out (rows x cols, row stride ldo) = a (rows x cols, row stride lda). */
  copyRows(out: Buf, ldo: number, a: Buf, lda: number, rows: number, cols: number): Buf;
  /** Max pooling (size x size, stride size): out and idx (each maximum's index into x, first on ties). */
  maxPool(out: Buf, idx: Buf, x: Buf, planes: number, H: number, W: number, size: number): Buf;
  /** Average pooling (size x size, stride size). */
  avgPool(out: Buf, x: Buf, planes: number, H: number, W: number, size: number): Buf;
  /** gx (length inCount) = 0, then gx[idx[i]] += gy[i] for every i of gy: max pooling's VJP. */
  scatterAdd(gx: Buf, gy: Buf, idx: Buf): Buf;
  /** out[i] = t[idx[i]] for every i of out: max pooling's JVP. */
  gather(out: Buf, t: Buf, idx: Buf): Buf;
  /** gx (planes x H x W) = average pooling's VJP of gy. */
  avgPoolBackward(gx: Buf, gy: Buf, planes: number, H: number, W: number, size: number): Buf;
  /** out (n x C x HW) = acc * out + scale[c] x + shift[c] per channel c (acc 0 or 1; out may be x): BatchNorm. */
  channelAffine(out: Buf, x: Buf, scale: Buf, shift: Buf, n: number, C: number, HW: number, acc: number): Buf;
  /** sumGX[c] = sum of g .* x over channel c's entries of n x C x HW, sumG[c] = sum of g there. */
  channelSums(sumGX: Buf, sumG: Buf, g: Buf, x: Buf, n: number, C: number, HW: number): Buf;
  /** out (groups x cols) = sums of `size` consecutive rows of a. */
  sumBlocks(out: Buf, a: Buf, groups: number, size: number, cols: number): Buf;
  /** out (groups*size x cols) repeats each row of a `size` times. */
  broadcastBlocks(out: Buf, a: Buf, groups: number, size: number, cols: number): Buf;
  relu(out: Buf, z: Buf): Buf;
  reluMask(out: Buf, z: Buf): Buf;
  /** out = g where z > 0 else 0 */
  reluBackward(out: Buf, g: Buf, z: Buf): Buf;

  /**
   * Register-only arithmetic for `iters` iterations (independent multiply and add chains, no
   * memory traffic); returns the flops executed. Benchmarks divide by time for the peak.
   */
  peakFlops(iters: number): number;

  // Factorizations
  /**
   * In-place unblocked Cholesky of an n x n SPD matrix (row stride lda, default n); returns 0, or
   * i + 1 for the first bad pivot i. Zeroes the strict upper triangle of the n x n block only.
   */
  choleskyFactor(a: Buf, n: number, lda?: number): number;
  /** Solves X L^T = B in place on b (rows x n, row stride ldb), L lower triangular (n x n, lda). */
  solveLowerTransposed(l: Buf, n: number, lda: number, b: Buf, rows: number, ldb: number): Buf;
  /** Solves L L^T X = B in place on b (n x nrhs). */
  choleskySolve(l: Buf, n: number, b: Buf, nrhs: number): Buf;
}

/** Geometry of a 2-D convolution's input and kernel. */
export interface ConvGeometry {
  readonly C: number; readonly H: number; readonly W: number;
  readonly kh: number; readonly kw: number;
  readonly strideH: number; readonly strideW: number;
  readonly padH: number; readonly padW: number;
}
