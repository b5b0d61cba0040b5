// Per-channel affine maps and sums over n x C x HW activations: BatchNorm's forward, VJP, JVP and
// statistics, kept inside WebAssembly like the pooling kernels (src/deep/layers.ts uses them).

/**
 * out[s][c][q] = acc * out[s][c][q] + scale[c] * x[s][c][q] + shift[c] for s < n, c < C, q < HW
 * (acc 0 or 1; out may be x).
 */
export function channelAffine(out: usize, x: usize, scale: usize, shift: usize, n: i32, C: i32, HW: i32, acc: f64): void {
  for (let s = 0; s < n; s++) {
    for (let c = 0; c < C; c++) {
      const a = load<f64>(scale + (<usize>c << 3)), b = load<f64>(shift + (<usize>c << 3));
      const base = <usize>((s * C + c) * HW) << 3;
      for (let q = 0; q < HW; q++) {
        const at = base + (<usize>q << 3);
        const prev = acc != 0 ? acc * load<f64>(out + at) : 0;
        store<f64>(out + at, prev + a * load<f64>(x + at) + b);
      }
    }
  }
}

/** sumGX[c] = sum over s, q of g[s][c][q] x[s][c][q], and sumG[c] = the sum of g[s][c][q]. */
export function channelSums(sumGX: usize, sumG: usize, g: usize, x: usize, n: i32, C: i32, HW: i32): void {
  for (let c = 0; c < C; c++) {
    let gx: f64 = 0, gs: f64 = 0;
    for (let s = 0; s < n; s++) {
      const base = <usize>((s * C + c) * HW) << 3;
      for (let q = 0; q < HW; q++) {
        const gv = load<f64>(g + base + (<usize>q << 3));
        gx += gv * load<f64>(x + base + (<usize>q << 3));
        gs += gv;
      }
    }
    store<f64>(sumGX + (<usize>c << 3), gx);
    store<f64>(sumG + (<usize>c << 3), gs);
  }
}
