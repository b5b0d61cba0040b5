// Kernel tests inside WASM: each kernel against a naive loop written here, on sizes that are not
// multiples of the SIMD width or of the GEMM tile, so edge paths run.
import { gemm, gemv, gemmWorkspaceBytes } from "../gemm";
import { softThreshold, dot, axpy, admmUpdate, asum } from "../vector";
import { choleskyFactor, choleskySolve } from "../cholesky";
import { extractPatches } from "../patches";
import { reluMask, reluBackward } from "../relu";

let seed: u32 = 12345;
function rnd(): f64 {
  seed = seed * 1664525 + 1013904223;
  return <f64>(seed >> 8) / 16777216.0 - 0.5;
}
function randArr(n: i32): StaticArray<f64> {
  const a = new StaticArray<f64>(n);
  for (let i = 0; i < n; i++) a[i] = rnd();
  return a;
}
function ptr(a: StaticArray<f64>): usize { return changetype<usize>(a); }

describe("gemm", () => {
  it("matches a naive triple loop for every transpose and odd sizes", () => {
    const work = heap.alloc(gemmWorkspaceBytes());
    const sizes: i32[] = [1, 3, 5, 7, 66, 130];
    for (let t = 0; t < 4; t++) {
      const ta = t & 1, tb = (t >> 1) & 1;
      for (let si = 0; si < sizes.length; si++) {
        const m = sizes[si], n = sizes[(si + 2) % sizes.length], k = sizes[(si + 4) % sizes.length] + 259;
        const a = randArr(m * k), b = randArr(k * n), c = randArr(m * n);
        const ref = new StaticArray<f64>(m * n);
        for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
          let s: f64 = 0;
          for (let p = 0; p < k; p++) s += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
          ref[i * n + j] = 1.5 * s + 0.5 * c[i * n + j];
        }
        gemm(ta, tb, m, n, k, 1.5, ptr(a), ta ? m : k, ptr(b), tb ? k : n, 0.5, ptr(c), n, work);
        let maxErr: f64 = 0;
        for (let i = 0; i < m * n; i++) maxErr = max(maxErr, abs(c[i] - ref[i]));
        expect(maxErr).toBeLessThan(1e-12);
      }
    }
    heap.free(work);
  });

  it("gemv agrees with the naive product in both orientations", () => {
    const m = 7, k = 9;
    const a = randArr(m * k), x = randArr(k), xt = randArr(m), y = randArr(m), yt = randArr(k);
    gemv(0, m, k, 2.0, ptr(a), k, ptr(x), 0, ptr(y));
    gemv(1, k, m, 1.0, ptr(a), k, ptr(xt), 0, ptr(yt));
    for (let i = 0; i < m; i++) {
      let s: f64 = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * x[p];
      expect(abs(y[i] - 2 * s)).toBeLessThan(1e-13);
    }
    for (let j = 0; j < k; j++) {
      let s: f64 = 0;
      for (let i = 0; i < m; i++) s += a[i * k + j] * xt[i];
      expect(abs(yt[j] - s)).toBeLessThan(1e-13);
    }
  });
});

describe("vector kernels", () => {
  it("softThreshold is sign(x) max(|x| - t, 0)", () => {
    const x = randArr(11), out = new StaticArray<f64>(11);
    softThreshold(ptr(out), ptr(x), 0.2, 11);
    for (let i = 0; i < 11; i++) {
      const v = x[i];
      const want = v > 0.2 ? v - 0.2 : v < -0.2 ? v + 0.2 : 0.0;
      expect(abs(out[i] - want)).toBeLessThan(1e-15);
    }
  });
  it("dot, axpy and asum on odd lengths", () => {
    const x = randArr(13), y = randArr(13);
    let s: f64 = 0, l1: f64 = 0;
    for (let i = 0; i < 13; i++) { s += x[i] * y[i]; l1 += abs(x[i]); }
    expect(abs(dot(ptr(x), ptr(y), 13) - s)).toBeLessThan(1e-14);
    expect(abs(asum(ptr(x), 13) - l1)).toBeLessThan(1e-14);
    const y0 = new StaticArray<f64>(13);
    for (let i = 0; i < 13; i++) y0[i] = y[i];
    axpy(ptr(y), 3.0, ptr(x), 13);
    // every output: the SIMD pairs and the scalar tail
    for (let i = 0; i < 13; i++) expect(abs(y[i] - (y0[i] + 3 * x[i]))).toBeLessThan(1e-15);
  });
  it("admmUpdate keeps z + y = h - r + y_old and thresholds z", () => {
    const n = 9;
    const z = randArr(n), y = randArr(n), au = randArr(n), r = randArr(n), stats = new StaticArray<f64>(5);
    const z0 = randArr(n), y0 = randArr(n);
    for (let i = 0; i < n; i++) { z0[i] = z[i]; y0[i] = y[i]; }
    admmUpdate(ptr(z), ptr(y), ptr(au), ptr(r), 1.6, 0.1, n, ptr(stats));
    let sp: f64 = 0, sd: f64 = 0, sa: f64 = 0, sz: f64 = 0, sy: f64 = 0;
    for (let i = 0; i < n; i++) {
      const h = 1.6 * au[i] - 0.6 * (z0[i] + r[i]);
      const v = h - r[i] + y0[i];
      expect(abs(z[i] + y[i] - v)).toBeLessThan(1e-14);
      expect(abs(y[i])).toBeLessThanOrEqual(0.1 + 1e-15);
      // z is the soft threshold of v at t = 0.1
      const zt = v > 0.1 ? v - 0.1 : v < -0.1 ? v + 0.1 : 0.0;
      expect(abs(z[i] - zt)).toBeLessThan(1e-14);
      const p = au[i] - r[i] - z[i], d = z[i] - z0[i];
      sp += p * p; sd += d * d; sa += au[i] * au[i]; sz += z[i] * z[i]; sy += y[i] * y[i];
    }
    // all five statistics: primal, dual (change of z), |Au|^2, |z|^2, |y|^2
    expect(abs(stats[0] - sp)).toBeLessThan(1e-12);
    expect(abs(stats[1] - sd)).toBeLessThan(1e-12);
    expect(abs(stats[2] - sa)).toBeLessThan(1e-12);
    expect(abs(stats[3] - sz)).toBeLessThan(1e-12);
    expect(abs(stats[4] - sy)).toBeLessThan(1e-12);
  });
});

