// Every kernel on "wasm" (SIMD) and "wasm-scalar" against the "js" backend, on random shapes that
// include sizes that are not multiples of the SIMD width or of the GEMM tiles (fast-check).
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { createBackend } from "../src/backend/index.js";
import { blockedCholesky } from "../src/linalg/cholesky.js";
import type { Backend, Buf } from "../src/backend/types.js";
import { admmStepOne, randn, relDiff } from "./helpers.js";

let js: Backend, simd: Backend, scalar: Backend;
beforeAll(async () => {
  js = await createBackend("js");
  simd = await createBackend("wasm");
  scalar = await createBackend("wasm-scalar");
});

/** Runs `op` on each backend with the same inputs; returns the outputs (downloaded). */
function onAll(inputs: Float64Array[], op: (be: Backend, bufs: Buf[]) => Buf | number): Array<Float64Array | number> {
  return [js, simd, scalar].map((be) => {
    const bufs = inputs.map((a) => be.upload(be.alloc(a.length), a));
    const r = op(be, bufs);
    const out = typeof r === "number" ? r : be.download(r);
    for (const b of bufs) be.free(b);
    return out;
  });
}

function agree(results: Array<Float64Array | number>, tol = 1e-12): void {
  const [ref, ...rest] = results;
  for (const r of rest) {
    if (typeof ref === "number") expect(Math.abs((r as number) - ref) / Math.max(Math.abs(ref), 1e-300)).toBeLessThanOrEqual(tol);
    else expect(relDiff(r as Float64Array, ref)).toBeLessThanOrEqual(tol);
  }
}

