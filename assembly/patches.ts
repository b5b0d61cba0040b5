// Non-overlapping patch extraction (im2col without overlap) and the block sums of the readouts.

/**
 * Writes the patches of n images x (n x C x H x W, row-major) into out, one row per (sample, patch):
 * row s * k + i, with k = (H / ph) * (W / pw) and patch i = py * (W / pw) + px. Within a row the
 * p = C * ph * pw entries are channel-major: index c * ph * pw + dy * pw + dx. Rows have stride ld
 * (>= p); when ld > p, column p of every row is set to 1 with augment = 1 (the bias input), else 0.
 * The caller guarantees ph | H and pw | W.
 */
export function extractPatches(out: usize, ld: i32, x: usize, n: i32, C: i32, H: i32, W: i32, ph: i32, pw: i32, augment: i32): void {
  const gx = W / pw;
  const gy = H / ph;
  const k = gx * gy;
  const p = C * ph * pw;
  for (let s = 0; s < n; s++) {
    const img = x + (<usize>(s * C * H * W) << 3);
    for (let py = 0; py < gy; py++) {
      for (let px = 0; px < gx; px++) {
        const row = out + (<usize>((s * k + py * gx + px) * ld) << 3);
        let q = 0;
        for (let c = 0; c < C; c++) {
          for (let dy = 0; dy < ph; dy++) {
            // Each patch row is a contiguous run of pw pixels: one memory.copy.
            const src = img + (<usize>((c * H + py * ph + dy) * W + px * pw) << 3);
            memory.copy(row + (<usize>q << 3), src, <usize>pw << 3);
            q += pw;
          }
        }
        if (ld > p) store<f64>(row + (<usize>p << 3), augment ? 1.0 : 0.0);
      }
    }
  }
}

/** out (groups x cols) = sum over each group's `size` consecutive rows of a (groups*size x cols). */
export function sumBlocks(out: usize, a: usize, groups: i32, size: i32, cols: i32): void {
  for (let g = 0; g < groups; g++) {
    const o = out + (<usize>(g * cols) << 3);
    memory.fill(o, 0, <usize>cols << 3);
    for (let r = 0; r < size; r++) {
      const src = a + (<usize>((g * size + r) * cols) << 3);
      let j = 0;
      if (ASC_FEATURE_SIMD) {
        for (; j + 2 <= cols; j += 2) {
          const q = o + (<usize>j << 3);
          v128.store(q, f64x2.add(v128.load(q), v128.load(src + (<usize>j << 3))));
        }
      }
      for (; j < cols; j++) {
        const q = o + (<usize>j << 3);
        store<f64>(q, load<f64>(q) + load<f64>(src + (<usize>j << 3)));
      }
    }
  }
}

/** out (groups*size x cols): every row of group g is a copy of row g of a (groups x cols). */
export function broadcastBlocks(out: usize, a: usize, groups: i32, size: i32, cols: i32): void {
  for (let g = 0; g < groups; g++) {
    const src = a + (<usize>(g * cols) << 3);
    for (let r = 0; r < size; r++) {
      memory.copy(out + (<usize>((g * size + r) * cols) << 3), src, <usize>cols << 3);
    }
  }
}