describe("relu", () => {
  it("mask and backward follow the sign of z", () => {
    const z = randArr(7), g = randArr(7), m = new StaticArray<f64>(7), o = new StaticArray<f64>(7);
    reluMask(ptr(m), ptr(z), 7);
    reluBackward(ptr(o), ptr(g), ptr(z), 7);
    for (let i = 0; i < 7; i++) {
      expect(m[i]).toBe(z[i] > 0 ? 1.0 : 0.0);
      expect(o[i]).toBe(z[i] > 0 ? g[i] : 0.0);
    }
  });
});

describe("cholesky", () => {
  it("solves an SPD system with several right-hand sides", () => {
    const n = 9, r = 3;
    const b = randArr(n * n), a = new StaticArray<f64>(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s: f64 = i == j ? 1.0 : 0.0;
      for (let p = 0; p < n; p++) s += b[i * n + p] * b[j * n + p];
      a[i * n + j] = s;
    }
    const l = new StaticArray<f64>(n * n);
    for (let i = 0; i < n * n; i++) l[i] = a[i];
    expect(choleskyFactor(ptr(l), n, n)).toBe(0);
    const x = randArr(n * r), rhs = new StaticArray<f64>(n * r);
    for (let i = 0; i < n; i++) for (let c = 0; c < r; c++) {
      let s: f64 = 0;
      for (let p = 0; p < n; p++) s += a[i * n + p] * x[p * r + c];
      rhs[i * r + c] = s;
    }
    choleskySolve(ptr(l), n, n, ptr(rhs), r, r);
    for (let i = 0; i < n * r; i++) expect(abs(rhs[i] - x[i])).toBeLessThan(1e-10);
  });
  it("solves a single right-hand side (the dot/axpy path)", () => {
    const n = 11;
    const b = randArr(n * n), a = new StaticArray<f64>(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s: f64 = i == j ? 2.0 : 0.0;
      for (let p = 0; p < n; p++) s += b[i * n + p] * b[j * n + p];
      a[i * n + j] = s;
    }
    const l = new StaticArray<f64>(n * n);
    for (let i = 0; i < n * n; i++) l[i] = a[i];
    expect(choleskyFactor(ptr(l), n, n)).toBe(0);
    const x = randArr(n), rhs = new StaticArray<f64>(n);
    for (let i = 0; i < n; i++) { let s: f64 = 0; for (let p = 0; p < n; p++) s += a[i * n + p] * x[p]; rhs[i] = s; }
    choleskySolve(ptr(l), n, n, ptr(rhs), 1, 1);
    for (let i = 0; i < n; i++) expect(abs(rhs[i] - x[i])).toBeLessThan(1e-10);
  });
  it("reports the failing pivot of an indefinite matrix", () => {
    const a = new StaticArray<f64>(4);
    a[0] = 1; a[1] = 2; a[2] = 2; a[3] = 1;
    expect(choleskyFactor(ptr(a), 2, 2)).toBe(2);
  });
});

describe("patches", () => {
  it("extracts channel-major non-overlapping patches with a bias column", () => {
    // one image, C = 2, H = 2, W = 4, patches 2 x 2: k = 2, p = 8, ld = 9
    const x = new StaticArray<f64>(16);
    for (let i = 0; i < 16; i++) x[i] = <f64>i;
    const out = new StaticArray<f64>(18);
    extractPatches(ptr(out), 9, ptr(x), 1, 2, 2, 4, 2, 2, 1);
    // patch 1 (px = 1): channel 0 rows (2,3),(6,7); channel 1 rows (10,11),(14,15); then 1
    const want: f64[] = [2, 3, 6, 7, 10, 11, 14, 15, 1];
    for (let i = 0; i < 9; i++) expect(out[9 + i]).toBe(want[i]);
    expect(out[0]).toBe(0.0);
    expect(out[3]).toBe(5.0);
  });
});
