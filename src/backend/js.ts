// The "js" backend: the same kernels in plain TypeScript over Float64Arrays, written as well as JS
// allows (packed, register-blocked GEMM; unrolled loops). Accumulation orders mirror the SIMD
// kernels lane by lane, so results match the "wasm" backend bit for bit on most inputs.
import type { Backend, Buf, Buf32, ConvGeometry, PackSide, SingleKernels } from "./types.js";

class JsBuf implements Buf {
  constructor(readonly data: Float64Array, readonly owned: boolean) {}
  get length(): number { return this.data.length; }
}

const d = (b: Buf): Float64Array => (b as JsBuf).data;

class JsBuf32 implements Buf32 {
  readonly precision = "f32" as const;
  constructor(readonly data: Float32Array, readonly owned: boolean) {}
  get length(): number { return this.data.length; }
}
const f = (b: Buf32): Float32Array => (b as JsBuf32).data;

/**
 * The f32 kernels in TypeScript: storage is Float32Array (every store rounds to f32), arithmetic is
 * JS's f64 in between, so results agree with the wasm f32 kernels to f32 rounding, not bit for bit.
 * JS has no f32 lanes: these are for the algorithms' parity, never faster than the f64 kernels.
 */
class JsSingle implements SingleKernels {
  constructor(private readonly count: (bytes: number) => void) {}
  alloc(length: number): Buf32 { this.count(length * 4); return new JsBuf32(new Float32Array(length), true); }
  free(buf: Buf32): void {
    if (!(buf as JsBuf32).owned) throw new Error("js backend: free() of an f32 slice; free the buffer it came from");
    this.count(-buf.length * 4);
  }
  slice(buf: Buf32, start: number, length: number): Buf32 { return new JsBuf32(f(buf).subarray(start, start + length), false); }
  view(buf: Buf32): Float32Array { return f(buf); }
  demote(out: Buf32, x: Buf): Buf32 { f(out).set(d(x).subarray(0, out.length)); return out; }
  promote(out: Buf, x: Buf32): Buf { d(out).set(f(x).subarray(0, out.length)); return out; }
  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Buf32, lda: number, b: Buf32, ldb: number, beta: number, c: Buf32, ldc: number): Buf32 {
    const A = f(a), B = f(b), C = f(c), row = new Float64Array(n);
    for (let i = 0; i < m; i++) {
      row.fill(0);
      for (let p = 0; p < k; p++) {
        const aip = alpha * (transA ? A[p * lda + i] : A[i * lda + p]);
        if (transB) for (let j = 0; j < n; j++) row[j] += aip * B[j * ldb + p];
        else { const o = p * ldb; for (let j = 0; j < n; j++) row[j] += aip * B[o + j]; }
      }
      const o = i * ldc;
      for (let j = 0; j < n; j++) C[o + j] = (beta === 0 ? 0 : beta * C[o + j]) + row[j];
    }
    return c;
  }
  packedLength(_side: PackSide, rows: number, cols: number): number { return rows * cols; }
  prepack(_side: PackSide, out: Buf32, x: Buf32, trans: boolean, ld: number, rows: number, cols: number): Buf32 {
    untransposed(f(out), f(x), trans, ld, rows, cols);
    return out;
  }
  gemmPrepacked(side: PackSide, packed: Buf32, x: Buf32, tx: boolean, ldx: number, m: number, n: number, k: number, beta: number, c: Buf32, ldc: number): Buf32 {
    return prepackedProduct((...a) => this.gemm(...a), side, packed, x, tx, ldx, m, n, k, beta, c, ldc);
  }
  scale(x: Buf32, a: number): Buf32 { const v = f(x); for (let i = 0; i < v.length; i++) v[i] *= a; return x; }
  admmRhs(q: Buf32, r: Buf32, y: Buf32, z: Buf32): Buf32 {
    const Q = f(q), R = f(r), Y = f(y), Z = f(z);
    for (let i = 0; i < Q.length; i++) Q[i] = R[i] - Y[i] + Z[i];
    return q;
  }
  l1Diff(x: Buf32, y: Buf32): number {
    const X = f(x), Y = f(y);
    let s = 0;
    for (let i = 0; i < X.length; i++) s += Math.abs(X[i] - Y[i]);
    return s;
  }
  accumulate(out: Buf32, x: Buf): Buf32 { const o = f(out), v = d(x); for (let i = 0; i < o.length; i++) o[i] += v[i]; return out; }
  choleskyFactor(a: Buf32, n: number, lda = n): number { return choleskyFactorArray(f(a), n, lda); }
  solveLowerTransposed(l: Buf32, n: number, lda: number, b: Buf32, rows: number, ldb: number): Buf32 { solveLowerTransposedArray(f(l), n, lda, f(b), rows, ldb); return b; }
  choleskySolve(l: Buf32, n: number, b: Buf32, nrhs: number): Buf32 { choleskySolveArray(f(l), n, f(b), nrhs); return b; }
  choleskyMultiply(l: Buf32, n: number, x: Buf32, t: Buf32): Buf32 { choleskyMultiplyArray(f(l), n, f(x), f(t)); return x; }
  admmUpdateBatch(z: Buf32, y: Buf32, au: Buf32, r: Buf32, alpha: number, t: Buf, active: Buf, B: number, stats: Buf): Buf {
    admmStepBatch(f(z), f(y), f(au), f(r), Math.fround(alpha), d(t), d(active), B, d(stats));
    return stats;
  }
  sink = 0;
  peakFlops(iters: number): number {
    const m = Math.fround(1.0000001), a = Math.fround(1e-9);
    let x0 = 1.0, x1 = 1.1, x2 = 1.2, y0 = 0.0, y1 = 0.1, y2 = 0.2;
    for (let i = 0; i < iters; i++) {
      x0 = Math.fround(x0 * m); x1 = Math.fround(x1 * m); x2 = Math.fround(x2 * m);
      y0 = Math.fround(y0 + a); y1 = Math.fround(y1 + a); y2 = Math.fround(y2 + a);
    }
    this.sink += x0 + x1 + x2 + y0 + y1 + y2;
    return iters * 6;
  }
}

