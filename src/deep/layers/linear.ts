// Conv and dense layers: W~ (rows x [w ; b]) applied to augmented patch rows of the input (im2col
// for conv, one row per sample for dense), so a layer's update lies in the span of those rows (the
// layerwise span) and its NTK factors are its output signals and patch rows (src/deep/ntk.ts).
import type { Backend, Buf, ConvGeometry } from "../../backend/types.js";
import { ShapeError, checkInt } from "../../errors.js";
import type { Dims, LayerKind, LayerPass, PlannedLayer } from "./layer.js";

/** kernel and stride: one number (square) or [height, width]. */
export type ConvSpec = { type: "conv"; filters: number; kernel: number | [number, number]; stride?: number | [number, number]; padding?: number; bias?: boolean };

/** [height, width] of a square-or-rectangular size. */
export const pair = (v: number | [number, number]): [number, number] => (typeof v === "number" ? [v, v] : v);
export type DenseSpec = { type: "dense"; units: number; bias?: boolean };

/**
 * Augmented patch rows of the layer's input x (n samples); the bias column is 1, or 0 for tangents
 * and for layers without bias (bias: false), whose bias entry then never moves from 0.
 */
function patchRows(be: Backend, l: PlannedLayer, x: Buf, n: number, out: Buf, augment: boolean): void {
  augment &&= (l.spec as { bias?: boolean }).bias !== false;
  if (l.geometry) be.im2col(out, l.rowLength, x, n, l.geometry, augment);
  else be.extractPatches(out, l.rowLength, x, n, 1, 1, l.rowLength - 1, 1, l.rowLength - 1, augment); // a dense input: one patch per sample
}

/** rows (n HW x F, one row per position) <-> channels-first (n x F x HW). */
const rowsToChannels = (be: Backend, rows: Buf, out: Buf, n: number, F: number, HW: number) => be.blockTranspose(out, rows, n, HW, F);
const channelsToRows = (be: Backend, x: Buf, rows: Buf, n: number, F: number, HW: number) => be.blockTranspose(rows, x, n, F, HW);

const weights = (p: LayerPass, theta: Buf) => p.be.slice(theta, p.l.offset, p.l.rows * p.l.rowLength);

/** The passes conv and dense share: they differ only in how patch rows are cut. */
const linearPasses: Omit<LayerKind, "shape"> = {
  buffers(l, n, alloc) {
    const spatial = n * l.output.H * l.output.W;
    return { cols: alloc(spatial * l.rowLength), rows: alloc(spatial * l.rows) };
  },
  forward(p, theta, input, out) {
    const { be, n, l } = p, HW = l.output.H * l.output.W, cols = p.state.cols!, rows = p.state.rows!;
    patchRows(be, l, input, n, cols, true);
    be.gemm(false, true, n * HW, l.rows, l.rowLength, 1, cols, l.rowLength, weights(p, theta), l.rowLength, 0, rows, l.rows);
    rowsToChannels(be, rows, out, n, l.rows, HW);
  },
  backward(p, theta, _input, g, gx, grad, scratch, signals) {
    const { be, n, l } = p, HW = l.output.H * l.output.W, rows = p.state.rows!, cols = p.state.cols!;
    channelsToRows(be, g, rows, n, l.rows, HW);
    signals?.(rows);
    // dW~ = dRows^T cols; the patch rows' cotangent dCols = dRows W~, then back to the input
    const dW = be.slice(grad, l.offset, l.rows * l.rowLength);
    if (p.state.colsB) be.gemmPrepacked("b", p.state.colsB, rows, true, l.rows, l.rows, l.rowLength, n * HW, 0, dW, l.rowLength);
    else be.gemm(true, false, l.rows, l.rowLength, n * HW, 1, rows, l.rows, cols, l.rowLength, 0, dW, l.rowLength);
    if (!gx) return;
    const dcols = be.slice(scratch[2], 0, n * HW * l.rowLength);
    be.gemm(false, false, n * HW, l.rowLength, l.rows, 1, rows, l.rows, weights(p, theta), l.rowLength, 0, dcols, l.rowLength);
    if (l.geometry) be.col2im(gx, dcols, l.rowLength, n, l.geometry);
    else be.copyRows(gx, l.rowLength - 1, dcols, l.rowLength, n, l.rowLength - 1);
  },
  jvp(p, theta, dtheta, _input, t, out, scratch) {
    const { be, n, l } = p, HW = l.output.H * l.output.W;
    const rows = be.slice(scratch[3], 0, n * HW * l.rows), cols = be.slice(scratch[2], 0, n * HW * l.rowLength);
    // d(out) = cols(x) dW^T + cols(dx) W^T (bias column of cols(dx) is 0); cols(x) are the forward's
    const dW = be.slice(dtheta, l.offset, l.rows * l.rowLength);
    if (p.state.colsA) be.gemmPrepacked("a", p.state.colsA, dW, true, l.rowLength, n * HW, l.rows, l.rowLength, 0, rows, l.rows);
    else be.gemm(false, true, n * HW, l.rows, l.rowLength, 1, p.state.cols!, l.rowLength, dW, l.rowLength, 0, rows, l.rows);
    if (t) {
      patchRows(be, l, t, n, cols, false);
      be.gemm(false, true, n * HW, l.rows, l.rowLength, 1, cols, l.rowLength, weights(p, theta), l.rowLength, 1, rows, l.rows);
    }
    rowsToChannels(be, rows, out, n, l.rows, HW);
  },
  hold(p, alloc) {
    const { be, n, l } = p, N = n * l.output.H * l.output.W, R = l.rowLength, cols = p.state.cols!;
    if (!holdsPacked(l)) return {};
    // the patch rows are B of the VJP's dW~ = dRows^T cols and A of the JVP's cols dW~^T
    return {
      colsB: be.prepack("b", alloc(be.packedLength("b", N, R)), cols, false, R, N, R),
      colsA: be.prepack("a", alloc(be.packedLength("a", N, R)), cols, false, R, N, R),
    };
  },
  // an upper bound over the GEMM tiles' padding
  heldEntries: (l, n) => (holdsPacked(l) ? 2 * (n * l.output.H * l.output.W + 8) * (l.rowLength + 8) : 0),
};

