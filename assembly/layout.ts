// Layout changes and pooling for sequential models: the per-iteration data movement of every
// forward, VJP and JVP pass, kept inside WebAssembly so no iterative loop runs scalar JS over
// linear memory. Indices (argmax) are stored as f64 in caller-owned buffers like everything else.

/**
 * out[b][c][r] = a[b][r][c] for b < batches: a (batches x rows x cols) -> out (batches x cols x rows).
 * The SIMD build moves 2 x 2 tiles (two f64x2 loads, two shuffles, two stores): every forward, VJP
 * and JVP of a conv layer transposes its outputs once.
 */
export function blockTranspose(out: usize, a: usize, batches: i32, rows: i32, cols: i32): void {
  const size = rows * cols;
  for (let b = 0; b < batches; b++) {
    const ab = a + (<usize>(b * size) << 3), ob = out + (<usize>(b * size) << 3);
    let r = 0;
    if (ASC_FEATURE_SIMD) {
      for (; r + 2 <= rows; r += 2) {
        const a0 = ab + (<usize>(r * cols) << 3), a1 = a0 + (<usize>cols << 3);
        let c = 0;
        for (; c + 2 <= cols; c += 2) {
          const v0 = v128.load(a0 + (<usize>c << 3)), v1 = v128.load(a1 + (<usize>c << 3));
          v128.store(ob + (<usize>(c * rows + r) << 3), i64x2.shuffle(v0, v1, 0, 2));
          v128.store(ob + (<usize>((c + 1) * rows + r) << 3), i64x2.shuffle(v0, v1, 1, 3));
        }
        for (; c < cols; c++) {
          store<f64>(ob + (<usize>(c * rows + r) << 3), load<f64>(a0 + (<usize>c << 3)));
          store<f64>(ob + (<usize>(c * rows + r + 1) << 3), load<f64>(a1 + (<usize>c << 3)));
        }
      }
    }
    for (; r < rows; r++) {
      const ar = ab + (<usize>(r * cols) << 3);
      for (let c = 0; c < cols; c++) store<f64>(ob + (<usize>(c * rows + r) << 3), load<f64>(ar + (<usize>c << 3)));
    }
  }
}

/** out (rows x cols, stride ldo) = a (rows x cols, stride lda). */
export function copyRows(out: usize, ldo: i32, a: usize, lda: i32, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) memory.copy(out + (<usize>(r * ldo) << 3), a + (<usize>(r * lda) << 3), <usize>cols << 3);
}

/**
 * Max pooling, size x size windows with stride size, over `planes` planes of H x W (n C planes):
 * out (planes x H/size x W/size) and idx, each maximum's index into x (as f64; ties: the first; a
 * window without a number: its first index).
 */
export function maxPool(out: usize, idx: usize, x: usize, planes: i32, H: i32, W: i32, size: i32): void {
  const Ho = H / size, Wo = W / size;
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * H * W;
    for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) {
      // a window of NaNs keeps its first index: the VJP and JVP always address inside x
      let best: f64 = -Infinity, at = base + oy * size * W + ox * size;
      for (let dy = 0; dy < size; dy++) for (let dx = 0; dx < size; dx++) {
        const i = base + (oy * size + dy) * W + ox * size + dx;
        const v = load<f64>(x + (<usize>i << 3));
        if (v > best) { best = v; at = i; }
      }
      const o = (pl * Ho + oy) * Wo + ox;
      store<f64>(out + (<usize>o << 3), best);
      store<f64>(idx + (<usize>o << 3), <f64>at);
    }
  }
}

/** Average pooling, size x size windows with stride size, over planes of H x W. */
export function avgPool(out: usize, x: usize, planes: i32, H: i32, W: i32, size: i32): void {
  const Ho = H / size, Wo = W / size, scale = 1.0 / <f64>(size * size);
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * H * W;
    for (let oy = 0; oy < Ho; oy++) for (let ox = 0; ox < Wo; ox++) {
      let acc: f64 = 0;
      for (let dy = 0; dy < size; dy++) for (let dx = 0; dx < size; dx++) acc += load<f64>(x + (<usize>(base + (oy * size + dy) * W + ox * size + dx) << 3));
      store<f64>(out + (<usize>((pl * Ho + oy) * Wo + ox) << 3), acc * scale);
    }
  }
}

/** gx (inCount) = 0, then gx[idx[i]] += gy[i] for i < outCount: max pooling's VJP. */
export function scatterAdd(gx: usize, inCount: i32, gy: usize, idx: usize, outCount: i32): void {
  memory.fill(gx, 0, <usize>inCount << 3);
  for (let i = 0; i < outCount; i++) {
    const at = gx + (<usize><i32>load<f64>(idx + (<usize>i << 3)) << 3);
    store<f64>(at, load<f64>(at) + load<f64>(gy + (<usize>i << 3)));
  }
}

/** out[i] = t[idx[i]] for i < count: max pooling's JVP. */
export function gather(out: usize, t: usize, idx: usize, count: i32): void {
  for (let i = 0; i < count; i++) store<f64>(out + (<usize>i << 3), load<f64>(t + (<usize><i32>load<f64>(idx + (<usize>i << 3)) << 3)));
}

/** gx (planes x H x W) = average pooling's VJP of gy (planes x H/size x W/size). */
export function avgPoolBackward(gx: usize, gy: usize, planes: i32, H: i32, W: i32, size: i32): void {
  const Ho = H / size, Wo = W / size, scale = 1.0 / <f64>(size * size);
  for (let pl = 0; pl < planes; pl++) {
    const base = pl * H * W;
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
      const g = load<f64>(gy + (<usize>((pl * Ho + y / size) * Wo + x / size) << 3));
      store<f64>(gx + (<usize>(base + y * W + x) << 3), g * scale);
    }
  }
}