// Must equal assembly/gemm.ts.
const MR = 4, NR = 4, MC = 64, KC = 256, NC = 512;

export class JsBackend implements Backend {
  readonly name = "js" as const;
  readonly simd = false;
  readonly binary = "js" as const;
  readonly f32: SingleKernels = new JsSingle((bytes) => { this.bytes += bytes; this.high = Math.max(this.high, this.bytes); });
  private bytes = 0;
  private readonly pa = new Float64Array(MC * KC);
  private readonly pb = new Float64Array(KC * NC);

  alloc(length: number): Buf { this.bytes += length * 8; this.high = Math.max(this.high, this.bytes); return new JsBuf(new Float64Array(length), true); }
  free(buf: Buf): void {
    const b = buf as JsBuf;
    if (!b.owned) throw new Error("js backend: free() of a slice; free the buffer it came from");
    this.bytes -= b.length * 8;
  }
  slice(buf: Buf, start: number, length: number): Buf { return new JsBuf(d(buf).subarray(start, start + length), false); }
  view(buf: Buf): Float64Array { return d(buf); }
  upload(buf: Buf, src: ArrayLike<number>, at = 0): Buf { d(buf).set(src, at); return buf; }
  download(buf: Buf): Float64Array { return d(buf).slice(); }
  allocatedBytes(): number { return this.bytes; }
  peakBytes(): number { return this.high; }
  resetPeak(): void { this.high = this.bytes; }
  memoryBytes(): number { return this.high; }
  private high = 0;