describe("kernels agree across backends (relative 1e-12)", () => {
  it("the backends report what they are", () => {
    expect(simd.simd).toBe(true);
    expect(scalar.simd).toBe(false);
    expect(js.name).toBe("js");
  });

  it("gemm, every transpose, odd and tile-crossing sizes", () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 300 }),
      fc.boolean(), fc.boolean(), fc.integer({ min: 0, max: 1000 }), fc.constantFrom(0, 1, 0.5),
      (m, n, k, ta, tb, seed, beta) => {
        const a = randn(m * k, seed), b = randn(k * n, seed + 1), c = randn(m * n, seed + 2);
        const res = onAll([a, b, c], (be, [A, B, C]) => be.gemm(ta, tb, m, n, k, 1.3, A, ta ? m : k, B, tb ? k : n, beta, C, n));
        agree(res);
        // and against a naive product, so all three cannot be wrong together
        const ref = new Float64Array(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
          ref[i * n + j] = 1.3 * s + beta * c[i * n + j];
        }
        expect(relDiff(res[0] as Float64Array, ref)).toBeLessThan(1e-12);
      }), { numRuns: 60 });
  });

  it("gemm at a size crossing every block (MC, KC, NC)", () => {
    const m = 131, n = 517, k = 263;
    const a = randn(m * k, 1), b = randn(k * n, 2);
    agree(onAll([a, b, new Float64Array(m * n)], (be, [A, B, C]) => be.gemm(false, false, m, n, k, 1, A, k, B, n, 0, C, n)));
  });

  it("gemv both orientations", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 40 }), fc.boolean(), fc.integer(),
      (m, k, t, seed) => {
        const a = randn(m * k, seed), x = randn(t ? m : k, seed + 1), y = randn(t ? k : m, seed + 2);
        agree(onAll([a, x, y], (be, [A, X, Y]) => t ? be.gemv(true, k, m, 0.7, A, k, X, 0.3, Y) : be.gemv(false, m, k, 0.7, A, k, X, 0.3, Y)));
      }), { numRuns: 40 });
  });

  it("level-1 kernels on lengths 0..37", () => {
    for (let n = 0; n <= 37; n++) {
      const x = randn(n, n), y = randn(n, n + 100);
      agree(onAll([x, y], (be, [X, Y]) => be.axpy(Y, 0.3, X)));
      agree(onAll([x, y, new Float64Array(n)], (be, [X, Y, O]) => be.axpby(O, 0.3, X, -2, Y)));
      agree(onAll([x, y, new Float64Array(n)], (be, [X, Y, O]) => be.sub(O, X, Y)));
      agree(onAll([x, y, new Float64Array(n)], (be, [X, Y, O]) => be.mul(O, X, Y)));
      agree(onAll([x], (be, [X]) => be.scale(X, -1.5)));
      agree(onAll([x, y], (be, [X, Y]) => be.dot(X, Y)), 1e-12);
      agree(onAll([x], (be, [X]) => be.asum(X)));
      agree(onAll([x], (be, [X]) => be.amax(X)));
      agree(onAll([x, new Float64Array(n)], (be, [X, O]) => be.softThreshold(O, X, 0.4)));
      agree(onAll([x, new Float64Array(n)], (be, [X, O]) => be.relu(O, X)));
      agree(onAll([x, new Float64Array(n)], (be, [X, O]) => be.reluMask(O, X)));
      agree(onAll([x, y, new Float64Array(n)], (be, [X, Y, O]) => be.reluBackward(O, Y, X)));
      const g = randn(n, 7);
      agree(onAll([x, y, g], (be, [T, V, G]) => be.momentumStep(T, V, G, 0.1, 0.9, 1e-3)));
      agree(onAll([x, y, new Float64Array(n).fill(0.1), g], (be, [T, M, V, G]) => be.adamStep(T, M, V, G, 0.01, 0.9, 0.999, 1e-8, 0.1, 0.001, 0)));
      const au = randn(n, 11), r = randn(n, 12);
      const stats = [js, simd, scalar].map(() => new Float64Array(5));
      let which = 0;
      const zs = onAll([x, y, au, r], (be, [Z, Y2, AU, R]) => { stats[which++] = admmStepOne(be, Z, Y2, AU, R, 1.6, 0.2); return Z; });
      agree(zs);
      agree([stats[0], stats[1], stats[2]]);
    }
  });

  it("level-1 and update kernels against their definitions, written out here", () => {
    const n = 23, x = randn(n, 1), y = randn(n, 2), g = randn(n, 3), au = randn(n, 4), r = randn(n, 5);
    const close = (got: Float64Array | number, want: ArrayLike<number> | number) => {
      if (typeof want === "number") expect(Math.abs((got as number) - want)).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(want)));
      else for (let i = 0; i < want.length; i++) expect(Math.abs((got as Float64Array)[i] - want[i])).toBeLessThanOrEqual(1e-14 * Math.max(1, Math.abs(want[i])));
    };
    const map = (f: (i: number) => number) => Float64Array.from({ length: n }, (_, i) => f(i));
    const soft = (v: number, t: number) => (v > t ? v - t : v < -t ? v + t : 0);
    for (const be of [js, simd, scalar]) {
      const run = (inputs: Float64Array[], op: (bufs: Buf[]) => Buf | number) => {
        const bufs = inputs.map((a) => be.upload(be.alloc(a.length), a));
        const out = op(bufs);
        const res = typeof out === "number" ? out : be.download(out);
        for (const b of bufs) be.free(b);
        return res;
      };
      const O = () => new Float64Array(n);
      close(run([x, y], ([X, Y]) => be.axpy(Y, 0.3, X)), map((i) => y[i] + 0.3 * x[i]));
      close(run([x, y, O()], ([X, Y, Z]) => be.axpby(Z, 0.3, X, -2, Y)), map((i) => 0.3 * x[i] - 2 * y[i]));
      close(run([x, y, O()], ([X, Y, Z]) => be.sub(Z, X, Y)), map((i) => x[i] - y[i]));
      close(run([x, y, O()], ([X, Y, Z]) => be.mul(Z, X, Y)), map((i) => x[i] * y[i]));
      close(run([x], ([X]) => be.scale(X, -1.5)), map((i) => -1.5 * x[i]));
      close(run([x, y], ([X, Y]) => be.dot(X, Y)), x.reduce((s, v, i) => s + v * y[i], 0));
      close(run([x], ([X]) => be.asum(X)), x.reduce((s, v) => s + Math.abs(v), 0));
      close(run([x], ([X]) => be.amax(X)), Math.max(...x.map(Math.abs)));
      close(run([x, O()], ([X, Z]) => be.softThreshold(Z, X, 0.4)), map((i) => soft(x[i], 0.4)));
      close(run([x, O()], ([X, Z]) => be.relu(Z, X)), map((i) => Math.max(x[i], 0)));
      close(run([x, O()], ([X, Z]) => be.reluMask(Z, X)), map((i) => (x[i] > 0 ? 1 : 0)));
      close(run([x, y, O()], ([X, Y, Z]) => be.reluBackward(Z, Y, X)), map((i) => (x[i] > 0 ? y[i] : 0)));
      // SGD with momentum and weight decay: v = mu v + (g + wd theta); theta -= lr v
      close(run([x, y, g], ([T, V, G]) => be.momentumStep(T, V, G, 0.1, 0.9, 1e-3)), map((i) => x[i] - 0.1 * (0.9 * y[i] + g[i] + 1e-3 * x[i])));
      // Adam with bias corrections c1, c2 and weight decay added to the gradient
      const v0 = map((i) => 0.1 + Math.abs(y[i]));
      close(run([x, y, v0, g], ([T, M, V, G]) => be.adamStep(T, M, V, G, 0.01, 0.9, 0.999, 1e-8, 0.1, 0.001, 1e-2)), map((i) => {
        const gi = g[i] + 1e-2 * x[i], m = 0.9 * y[i] + 0.1 * gi, v = 0.999 * v0[i] + 0.001 * gi * gi;
        return x[i] - 0.01 * (m / 0.1) / (Math.sqrt(v / 0.001) + 1e-8);
      }));
      // the fused ADMM step: h = alpha Au + (1 - alpha)(z + r); z = soft(h - r + y, t); y = h - r + y - z
      let st = new Float64Array(5);
      const zOut = run([x, y, au, r], ([Z, Y, AU, R]) => { st = admmStepOne(be, Z, Y, AU, R, 1.6, 0.2); return Z; }) as Float64Array;
      const want = map((i) => soft(1.6 * au[i] - 0.6 * (x[i] + r[i]) - r[i] + y[i], 0.2));
      close(zOut, want);
      close(st[0], want.reduce((s, z, i) => s + (au[i] - r[i] - z) ** 2, 0));
      close(st[1], want.reduce((s, z, i) => s + (z - x[i]) ** 2, 0));
    }
  });

  it("patch extraction, block sums and broadcasts against their definitions", () => {
    const n = 2, C = 2, H = 4, W = 6, ph = 2, pw = 3, k = (H / ph) * (W / pw), p = C * ph * pw;
    const x = randn(n * C * H * W, 7);
    for (const be of [js, simd, scalar]) {
      const X = be.upload(be.alloc(x.length), x), Pt = be.alloc(n * k * (p + 1));
      const got = be.download(be.extractPatches(Pt, p + 1, X, n, C, H, W, ph, pw, true));
      // patch i = py (W / pw) + px of sample s, channel-major entries c ph pw + dy pw + dx, then a 1
      for (let s = 0; s < n; s++) for (let py = 0; py < H / ph; py++) for (let px = 0; px < W / pw; px++) {
        const row = (s * k + py * (W / pw) + px) * (p + 1);
        for (let c = 0; c < C; c++) for (let dy = 0; dy < ph; dy++) for (let dx = 0; dx < pw; dx++) {
          expect(got[row + c * ph * pw + dy * pw + dx]).toBe(x[((s * C + c) * H + py * ph + dy) * W + px * pw + dx]);
        }
        expect(got[row + p]).toBe(1);
      }
      const a = randn(n * k * 3, 8), A = be.upload(be.alloc(a.length), a);
      const sums = be.download(be.sumBlocks(be.alloc(n * 3), A, n, k, 3));
      for (let s = 0; s < n; s++) for (let c = 0; c < 3; c++) {
        let want = 0;
        for (let i = 0; i < k; i++) want += a[(s * k + i) * 3 + c];
        expect(Math.abs(sums[s * 3 + c] - want)).toBeLessThan(1e-13);
      }
      const h = randn(n * 3, 9);
      const bc = be.download(be.broadcastBlocks(be.alloc(n * k * 3), be.upload(be.alloc(h.length), h), n, k, 3));
      for (let s = 0; s < n; s++) for (let i = 0; i < k; i++) for (let c = 0; c < 3; c++) expect(bc[(s * k + i) * 3 + c]).toBe(h[s * 3 + c]);
    }
  });

  it("layout and pooling kernels against their definitions (ties and NaN windows included)", () => {
    const planes = 3, H = 4, W = 6, size = 2, Ho = 2, Wo = 3;
    const x = randn(planes * H * W, 31);
    x[0] = x[1] = 5; // a tie: the first index wins
    x[2 * W + 2] = x[2 * W + 3] = x[3 * W + 2] = x[3 * W + 3] = NaN; // a window without a number
    const g = randn(planes * Ho * Wo, 32);
    for (const be of [js, simd, scalar]) {
      const up = (a: Float64Array) => be.upload(be.alloc(a.length), a);
      const a = randn(2 * 3 * 5, 33);
      const t = be.download(be.blockTranspose(be.alloc(30), up(a), 2, 3, 5));
      for (let b = 0; b < 2; b++) for (let r = 0; r < 3; r++) for (let c = 0; c < 5; c++) expect(t[b * 15 + c * 3 + r]).toBe(a[b * 15 + r * 5 + c]);
      const cr = be.download(be.copyRows(be.alloc(3 * 7), 7, up(a), 10, 3, 4));
      for (let r = 0; r < 3; r++) for (let c = 0; c < 7; c++) expect(cr[r * 7 + c]).toBe(c < 4 ? a[r * 10 + c] : 0);
      const X = up(x), idx = be.alloc(planes * Ho * Wo);
      const mx = be.download(be.maxPool(be.alloc(planes * Ho * Wo), idx, X, planes, H, W, size)), id = be.download(idx);
      const av = be.download(be.avgPool(be.alloc(planes * Ho * Wo), X, planes, H, W, size));
      for (let pl = 0; pl < planes; pl++) for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) {
        const o = (pl * Ho + oy) * Wo + ox, win: number[] = [];
        for (let dy = 0; dy < size; dy++) for (let dx = 0; dx < size; dx++) win.push(pl * H * W + (oy * size + dy) * W + ox * size + dx);
        const nums = win.filter((i) => !Number.isNaN(x[i]));
        const best = nums.length ? nums.reduce((b, i) => (x[i] > x[b] ? i : b), nums[0]) : win[0];
        expect(id[o]).toBe(best);
        expect(mx[o]).toBe(nums.length ? x[best] : -Infinity);
        const mean = win.reduce((s2, i) => s2 + x[i], 0) / 4;
        if (Number.isNaN(mean)) expect(av[o]).toBeNaN(); else expect(Math.abs(av[o] - mean)).toBeLessThan(1e-15);
      }
      expect(id[0]).toBe(0);
      const sc = be.download(be.scatterAdd(be.alloc(planes * H * W), up(g), up(id)));
      const want = new Float64Array(planes * H * W);
      id.forEach((k, i) => { want[k] += g[i]; });
      expect(Array.from(sc)).toEqual(Array.from(want));
      const ga = be.download(be.gather(be.alloc(id.length), X, up(id)));
      id.forEach((k, i) => expect(Object.is(ga[i], x[k])).toBe(true));
      const ab = be.download(be.avgPoolBackward(be.alloc(planes * H * W), up(g), planes, H, W, size));
      for (let pl = 0; pl < planes; pl++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) {
        expect(ab[pl * H * W + y * W + xx]).toBe(g[(pl * Ho + Math.floor(y / size)) * Wo + Math.floor(xx / size)] * 0.25);
      }
    }
  });

  it("scaleColumns on odd shapes", () => {
    for (const [rows, cols] of [[1, 1], [3, 5], [7, 2], [4, 9]]) {
      const a = randn(rows * cols, rows), sc = randn(cols, cols);
      agree(onAll([a, sc, new Float64Array(rows * cols)], (be, [A, S, O]) => be.scaleColumns(O, A, rows, cols, S)));
      const got = onAll([a, sc, new Float64Array(rows * cols)], (be, [A, S, O]) => be.scaleColumns(O, A, rows, cols, S))[1] as Float64Array;
      for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(got[r * cols + c]).toBe(a[r * cols + c] * sc[c]);
    }
  });

  it("patch extraction, block sums and broadcasts", () => {
    const n = 3, C = 2, H = 6, W = 9, ph = 3, pw = 3, k = 6, p = C * ph * pw;
    const x = randn(n * C * H * W, 5);
    agree(onAll([x, new Float64Array(n * k * (p + 1))], (be, [X, O]) => be.extractPatches(O, p + 1, X, n, C, H, W, ph, pw, true)));
    const a = randn(n * k * 5, 9);
    agree(onAll([a, new Float64Array(n * 5)], (be, [A, O]) => be.sumBlocks(O, A, n, k, 5)));
    const h = randn(n * 5, 3);
    agree(onAll([h, new Float64Array(n * k * 5)], (be, [Hh, O]) => be.broadcastBlocks(O, Hh, n, k, 5)));
  });

  it("Cholesky factor and multi-RHS solve", () => {
    for (const n of [1, 2, 5, 17, 40]) {
      const b = randn(n * n, n);
      const g = new Float64Array(n * n);
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
        let s = i === j ? n : 0;
        for (let q = 0; q < n; q++) s += b[i * n + q] * b[j * n + q];
        g[i * n + j] = s;
      }
      for (const nrhs of [1, 3]) {
        const rhs = randn(n * nrhs, 99);
        const res = onAll([g, rhs], (be, [G, R]) => { expect(be.choleskyFactor(G, n)).toBe(0); return be.choleskySolve(G, n, R, nrhs); });
        agree(res, 1e-12);
        // residual check against the original matrix
        const x = res[0] as Float64Array;
        for (let i = 0; i < n; i++) for (let c = 0; c < nrhs; c++) {
          let s = 0;
          for (let q = 0; q < n; q++) s += g[i * n + q] * x[q * nrhs + c];
          expect(Math.abs(s - rhs[i * nrhs + c])).toBeLessThan(1e-9 * n);
        }
      }
    }
  });

  it("im2col matches a direct reading of the definition, and col2im is its adjoint (<im2col x, Y> = <x, col2im Y>), any stride and padding", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 3, max: 7 }), fc.integer({ min: 3, max: 7 }),
      fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 0, max: 1 }), fc.boolean(),
      (n, C, H, W, kh, kw, stride, pad, augment) => {
        if (kh > H + 2 * pad || kw > W + 2 * pad) return true;
        const g = { C, H, W, kh, kw, strideH: stride, strideW: stride, padH: pad, padW: pad };
        const Ho = Math.floor((H + 2 * pad - kh) / stride) + 1, Wo = Math.floor((W + 2 * pad - kw) / stride) + 1;
        const p = C * kh * kw, ld = p + (augment ? 1 : 0), rows = n * Ho * Wo;
        const x = randn(n * C * H * W, n * 31 + H), y = randn(rows * ld, W * 17 + kh);
        const want = new Float64Array(rows * ld);
        for (let s = 0; s < n; s++) for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) {
          const r = (s * Ho + oy) * Wo + ox;
          for (let c = 0; c < C; c++) for (let dy = 0; dy < kh; dy++) for (let dx = 0; dx < kw; dx++) {
            const yy = oy * stride - pad + dy, xx = ox * stride - pad + dx;
            want[r * ld + (c * kh + dy) * kw + dx] = yy >= 0 && yy < H && xx >= 0 && xx < W ? x[((s * C + c) * H + yy) * W + xx] : 0;
          }
          if (augment) want[r * ld + p] = 1;
        }
        const cols = onAll([x, new Float64Array(rows * ld)], (be, [X, O]) => be.im2col(O, ld, X, n, g, augment));
        for (const got of cols) expect(Array.from(got as Float64Array)).toEqual(Array.from(want));
        const back = onAll([y, new Float64Array(n * C * H * W).fill(7)], (be, [Y, O]) => be.col2im(O, Y, ld, n, g));
        let lhs = 0, rhs = 0;
        for (let r = 0; r < rows; r++) for (let q = 0; q < p; q++) lhs += want[r * ld + q] * y[r * ld + q];
        const xb = back[0] as Float64Array;
        for (let i = 0; i < x.length; i++) rhs += x[i] * xb[i];
        expect(Math.abs(lhs - rhs)).toBeLessThan(1e-10 * (1 + Math.abs(lhs)));
        agree(back, 1e-14);
        return true;
      }), { numRuns: 60, seed: 11 });
  });

  it("blocked Cholesky (n = 300, 3 blocks) matches the unblocked kernel, L L^T = G, and finds a bad pivot past the first block", () => {
    const n = 300, b = randn(n * (n + 4), 5);
    const g = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < n + 4; q++) s += b[i * (n + 4) + q] * b[j * (n + 4) + q];
      g[i * n + j] = s;
    }
    const blocked = onAll([g], (be, [G]) => { expect(blockedCholesky(be, G, n)).toBe(0); return G; });
    const plain = onAll([g], (be, [G]) => { expect(be.choleskyFactor(G, n)).toBe(0); return G; });
    for (let q = 0; q < blocked.length; q++) expect(relDiff(blocked[q] as Float64Array, plain[q] as Float64Array)).toBeLessThan(1e-12);
    const L = blocked[0] as Float64Array;
    let worst = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q <= Math.min(i, j); q++) s += L[i * n + q] * L[j * n + q];
      worst = Math.max(worst, Math.abs(s - g[i * n + j]) / g[i * n + i]);
      if (j > i) expect(L[i * n + j]).toBe(0);
    }
    expect(worst).toBeLessThan(1e-12);
    // a negative diagonal entry at 200 makes pivot 200 the first that fails
    const bad = g.slice();
    bad[200 * n + 200] = -1;
    expect(onAll([bad], (be, [G]) => blockedCholesky(be, G, n))).toEqual([201, 201, 201]);
  });

  it("Cholesky reports an indefinite matrix by its pivot on every backend", () => {
    const g = new Float64Array([4, 2, 0, 2, 1, 0, 0, 0, 1]); // rank-deficient leading 2x2
    const res = onAll([g], (be, [G]) => be.choleskyFactor(G, 3));
    expect(res).toEqual([2, 2, 2]);
  });

  it("wasm memory: views are re-taken after growth, frees are reused", async () => {
    const be = await createBackend("wasm");
    const a = be.upload(be.alloc(4), [1, 2, 3, 4]);
    const before = be.allocatedBytes();
    const big = be.alloc(4_000_000); // forces memory.grow
    expect(Array.from(be.view(a))).toEqual([1, 2, 3, 4]);
    const grown = be.memoryBytes();
    expect(grown).toBeGreaterThanOrEqual(32_000_000);
    be.free(big);
    expect(be.allocatedBytes()).toBe(before);
    // the freed space is reused: the same and smaller requests do not grow memory again
    for (let i = 0; i < 3; i++) { const again = be.alloc(4_000_000); be.free(again); }
    const parts = [be.alloc(1_000_000), be.alloc(2_000_000), be.alloc(999_000)];
    expect(be.memoryBytes()).toBe(grown);
    for (const b of parts) be.free(b);
    // and a freed block in the middle is found again by a request that fits it
    const x = be.alloc(100_000), y = be.alloc(100_000), z = be.alloc(100_000);
    be.free(y);
    const peak = be.peakBytes();
    const y2 = be.alloc(100_000);
    expect(be.view(y2).byteOffset).toBe(be.view(x).byteOffset + 800_000);
    expect(be.peakBytes()).toBe(peak); // reuse sets no new high-water mark
    for (const b of [x, y2, z, a]) be.free(b);
  });
});
