// General convolution patches (im2col) and their adjoint (col2im), for convolutions with any kernel,
// stride and zero padding: conv2d forward is one GEMM over the rows im2col writes, and its input
// gradient is col2im of one GEMM's result.

/**
 * Writes one row per (sample s, output y, output x) into out (row stride ld, rows in that order):
 * the C * kh * kw inputs under the kernel, channel-major (c * kh * kw + dy * kw + dx), zeros where
 * the kernel hangs over the zero padding. Output size: Ho = (H + 2 padH - kh) / sh + 1, likewise Wo.
 * When ld exceeds p = C * kh * kw, column p of every row is set to 1 with augment = 1 (the bias input), else 0.
 */
export function im2col(out: usize, ld: i32, x: usize, n: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, padH: i32, padW: i32, augment: i32): void {
  const Ho = (H + 2 * padH - kh) / sh + 1, Wo = (W + 2 * padW - kw) / sw + 1;
  const p = C * kh * kw;
  for (let s = 0; s < n; s++) {
    const img = x + (<usize>(s * C * H * W) << 3);
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const row = out + (<usize>(((s * Ho + oy) * Wo + ox) * ld) << 3);
        const y0 = oy * sh - padH, x0 = ox * sw - padW;
        let q = 0;
        for (let c = 0; c < C; c++) {
          for (let dy = 0; dy < kh; dy++) {
            const y = y0 + dy;
            const src = img + (<usize>((c * H + y) * W) << 3);
            for (let dx = 0; dx < kw; dx++) {
              const xx = x0 + dx;
              store<f64>(row + (<usize>q << 3), y >= 0 && y < H && xx >= 0 && xx < W ? load<f64>(src + (<usize>xx << 3)) : 0.0);
              q++;
            }
          }
        }
        if (ld > p) store<f64>(row + (<usize>p << 3), augment ? 1.0 : 0.0);
      }
    }
  }
}

/**
 * The adjoint of im2col: out (n x C x H x W) is overwritten with the sum, over every row and column
 * of cols (layout as im2col writes it, row stride ld), of each entry into the input pixel it came
 * from; entries over the padding are dropped.
 */
export function col2im(out: usize, cols: usize, ld: i32, n: i32, C: i32, H: i32, W: i32, kh: i32, kw: i32, sh: i32, sw: i32, padH: i32, padW: i32): void {
  const Ho = (H + 2 * padH - kh) / sh + 1, Wo = (W + 2 * padW - kw) / sw + 1;
  memory.fill(out, 0, <usize>(n * C * H * W) << 3);
  for (let s = 0; s < n; s++) {
    const img = out + (<usize>(s * C * H * W) << 3);
    for (let oy = 0; oy < Ho; oy++) {
      for (let ox = 0; ox < Wo; ox++) {
        const row = cols + (<usize>(((s * Ho + oy) * Wo + ox) * ld) << 3);
        const y0 = oy * sh - padH, x0 = ox * sw - padW;
        let q = 0;
        for (let c = 0; c < C; c++) {
          for (let dy = 0; dy < kh; dy++) {
            const y = y0 + dy;
            for (let dx = 0; dx < kw; dx++) {
              const xx = x0 + dx;
              if (y >= 0 && y < H && xx >= 0 && xx < W) {
                const dst = img + (<usize>((c * H + y) * W + xx) << 3);
                store<f64>(dst, load<f64>(dst) + load<f64>(row + (<usize>q << 3)));
              }
              q++;
            }
          }
        }
      }
    }
  }
}