  fill(x: Buf, v: number): Buf { d(x).fill(v); return x; }
  copy(dst: Buf, src: Buf): Buf { d(dst).set(d(src).subarray(0, dst.length)); return dst; }
  scale(x: Buf, a: number): Buf { const v = d(x); for (let i = 0; i < v.length; i++) v[i] *= a; return x; }
  axpy(y: Buf, a: number, x: Buf): Buf {
    const yv = d(y), xv = d(x), n = yv.length;
    for (let i = 0; i < n; i++) yv[i] += a * xv[i];
    return y;
  }
  axpby(out: Buf, a: number, x: Buf, b: number, y: Buf): Buf {
    const o = d(out), xv = d(x), yv = d(y), n = o.length;
    for (let i = 0; i < n; i++) o[i] = a * xv[i] + b * yv[i];
    return out;
  }
  sub(out: Buf, x: Buf, y: Buf): Buf {
    const o = d(out), xv = d(x), yv = d(y), n = o.length;
    for (let i = 0; i < n; i++) o[i] = xv[i] - yv[i];
    return out;
  }
  mul(out: Buf, x: Buf, y: Buf): Buf {
    const o = d(out), xv = d(x), yv = d(y), n = o.length;
    for (let i = 0; i < n; i++) o[i] = xv[i] * yv[i];
    return out;
  }
  dot(x: Buf, y: Buf): number { return dotArrays(d(x), 0, d(y), 0, x.length); }
  asum(x: Buf): number {
    const v = d(x), n = v.length;
    let s0 = 0, s1 = 0, i = 0;
    for (; i + 2 <= n; i += 2) { s0 += Math.abs(v[i]); s1 += Math.abs(v[i + 1]); }
    let s = s0 + s1;
    for (; i < n; i++) s += Math.abs(v[i]);
    return s;
  }
  amax(x: Buf): number {
    const v = d(x);
    let m = 0;
    for (let i = 0; i < v.length; i++) { const a = Math.abs(v[i]); if (a > m) m = a; }
    return m;
  }
  scaleColumns(out: Buf, a: Buf, rows: number, cols: number, s: Buf): Buf {
    const O = d(out), A = d(a), S = d(s);
    for (let r = 0; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++) O[base + c] = A[base + c] * S[c];
    }
    return out;
  }
  softThreshold(out: Buf, x: Buf, t: number): Buf {
    const o = d(out), xv = d(x), n = o.length;
    for (let i = 0; i < n; i++) { const v = xv[i]; o[i] = Math.max(v - t, 0) + Math.min(v + t, 0); }
    return out;
  }
  admmUpdateBatch(z: Buf, y: Buf, au: Buf, r: Buf, alpha: number, t: Buf, active: Buf, B: number, stats: Buf): Buf {
    admmStepBatch(d(z), d(y), d(au), d(r), alpha, d(t), d(active), B, d(stats));
    return stats;
  }
  momentumStep(theta: Buf, vel: Buf, grad: Buf, lr: number, mu: number, wd: number): Buf {
    const th = d(theta), v = d(vel), g = d(grad), n = th.length;
    for (let i = 0; i < n; i++) {
      const t = th[i];
      const vi = mu * v[i] + (g[i] + wd * t);
      v[i] = vi;
      th[i] = t - lr * vi;
    }
    return theta;
  }
  adamStep(theta: Buf, m: Buf, v: Buf, grad: Buf, lr: number, b1: number, b2: number, eps: number, c1: number, c2: number, wd: number): Buf {
    const th = d(theta), mv = d(m), vv = d(v), g = d(grad), n = th.length;
    for (let i = 0; i < n; i++) {
      const t = th[i];
      const gi = g[i] + wd * t;
      const mi = b1 * mv[i] + (1 - b1) * gi;
      const vi = b2 * vv[i] + (1 - b2) * gi * gi;
      mv[i] = mi; vv[i] = vi;
      th[i] = t - lr * (mi / c1) / (Math.sqrt(vi / c2) + eps);
    }
    return theta;
  }

  gemm(transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Buf, lda: number, b: Buf, ldb: number, beta: number, c: Buf, ldc: number): Buf {
    const A = d(a), B = d(b), C = d(c), pa = this.pa, pb = this.pb;
    if (beta !== 1) {
      for (let i = 0; i < m; i++) {
        const row = i * ldc;
        for (let j = 0; j < n; j++) C[row + j] = beta === 0 ? 0 : beta * C[row + j];
      }
    }
    if (alpha === 0 || k === 0) return c;
    for (let jc = 0; jc < n; jc += NC) {
      const nc = Math.min(NC, n - jc);
      for (let pc = 0; pc < k; pc += KC) {
        const kc = Math.min(KC, k - pc);
        // pack B: panels of NR columns, p-major inside a panel
        for (let jr = 0; jr < nc; jr += NR) {
          const base = jr * kc, cols = Math.min(NR, nc - jr);
          for (let p = 0; p < kc; p++) {
            for (let jj = 0; jj < NR; jj++) {
              const col = jc + jr + jj, row = pc + p;
              pb[base + p * NR + jj] = jj < cols ? (transB ? B[col * ldb + row] : B[row * ldb + col]) : 0;
            }
          }
        }
        for (let ic = 0; ic < m; ic += MC) {
          const mc = Math.min(MC, m - ic);
          for (let ir = 0; ir < mc; ir += MR) {
            const base = ir * kc, rows = Math.min(MR, mc - ir);
            for (let p = 0; p < kc; p++) {
              for (let ii = 0; ii < MR; ii++) {
                const row = ic + ir + ii, col = pc + p;
                pa[base + p * MR + ii] = ii < rows ? alpha * (transA ? A[col * lda + row] : A[row * lda + col]) : 0;
              }
            }
          }
          for (let jr = 0; jr < nc; jr += NR) {
            const nr = Math.min(NR, nc - jr);
            for (let ir = 0; ir < mc; ir += MR) {
              const mr = Math.min(MR, mc - ir);
              microKernel(kc, pa, ir * kc, pb, jr * kc, C, (ic + ir) * ldc + jc + jr, ldc, mr, nr);
            }
          }
        }
      }
    }
    return c;
  }

  packedLength(_side: PackSide, rows: number, cols: number): number { return rows * cols; }
  prepack(_side: PackSide, out: Buf, x: Buf, trans: boolean, ld: number, rows: number, cols: number): Buf {
    untransposed(d(out), d(x), trans, ld, rows, cols);
    return out;
  }
  gemmPrepacked(side: PackSide, packed: Buf, x: Buf, tx: boolean, ldx: number, m: number, n: number, k: number, beta: number, c: Buf, ldc: number): Buf {
    return prepackedProduct((...a) => this.gemm(...a), side, packed, x, tx, ldx, m, n, k, beta, c, ldc);
  }
  gemv(trans: boolean, m: number, k: number, alpha: number, a: Buf, lda: number, x: Buf, beta: number, y: Buf): Buf {
    const A = d(a), X = d(x), Y = d(y);
    if (!trans) {
      for (let i = 0; i < m; i++) {
        const s = dotArrays(A, i * lda, X, 0, k);
        Y[i] = alpha * s + (beta === 0 ? 0 : beta * Y[i]);
      }
    } else {
      for (let i = 0; i < m; i++) Y[i] = beta === 0 ? 0 : beta * Y[i];
      for (let p = 0; p < k; p++) {
        const row = p * lda, s = alpha * X[p];
        for (let i = 0; i < m; i++) Y[i] += s * A[row + i];
      }
    }
    return y;
  }

  extractPatches(out: Buf, ld: number, x: Buf, n: number, C: number, H: number, W: number, ph: number, pw: number, augment: boolean): Buf {
    const O = d(out), X = d(x), gx = W / pw, gy = H / ph, k = gx * gy, p = C * ph * pw;
    for (let s = 0; s < n; s++) {
      const img = s * C * H * W;
      for (let py = 0; py < gy; py++) {
        for (let px = 0; px < gx; px++) {
          const row = (s * k + py * gx + px) * ld;
          let q = 0;
          for (let c = 0; c < C; c++) {
            for (let dy = 0; dy < ph; dy++) {
              const src = img + (c * H + py * ph + dy) * W + px * pw;
              O.set(X.subarray(src, src + pw), row + q);
              q += pw;
            }
          }
          if (ld > p) O[row + p] = augment ? 1 : 0;
        }
      }
    }
    return out;
  }
  sumBlocks(out: Buf, a: Buf, groups: number, size: number, cols: number): Buf {
    const O = d(out), A = d(a);
    for (let g = 0; g < groups; g++) {
      const o = g * cols;
      O.fill(0, o, o + cols);
      for (let r = 0; r < size; r++) {
        const src = (g * size + r) * cols;
        for (let j = 0; j < cols; j++) O[o + j] += A[src + j];
      }
    }
    return out;
  }
  broadcastBlocks(out: Buf, a: Buf, groups: number, size: number, cols: number): Buf {
    const O = d(out), A = d(a);
    for (let g = 0; g < groups; g++) {
      const row = A.subarray(g * cols, (g + 1) * cols);
      for (let r = 0; r < size; r++) O.set(row, (g * size + r) * cols);
    }
    return out;
  }
  relu(out: Buf, z: Buf): Buf { const o = d(out), Z = d(z); for (let i = 0; i < o.length; i++) o[i] = Math.max(Z[i], 0); return out; }
  reluMask(out: Buf, z: Buf): Buf { const o = d(out), Z = d(z); for (let i = 0; i < o.length; i++) o[i] = Z[i] > 0 ? 1 : 0; return out; }
  reluBackward(out: Buf, g: Buf, z: Buf): Buf {
    const o = d(out), G = d(g), Z = d(z);
    for (let i = 0; i < o.length; i++) o[i] = Z[i] > 0 ? G[i] : 0;
    return out;
  }

  peakFlops(iters: number): number {
    const m = 1.0000001, a = 1e-9;
    let x0 = 1.0, x1 = 1.1, x2 = 1.2, x3 = 1.3, x4 = 1.4, x5 = 1.5;
    let y0 = 0.0, y1 = 0.1, y2 = 0.2, y3 = 0.3, y4 = 0.4, y5 = 0.5;
    for (let i = 0; i < iters; i++) {
      x0 *= m; x1 *= m; x2 *= m; x3 *= m; x4 *= m; x5 *= m;
      y0 += a; y1 += a; y2 += a; y3 += a; y4 += a; y5 += a;
    }
    this.sink += x0 + x1 + x2 + x3 + x4 + x5 + y0 + y1 + y2 + y3 + y4 + y5;
    return iters * 12;
  }
  /** Keeps peak results observable so no engine can discard the work. */
  sink = 0;
  blockTranspose(out: Buf, a: Buf, batches: number, rows: number, cols: number): Buf {
    const O = d(out), A = d(a), size = rows * cols;
    for (let b = 0; b < batches; b++) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) O[b * size + c * rows + r] = A[b * size + r * cols + c];
    return out;
  }
  copyRows(out: Buf, ldo: number, a: Buf, lda: number, rows: number, cols: number): Buf {
    const O = d(out), A = d(a);
    for (let r = 0; r < rows; r++) O.set(A.subarray(r * lda, r * lda + cols), r * ldo);
    return out;
  }
  maxPool(out: Buf, idx: Buf, x: Buf, planes: number, H: number, W: number, size: number): Buf {
    const O = d(out), I = d(idx), X = d(x), Ho = H / size, Wo = W / size;
    for (let pl = 0; pl < planes; pl++) for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) {
      let best = -Infinity, at = pl * H * W + oy * size * W + ox * size;
      for (let dy = 0; dy < size; dy++) for (let dx = 0; dx < size; dx++) {
        const i = pl * H * W + (oy * size + dy) * W + ox * size + dx;
        if (X[i] > best) { best = X[i]; at = i; }
      }
      const o = (pl * Ho + oy) * Wo + ox;
      O[o] = best; I[o] = at;
    }
    return out;
  }
  avgPool(out: Buf, x: Buf, planes: number, H: number, W: number, size: number): Buf {
    const O = d(out), X = d(x), Ho = H / size, Wo = W / size, scale = 1 / (size * size);
    for (let pl = 0; pl < planes; pl++) for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) {
      let acc = 0;
      for (let dy = 0; dy < size; dy++) for (let dx = 0; dx < size; dx++) acc += X[pl * H * W + (oy * size + dy) * W + ox * size + dx];
      O[(pl * Ho + oy) * Wo + ox] = acc * scale;
    }
    return out;
  }
  scatterAdd(gx: Buf, gy: Buf, idx: Buf): Buf {
    const G = d(gx), Y = d(gy), I = d(idx);
    G.fill(0);
    for (let i = 0; i < Y.length; i++) G[I[i]] += Y[i];
    return gx;
  }
  gather(out: Buf, t: Buf, idx: Buf): Buf {
    const O = d(out), T = d(t), I = d(idx);
    for (let i = 0; i < O.length; i++) O[i] = T[I[i]];
    return out;
  }
  avgPoolBackward(gx: Buf, gy: Buf, planes: number, H: number, W: number, size: number): Buf {
    const G = d(gx), Y = d(gy), Ho = H / size, Wo = W / size, scale = 1 / (size * size);
    for (let pl = 0; pl < planes; pl++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      G[pl * H * W + y * W + x] = Y[(pl * Ho + Math.floor(y / size)) * Wo + Math.floor(x / size)] * scale;
    }
    return gx;
  }
  channelAffine(out: Buf, x: Buf, scale: Buf, shift: Buf, n: number, C: number, HW: number, acc: number): Buf {
    const O = d(out), X = d(x), A = d(scale), B = d(shift);
    for (let s = 0; s < n; s++) for (let c = 0; c < C; c++) {
      const base = (s * C + c) * HW;
      for (let q = 0; q < HW; q++) O[base + q] = (acc !== 0 ? acc * O[base + q] : 0) + A[c] * X[base + q] + B[c];
    }
    return out;
  }
  channelSums(sumGX: Buf, sumG: Buf, g: Buf, x: Buf, n: number, C: number, HW: number): Buf {
    const SX = d(sumGX), S = d(sumG), G = d(g), X = d(x);
    for (let c = 0; c < C; c++) {
      let gx = 0, gs = 0;
      for (let s = 0; s < n; s++) for (let q = 0, base = (s * C + c) * HW; q < HW; q++) { gx += G[base + q] * X[base + q]; gs += G[base + q]; }
      SX[c] = gx; S[c] = gs;
    }
    return sumGX;
  }
  im2col(out: Buf, ld: number, x: Buf, n: number, g: ConvGeometry, augment: boolean): Buf {
    const O = d(out), X = d(x);
    const { C, H, W, kh, kw, strideH: sh, strideW: sw, padH, padW } = g;
    const Ho = Math.floor((H + 2 * padH - kh) / sh) + 1, Wo = Math.floor((W + 2 * padW - kw) / sw) + 1, p = C * kh * kw;
    for (let s = 0; s < n; s++) for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) {
      const row = ((s * Ho + oy) * Wo + ox) * ld, y0 = oy * sh - padH, x0 = ox * sw - padW;
      let q = 0;
      for (let c = 0; c < C; c++) for (let dy = 0; dy < kh; dy++) for (let dx = 0; dx < kw; dx++) {
        const y = y0 + dy, xx = x0 + dx;
        O[row + q++] = y >= 0 && y < H && xx >= 0 && xx < W ? X[((s * C + c) * H + y) * W + xx] : 0;
      }
      if (ld > p) O[row + p] = augment ? 1 : 0;
    }
    return out;
  }
  col2im(out: Buf, cols: Buf, ld: number, n: number, g: ConvGeometry): Buf {
    const O = d(out), Q = d(cols);
    const { C, H, W, kh, kw, strideH: sh, strideW: sw, padH, padW } = g;
    const Ho = Math.floor((H + 2 * padH - kh) / sh) + 1, Wo = Math.floor((W + 2 * padW - kw) / sw) + 1;
    O.fill(0, 0, n * C * H * W);
    for (let s = 0; s < n; s++) for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) {
      const row = ((s * Ho + oy) * Wo + ox) * ld, y0 = oy * sh - padH, x0 = ox * sw - padW;
      let q = 0;
      for (let c = 0; c < C; c++) for (let dy = 0; dy < kh; dy++) for (let dx = 0; dx < kw; dx++) {
        const y = y0 + dy, xx = x0 + dx;
        if (y >= 0 && y < H && xx >= 0 && xx < W) O[((s * C + c) * H + y) * W + xx] += Q[row + q];
        q++;
      }
    }
    return out;
  }
  choleskyFactor(a: Buf, n: number, lda = n): number { return choleskyFactorArray(d(a), n, lda); }
  solveLowerTransposed(l: Buf, n: number, lda: number, b: Buf, rows: number, ldb: number): Buf { solveLowerTransposedArray(d(l), n, lda, d(b), rows, ldb); return b; }
  choleskySolve(l: Buf, n: number, b: Buf, nrhs: number): Buf { choleskySolveArray(d(l), n, d(b), nrhs); return b; }
}