/**
 * Whether hold() packs a layer's patch rows: both GEMMs do 2 rows flops per entry of them, so packing
 * them on every call costs a share 1 / (2 rows) of the work; worth the memory below 32 rows (a
 * readout's 10 outputs: 5%), not for a conv's many filters.
 */
const holdsPacked = (l: { rows: number }) => l.rows > 0 && l.rows < 32;

export const conv: LayerKind<ConvSpec> = {
  shape(spec, d: Dims, where) {
    const pad = spec.padding ?? 0;
    checkInt(where, "filters", spec.filters);
    checkInt(where, "padding", pad, 0);
    const fail = (what: string, v: unknown) => new ShapeError(`${where}: ${what} must be a positive integer or [height, width] of them, got ${JSON.stringify(v)}`);
    if (!(typeof spec.kernel === "number" || (Array.isArray(spec.kernel) && spec.kernel.length === 2))) throw fail("kernel", spec.kernel);
    const [kh, kw] = pair(spec.kernel), [sh, sw] = pair(spec.stride ?? 1);
    for (const [k, v] of [["kernel", kh], ["kernel", kw], ["stride", sh], ["stride", sw]] as const) checkInt(where, k, v);
    const H = d.H + 2 * pad, W = d.W + 2 * pad, size = kh === kw ? `${kh}` : `${kh}x${kw}`;
    if (kh > H || kw > W) throw new ShapeError(`${where}: kernel ${size} is larger than the padded input ${H}x${W}`);
    if ((H - kh) % sh !== 0 || (W - kw) % sw !== 0) {
      throw new ShapeError(`${where}: stride ${sh === sw ? sh : `${sh}x${sw}`} does not tile the padded input ${H}x${W} with kernel ${size}`);
    }
    const geometry: ConvGeometry = { C: d.C, H: d.H, W: d.W, kh, kw, strideH: sh, strideW: sw, padH: pad, padW: pad };
    const output = { C: spec.filters, H: (H - kh) / sh + 1, W: (W - kw) / sw + 1 };
    const rowLength = d.C * kh * kw + 1;
    return { output, rows: spec.filters, rowLength, geometry, params: spec.filters * rowLength };
  },
  ...linearPasses,
};

export const dense: LayerKind<DenseSpec> = {
  shape(spec, d: Dims, where) {
    checkInt(where, "units", spec.units);
    if (d.H !== 1 || d.W !== 1) throw new ShapeError(`${where}: its input is ${d.C}x${d.H}x${d.W}; put a flatten layer before it`);
    return { output: { C: spec.units, H: 1, W: 1 }, rows: spec.units, rowLength: d.C + 1, params: spec.units * (d.C + 1) };
  },
  ...linearPasses,
};