type Floats = Float64Array | Float32Array;

/**
 * The Cholesky kernels over either precision's storage (a Float32Array rounds every store, as the
 * f32 kernel does; JS's arithmetic in between is f64). See Backend.choleskyFactor.
 */
function choleskyFactorArray(A: Floats, n: number, lda: number): number {
  for (let i = 0; i < n; i++) {
    const ri = i * lda;
    for (let j = 0; j <= i; j++) {
      const rj = j * lda;
      const s = A[ri + j] - dotArrays(A, ri, A, rj, j);
      if (i === j) {
        if (!(s > 0) || !Number.isFinite(s)) return i + 1;
        A[ri + i] = Math.sqrt(s);
      } else {
        A[ri + j] = s / A[rj + j];
      }
    }
    for (let j = i + 1; j < n; j++) A[ri + j] = 0;
  }
  return 0;
}

function solveLowerTransposedArray(L: Floats, n: number, lda: number, B: Floats, rows: number, ldb: number): void {
  for (let r = 0; r < rows; r++) {
    const br = r * ldb;
    for (let j = 0; j < n; j++) B[br + j] = (B[br + j] - dotArrays(B, br, L, j * lda, j)) / L[j * lda + j];
  }
}

function choleskySolveArray(L: Floats, n: number, B: Floats, nrhs: number): void {
  if (nrhs === 1) {
    // Mirrors the kernel: dot products with rows of L forward, axpys with them backward.
    for (let i = 0; i < n; i++) B[i] = (B[i] - dotArrays(L, i * n, B, 0, i)) / L[i * n + i];
    for (let i = n - 1; i >= 0; i--) {
      const x = B[i] / L[i * n + i];
      B[i] = x;
      const row = i * n;
      for (let j = 0; j < i; j++) B[j] += -x * L[row + j];
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const bi = i * nrhs;
    for (let j = 0; j < i; j++) {
      const a = -L[i * n + j], bj = j * nrhs;
      for (let c = 0; c < nrhs; c++) B[bi + c] += a * B[bj + c];
    }
    const s = 1 / L[i * n + i];
    for (let c = 0; c < nrhs; c++) B[bi + c] *= s;
  }
  for (let i = n - 1; i >= 0; i--) {
    const bi = i * nrhs;
    for (let j = i + 1; j < n; j++) {
      const a = -L[j * n + i], bj = j * nrhs;
      for (let c = 0; c < nrhs; c++) B[bi + c] += a * B[bj + c];
    }
    const s = 1 / L[i * n + i];
    for (let c = 0; c < nrhs; c++) B[bi + c] *= s;
  }
}

/** x <- L L^T x (t scratch): t = L^T x by rows of L, then x = L t. */
function choleskyMultiplyArray(L: Floats, n: number, X: Floats, T: Floats): void {
  T.fill(0);
  for (let i = 0; i < n; i++) { const xi = X[i], row = i * n; for (let j = 0; j <= i; j++) T[j] += xi * L[row + j]; }
  for (let i = 0; i < n; i++) X[i] = dotArrays(L, i * n, T, 0, i + 1);
}

/** sum x[xo + i] y[yo + i], i < n, in the f64x2 kernel's order (4-wide, two lane pairs). */
function dotArrays(x: Floats, xo: number, y: Floats, yo: number, n: number): number {
  let a00 = 0, a01 = 0, a10 = 0, a11 = 0, i = 0;
  for (; i + 4 <= n; i += 4) {
    a00 += x[xo + i] * y[yo + i];
    a01 += x[xo + i + 1] * y[yo + i + 1];
    a10 += x[xo + i + 2] * y[yo + i + 2];
    a11 += x[xo + i + 3] * y[yo + i + 3];
  }
  let s = (a00 + a10) + (a01 + a11);
  for (; i < n; i++) s += x[xo + i] * y[yo + i];
  return s;
}

function microKernel(kc: number, pa: Float64Array, ao: number, pb: Float64Array, bo: number,
  C: Float64Array, co: number, ldc: number, mr: number, nr: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let p = 0; p < kc; p++) {
    const a = ao + 4 * p, b = bo + 4 * p;
    const b0 = pb[b], b1 = pb[b + 1], b2 = pb[b + 2], b3 = pb[b + 3];
    let x = pa[a];
    c00 += x * b0; c01 += x * b1; c02 += x * b2; c03 += x * b3;
    x = pa[a + 1];
    c10 += x * b0; c11 += x * b1; c12 += x * b2; c13 += x * b3;
    x = pa[a + 2];
    c20 += x * b0; c21 += x * b1; c22 += x * b2; c23 += x * b3;
    x = pa[a + 3];
    c30 += x * b0; c31 += x * b1; c32 += x * b2; c33 += x * b3;
  }
  if (mr === 4 && nr === 4) {
    let o = co;
    C[o] += c00; C[o + 1] += c01; C[o + 2] += c02; C[o + 3] += c03; o += ldc;
    C[o] += c10; C[o + 1] += c11; C[o + 2] += c12; C[o + 3] += c13; o += ldc;
    C[o] += c20; C[o + 1] += c21; C[o + 2] += c22; C[o + 3] += c23; o += ldc;
    C[o] += c30; C[o + 1] += c31; C[o + 2] += c32; C[o + 3] += c33;
    return;
  }
  const t = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
  for (let i = 0; i < mr; i++) for (let j = 0; j < nr; j++) C[co + i * ldc + j] += t[i * 4 + j];
}

/**
 * The fused ADMM step on arrays (Float64Array: the f64x2 kernel's order, lane-split sums; a
 * Float32Array stores rounded, as the f32 kernel does). See Backend.admmUpdateBatch.
 */
function admmStep(zv: Float64Array | Float32Array, yv: Float64Array | Float32Array, av: Float64Array | Float32Array, rv: Float64Array | Float32Array,
  alpha: number, t: number, stats: Float64Array): Float64Array {
  const n = zv.length, beta = 1 - alpha;
  // Lane-split sums for the pairs, then a scalar tail added to their total: the f64x2 kernel's order.
  let p0 = 0, p1 = 0, d0 = 0, d1 = 0, a0 = 0, a1 = 0, z0 = 0, z1 = 0, y0 = 0, y1 = 0, i = 0;
  for (; i + 2 <= n; i += 2) {
    let vau = av[i], vr = rv[i], vz = zv[i];
    let v = alpha * vau + beta * (vz + vr) - vr + yv[i];
    let zn = Math.max(v - t, 0) + Math.min(v + t, 0);
    let yn = v - zn;
    zv[i] = zn; yv[i] = yn;
    let pr = vau - vr - zn, dz = zn - vz;
    p0 += pr * pr; d0 += dz * dz; a0 += vau * vau; z0 += zn * zn; y0 += yn * yn;
    vau = av[i + 1]; vr = rv[i + 1]; vz = zv[i + 1];
    v = alpha * vau + beta * (vz + vr) - vr + yv[i + 1];
    zn = Math.max(v - t, 0) + Math.min(v + t, 0);
    yn = v - zn;
    zv[i + 1] = zn; yv[i + 1] = yn;
    pr = vau - vr - zn; dz = zn - vz;
    p1 += pr * pr; d1 += dz * dz; a1 += vau * vau; z1 += zn * zn; y1 += yn * yn;
  }
  let sp = p0 + p1, sd = d0 + d1, sa = a0 + a1, sz = z0 + z1, sy = y0 + y1;
  for (; i < n; i++) {
    const vau = av[i], vr = rv[i], vz = zv[i];
    const v = alpha * vau + beta * (vz + vr) - vr + yv[i];
    const zn = Math.max(v - t, 0) + Math.min(v + t, 0);
    const yn = v - zn;
    zv[i] = zn; yv[i] = yn;
    const pr = vau - vr - zn, dz = zn - vz;
    sp += pr * pr; sd += dz * dz; sa += vau * vau; sz += zn * zn; sy += yn * yn;
  }
  stats[0] = sp; stats[1] = sd; stats[2] = sa; stats[3] = sz; stats[4] = sy;
  return stats;
}

/** admmStep over B problems (rows of n = z.length / B), skipping inactive ones. */
function admmStepBatch(z: Float64Array | Float32Array, y: Float64Array | Float32Array, au: Float64Array | Float32Array, r: Float64Array | Float32Array,
  alpha: number, t: Float64Array, active: Float64Array, B: number, stats: Float64Array): void {
  const n = z.length / B, one = new Float64Array(5);
  for (let b = 0; b < B; b++) {
    if (active[b] === 0) continue;
    const s = <A extends Float64Array | Float32Array>(x: A) => x.subarray(b * n, (b + 1) * n) as A;
    stats.set(admmStep(s(z), s(y), s(au), s(r), alpha, z instanceof Float32Array ? Math.fround(t[b]) : t[b], one), 5 * b);
  }
}

// "Packed" in TypeScript is op(X) stored untransposed: gemm then packs it into the same panels as
// it packs op(X) itself, so the products (and their bits) are gemm's.
function untransposed(out: Float64Array | Float32Array, x: Float64Array | Float32Array, trans: boolean, ld: number, rows: number, cols: number): void {
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = trans ? x[j * ld + i] : x[i * ld + j];
}

/** gemmPrepacked through a backend's gemm: the packed operand (op(X) untransposed) on its side. */
function prepackedProduct<B>(gemm: (ta: boolean, tb: boolean, m: number, n: number, k: number, alpha: number, a: B, lda: number, b: B, ldb: number, beta: number, c: B, ldc: number) => B,
  side: PackSide, packed: B, x: B, tx: boolean, ldx: number, m: number, n: number, k: number, beta: number, c: B, ldc: number): B {
  return side === "a" ? gemm(false, tx, m, n, k, 1, packed, k, x, ldx, beta, c, ldc) : gemm(tx, false, m, n, k, 1, x, ldx, packed, n, beta, c, ldc);
}
