// The empirical NTK J_A J_B^T of sequential models, composed layer by layer (the structured NTK of
// Novak et al. 2022, "Fast Finite Width NTK"), instead of one VJP + JVP pair per column.
//
// For a conv/dense layer with weights W~ (F rows of length R) applied at HW positions, the Jacobian
// of output (s, o) wrt W~ is G_{s,o}^T C_s: G_{s,o} (HW x F) is the cotangent of the layer's output
// for the cotangent e_o at sample s, C_s (HW x R) its augmented input patches. All n samples' G for
// one o come from ONE backward pass (samples do not mix), so O passes give every layer's signals.
// Then per layer, the cheaper by counted flops of:
// - explicit blocks: J_l (n O x F R) row by row (one GEMM per sample and o), added as J_lA J_lB^T;
// - the contraction: sum over position pairs (q, q') of (G_q G_q'^T) .* (C_q C_q'^T expanded over
//   outputs), which for a dense layer (HW = 1) is (G G^T) .* (X~ X~^T): no F R-wide matrix at all;
// - filters: the explicit blocks one filter at a time (V_f = sum_q G[., q, f] C_q, n O x R), built
//   from the signals when needed: the same flops as explicit, memory n O HW F instead of n O F R
//   (chosen over explicit when a row is at least twice as long as the positions: the one-hidden-layer
//   CNN's conv);
// - factored: filter by filter as above, where the conv is followed by relu, [sum], flatten and the
//   last (dense) layer: its signals are then the relu mask times the readout's weights
//   (G_{s,o}[q, f] = 1[z_sfq > 0] V[o, (f, q)]), formed one filter at a time and never stored, as
//   the one-hidden-layer CNN's closed form does: memory n O (HW + R), whatever the filter count.
// A BatchNorm layer's 2C parameters always take explicit blocks (its rows are per-sample channel
// sums, src/deep/batchnorm.ts). The whole n O x P Jacobian is never formed. The VJP/JVP pairs stay
// as the test oracle.
import type { Backend, Buf, Buf32 } from "../backend/types.js";
import type { LayerInfo, planLayers } from "./sequential.js";
import { SequentialWorkspace, sequentialBackward } from "./sequential.js";
import { batchNormJacobianRow } from "./layers/batchnorm.js";

type Plan = ReturnType<typeof planLayers>;

export type NtkKind = "explicit" | "contraction" | "filters" | "factored";

/** Whether layer i is a conv whose signals factor through relu, [sum], flatten and a final dense layer. */
function factorsThroughReadout(plan: Plan, i: number): boolean {
  const rest = plan.layers.slice(i + 1).map((l) => l.spec.type).join();
  return plan.layers[i].spec.type === "conv" && (rest === "relu,flatten,dense" || rest === "relu,sum,flatten,dense");
}

export interface LayerNtkChoice {
  layer: number;
  type: string;
  kind: NtkKind;
  /** Counted flops of each way (multiply-adds x 2). */
  explicitFlops: number;
  contractionFlops: number;
}

/** Per layer with parameters (not frozen), the cheaper way to form its NTK contribution for n samples. */
export function ntkChoices(plan: Plan, n: number, frozen: readonly number[] = []): LayerNtkChoice[] {
  const nO = n * plan.output.C;
  return plan.layers.flatMap((l, i) => {
    if (!l.params || frozen.includes(i)) return [];
    if (!l.rows) {
      const HW = l.output.H * l.output.W, explicitFlops = 2 * nO * l.params * HW + 2 * nO * nO * l.params;
      return [{ layer: i, type: l.spec.type, kind: "explicit" as const, explicitFlops, contractionFlops: Infinity }];
    }
    const F = l.rows, R = l.rowLength, HW = l.output.H * l.output.W;
    const explicitFlops = 2 * nO * F * HW * R + 2 * nO * nO * F * R;
    const contractionFlops = HW * HW * (2 * nO * nO * F + 2 * n * n * R + 3 * nO * nO);
    // filter by filter costs small per-sample GEMMs: worth it where it saves at least half the memory
    const kind: NtkKind = explicitFlops > contractionFlops ? "contraction" : factorsThroughReadout(plan, i) ? "factored" : l.geometry && R >= 2 * HW ? "filters" : "explicit";
    return [{ layer: i, type: l.spec.type, kind, explicitFlops, contractionFlops }];
  });
}

/** What one linearization point contributes: per conv/dense layer its Jacobian block, or its signals. */
export interface NtkFactors {
  ws: SequentialWorkspace;
  /**
   * explicit: J_l (n O x F R); contraction: G_l (n O x HW F), rows (s, o); filters: G_l per filter
   * (F x n O x HW); factored: null (formed per filter from ws and theta); the patches in ws.cols.
   */
  blocks: Map<number, { kind: NtkKind; buf: Buf | null }>;
  /** theta of the point (read by factored layers). */
  theta: Buf;
  dispose(): void;
}

/**
 * The factors at the point of the last sequentialForward on ws (ws and its patches must stay
 * untouched while they are used). scratch: as sequentialBackward's.
 */
export function ntkFactors(ws: SequentialWorkspace, theta: Buf, x: Buf, scratch: Buf[], choices: LayerNtkChoice[]): NtkFactors {
  const be = ws.be, n = ws.n, plan = ws.plan, O = plan.output.C, nO = n * O;
  const blocks = new Map<number, { kind: NtkKind; buf: Buf | null }>();
  const freeAll = () => { for (const b of blocks.values()) if (b.buf) be.free(b.buf); };
  for (const c of choices) {
    const l = plan.layers[c.layer], HW = l.output.H * l.output.W;
    blocks.set(c.layer, { kind: c.kind, buf: c.kind === "factored" ? null : be.alloc(nO * (c.kind === "explicit" ? l.params : l.rows * HW)) });
  }
  const dy = be.alloc(nO), grad = be.alloc(plan.size);
  // one sample's signals transposed, for the filter-major layers
  const gtLen = Math.max(0, ...choices.filter((c) => c.kind === "filters").map((c) => plan.layers[c.layer].rows * plan.layers[c.layer].output.H * plan.layers[c.layer].output.W));
  const gt = gtLen ? be.alloc(gtLen) : null;
  try {
    for (let o = 0; o < O; o++) {
      be.fill(dy, 0);
      const d = be.view(dy);
      for (let s = 0; s < n; s++) d[s * O + o] = 1;
      sequentialBackward(ws, theta, x, dy, grad, scratch, (i, dRows) => {
        const b = blocks.get(i);
        if (!b?.buf) return;
        const l = plan.layers[i], F = l.rows, R = l.rowLength, HW = l.output.H * l.output.W;
        if (!l.rows) {
          // BatchNorm: dRows is the output cotangent (n x C x HW), the input the layer below's output
          const C = l.output.C, input = i === 0 ? x : ws.acts[i - 1];
          for (let s = 0; s < n; s++) {
            batchNormJacobianRow(be, l, theta, be.slice(input, s * C * HW, C * HW), be.slice(dRows, s * C * HW, C * HW), be.slice(b.buf!, (s * O + o) * l.params, l.params));
          }
          return;
        }
        const buf = b.buf!;
        for (let s = 0; s < n; s++) {
          const g = be.slice(dRows, s * HW * F, HW * F);
          if (b.kind === "explicit") {
            // J row (s, o) = G_{s,o}^T C_s: (F x HW)(HW x R)
            be.gemm(true, false, F, R, HW, 1, g, F, be.slice(ws.cols(i), s * HW * R, HW * R), R, 0, be.slice(buf, (s * O + o) * F * R, F * R), R);
          } else if (b.kind === "filters") {
            // filter-major (F x n O x HW): each filter's HW signals of row (s, o), through a small transpose
            be.blockTranspose(gt!, g, 1, HW, F);
            be.copyRows(be.slice(buf, (s * O + o) * HW, buf.length - (s * O + o) * HW), nO * HW, gt!, HW, F, HW);
          } else {
            be.copy(be.slice(buf, (s * O + o) * HW * F, HW * F), g);
          }
        }
      });
    }
  } catch (e) {
    freeAll();
    throw e;
  } finally {
    be.free(dy); be.free(grad);
    if (gt) be.free(gt);
  }
  return { ws, blocks, theta, dispose: freeAll };
}

/**
 * Where an NTK is summed: an f64 matrix, or an f32 one (formed in f32 when its conditioning allows,
 * src/linalg/cholesky.ts factorGram) that takes f64 partial results. Rows are nO wide.
 */
export interface NtkSink {
  readonly be: Backend;
  /**
   * out[row0 + i, :] += a_i b^T for a (rows x k, ld k) and b (cols x k, ld k), both f64; with
   * lower, only the blocks on and below the diagonal (a = b: the rest is the mirror image).
   */
  addProduct(rows: number, cols: number, k: number, a: Buf, b: Buf, row0: number, lower?: boolean): void;
  /** out[offset ..] += x (f64). */
  add(offset: number, x: Buf): void;
  zero(): void;
  /** The upper triangle := the lower one's mirror image (out square). */
  mirror(): void;
  dispose(): void;
}

/** Row blocks of a lower-triangle product: about 8, so it costs ~0.56 of the full one. */
function lowerBlocks(rows: number): number { return Math.max(8, Math.ceil(rows / 8 / 8) * 8); }

/** v[j, i] = v[i, j] for j < i (n x n, row-major). */
function mirrorLower(v: Float64Array | Float32Array, n: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) v[j * n + i] = v[i * n + j];
}

/** The f64 sink: products are GEMMs into out. */
export function f64Sink(be: Backend, out: Buf, ld: number): NtkSink {
  return {
    be,
    addProduct: (rows, cols, k, a, b, row0, lower) => {
      const bs = lower ? lowerBlocks(rows) : rows;
      for (let r0 = 0; r0 < rows; r0 += bs) {
        const r = Math.min(bs, rows - r0), c = lower ? Math.min(cols, r0 + r) : cols;
        be.gemm(false, true, r, c, k, 1, be.slice(a, r0 * k, r * k), k, b, k, 1, be.slice(out, (row0 + r0) * ld, (r - 1) * ld + c), ld);
      }
    },
    add: (offset, x) => { be.axpy(be.slice(out, offset, x.length), 1, x); },
    zero: () => { be.fill(out, 0); },
    mirror: () => { mirrorLower(be.view(out), ld); },
    dispose: () => {},
  };
}

/** The f32 sink: operands are rounded to f32 (in row chunks) and multiplied by the f32 GEMM. */
export function f32Sink(be: Backend, out: Buf32, ld: number, chunkEntries = 1 << 20): NtkSink {
  const k32 = be.f32;
  let sa: Buf32 | null = null, sb: Buf32 | null = null;
  const grow = (buf: Buf32 | null, len: number) => (buf && buf.length >= len ? buf : (buf && k32.free(buf), k32.alloc(len)));
  return {
    be,
    addProduct: (rows, cols, k, a, b, row0, lower) => {
      sb = grow(sb, cols * k);
      const b32 = k32.demote(k32.slice(sb, 0, cols * k), be.slice(b, 0, cols * k));
      const chunk = Math.max(1, Math.min(rows, lower ? lowerBlocks(rows) : Math.floor(chunkEntries / k)));
      sa = grow(sa, chunk * k);
      for (let r0 = 0; r0 < rows; r0 += chunk) {
        const r = Math.min(chunk, rows - r0), c = lower ? Math.min(cols, r0 + r) : cols, a32 = k32.demote(k32.slice(sa, 0, r * k), be.slice(a, r0 * k, r * k));
        k32.gemm(false, true, r, c, k, 1, a32, k, b32, k, 1, k32.slice(out, (row0 + r0) * ld, (r - 1) * ld + c), ld);
      }
    },
    add: (offset, x) => { k32.accumulate(k32.slice(out, offset, x.length), x); },
    zero: () => { k32.view(out).fill(0); },
    mirror: () => { mirrorLower(k32.view(out), ld); },
    dispose: () => { if (sa) k32.free(sa); if (sb) k32.free(sb); sa = sb = null; },
  };
}

/** out (n O x n O) = J_A J_B^T from two points' factors (same plan, same inputs, same choices). */
export function ntkBetween(be: Backend, A: NtkFactors, B: NtkFactors, out: Buf): Buf {
  ntkInto(f64Sink(be, out, A.ws.n * A.ws.plan.output.C), A, B);
  return out;
}

/** J_A J_B^T summed into a sink (f64 or f32). */
export function ntkInto(sink: NtkSink, A: NtkFactors, B: NtkFactors): void {
  const be = sink.be, plan = A.ws.plan, n = A.ws.n, O = plan.output.C, nO = n * O;
  // at one point the NTK is symmetric: the big products form their lower triangle only, mirrored at the end
  const sym = A === B;
  sink.zero();
  let tmp: Buf | null = null, pp: Buf | null = null, e1: Buf | null = null, e: Buf | null = null;
  try {
    for (const [i, a] of A.blocks) {
      const b = B.blocks.get(i)!, l: LayerInfo = plan.layers[i], F = l.rows, R = l.rowLength, HW = l.output.H * l.output.W;
      if (a.kind === "explicit") {
        sink.addProduct(nO, nO, l.params, a.buf!, b.buf!, 0, sym);
        continue;
      }
      if (a.kind === "filters" || a.kind === "factored") {
        byFilter(sink, A, B, i, a.buf, b.buf, null);
        continue;
      }
      if (HW === 1) {
        denseRows(sink, A, B, i);
        continue;
      }
      tmp ??= be.alloc(nO * nO); pp ??= be.alloc(n * n); e1 ??= be.alloc(n * nO); e ??= be.alloc(nO * nO);
      const ca = A.ws.cols(i), cb = B.ws.cols(i);
      for (let q = 0; q < HW; q++) for (let q2 = 0; q2 < HW; q2++) {
        // signals at positions q and q2 (ld HW F) and patches there (ld HW R)
        const ga = a.buf!, gb = b.buf!;
        be.gemm(false, true, nO, nO, F, 1, be.slice(ga, q * F, ga.length - q * F), HW * F, be.slice(gb, q2 * F, gb.length - q2 * F), HW * F, 0, tmp, nO);
        be.gemm(false, true, n, n, R, 1, be.slice(ca, q * R, ca.length - q * R), HW * R, be.slice(cb, q2 * R, cb.length - q2 * R), HW * R, 0, pp, n);
        // expand the n x n patch Gram over outputs: e[(s, o), (t, o')] = pp[s, t]
        be.broadcastBlocks(e1, pp, n * n, O, 1);
        be.broadcastBlocks(e, e1, n, O, nO);
        be.mul(tmp, tmp, e);
        sink.add(0, tmp);
      }
    }
    if (sym) sink.mirror();
  } finally {
    for (const buf of [tmp, pp, e1, e]) if (buf) be.free(buf);
  }
}

/**
 * J_A diag(w) J_B^T for any weights w, from the factors, layer by layer: an explicit block is
 * scaled by its weights and multiplied (rows in chunks of at most `chunkEntries`); a dense layer's
 * contraction one sample's rows at a time (denseRows); conv layers filter by filter (a contraction's
 * signals transposed to filter-major first). Never one VJP + JVP pair per column.
 */
export function ntkWeightedBetween(be: Backend, A: NtkFactors, B: NtkFactors, w: Buf, out: Buf, chunkEntries = 4_000_000): Buf {
  const plan = A.ws.plan, nO = A.ws.n * plan.output.C;
  const wv = Float64Array.from(be.view(w));
  const sink = f64Sink(be, out, nO);
  be.fill(out, 0);
  for (const [i, a] of A.blocks) {
    const l = plan.layers[i], b = B.blocks.get(i)!, wl = wv.subarray(l.offset, l.offset + l.params), HW = l.output.H * l.output.W;
    if (!wl.some((v) => v !== 0)) continue;
    if (a.kind === "explicit") weightedExplicit(be, a.buf!, b.buf!, nO, l.params, wl, out, chunkEntries);
    else if (a.kind === "filters" || a.kind === "factored") byFilter(sink, A, B, i, a.buf, b.buf, wl);
    else if (HW === 1) denseRows(sink, A, B, i, wl);
    else {
      // a conv contraction keeps G as (n O x HW F): filter-major copies for the filter-by-filter product
      const ta = be.alloc(a.buf!.length), tb = be.alloc(b.buf!.length);
      try {
        be.blockTranspose(ta, a.buf!, 1, nO * HW, l.rows);
        be.blockTranspose(tb, b.buf!, 1, nO * HW, l.rows);
        byFilter(sink, A, B, i, ta, tb, wl);
      } finally {
        be.free(ta); be.free(tb);
      }
    }
  }
  return out;
}

/**
 * V (n O x R, row stride ld: a filter's columns within a group's) = filter f's Jacobian rows from
 * its signals g (n O x HW): per sample, (O x HW)(HW x R).
 */
function filterRows(be: Backend, fa: NtkFactors, i: number, g: Buf, V: Buf, ld: number): void {
  const plan = fa.ws.plan, n = fa.ws.n, O = plan.output.C, l = plan.layers[i], R = l.rowLength, HW = l.output.H * l.output.W;
  const cols = fa.ws.cols(i);
  for (let s = 0; s < n; s++) {
    be.gemm(false, false, O, R, HW, 1, be.slice(g, s * O * HW, O * HW), HW, be.slice(cols, s * HW * R, HW * R), R, 0, be.slice(V, s * O * ld, (O - 1) * ld + R), ld);
  }
}

/** Work buffers of factoredSignals for conv layer i: the mask (n x HW), the readout block (O x HW) and its n copies, a column. */
function factoredScratch(be: Backend, fa: NtkFactors, i: number): Buf[] {
  const n = fa.ws.n, O = fa.ws.plan.output.C, l = fa.ws.plan.layers[i], HW = l.output.H * l.output.W;
  return [be.alloc(n * HW), be.alloc(O * HW), be.alloc(n * O * HW), be.alloc(O)];
}

/**
 * out (n O x HW) = filter f's signals of a factored conv layer i at fa's point: row (s, o) is the
 * relu mask of sample s's filter f (its pre-activation in ws) times the readout's weights on that
 * filter's outputs (dense: columns f HW + q; after a sum: column f for every q).
 */
function factoredSignals(be: Backend, fa: NtkFactors, i: number, f: number, out: Buf, [mask, block, tiled, col]: Buf[]): Buf {
  const plan = fa.ws.plan, n = fa.ws.n, O = plan.output.C, l = plan.layers[i], HW = l.output.H * l.output.W;
  const d = plan.layers[plan.layers.length - 1], ld = d.rowLength, sum = plan.layers[i + 2].spec.type === "sum";
  be.copyRows(mask, HW, be.slice(fa.ws.acts[i], f * HW, n * l.rows * HW - f * HW), l.rows * HW, n, HW);
  be.reluMask(mask, mask);
  if (sum) {
    be.copyRows(col, 1, be.slice(fa.theta, d.offset + f, d.params - f), ld, O, 1);
    be.broadcastBlocks(block, col, O, HW, 1);
  } else {
    be.copyRows(block, HW, be.slice(fa.theta, d.offset + f * HW, d.params - f * HW), ld, O, HW);
  }
  be.broadcastBlocks(out, mask, n, O, HW);
  be.broadcastBlocks(tiled, block, 1, n, O * HW);
  return be.mul(out, out, tiled);
}

/** Entries of one group's Jacobian rows (n O x filters R) at most: several filters per product, a few MB. */
export const GROUP_ENTRIES = 1 << 18;

/**
 * out += sum_f V_A,f diag(w_f) V_B,f^T (w null: all ones); ga, gb filter-major signals
 * (F x n O x HW), or null for a factored layer (formed per filter). Filters go in groups side by
 * side (n O x g R), so each product has inner dimension g R, not R: the nO x nO sum is read and
 * written once per group, not once per filter.
 */
function byFilter(sink: NtkSink, A: NtkFactors, B: NtkFactors, i: number, ga: Buf | null, gb: Buf | null, w: Float64Array | null): void {
  const be = sink.be, plan = A.ws.plan, nO = A.ws.n * plan.output.C, l = plan.layers[i], R = l.rowLength, HW = l.output.H * l.output.W;
  const active = Array.from({ length: l.rows }, (_, f) => f).filter((f) => !w || w.subarray(f * R, (f + 1) * R).some((v) => v !== 0));
  const g = Math.max(1, Math.min(active.length, Math.floor(GROUP_ENTRIES / (nO * R))));
  // at one point without weights (the NTK) A's rows are B's: one group buffer
  const va = A !== B || w ? be.alloc(nO * g * R) : null, vb = be.alloc(nO * g * R), wg = be.alloc(g * R);
  const factored = ga === null, sa = factored ? be.alloc(nO * HW) : null, sb = factored ? be.alloc(nO * HW) : null;
  const work = factored ? factoredScratch(be, A, i) : [];
  const signals = (fa: NtkFactors, gs: Buf | null, f: number, into: Buf | null) => (gs ? be.slice(gs, f * nO * HW, nO * HW) : factoredSignals(be, fa, i, f, into!, work));
  try {
    for (let f0 = 0; f0 < active.length; f0 += g) {
      const group = active.slice(f0, f0 + g), width = group.length * R;
      const b = be.slice(vb, 0, nO * width), a = va ? be.slice(va, 0, nO * width) : b;
      group.forEach((f, j) => {
        filterRows(be, B, i, signals(B, gb, f, sb), be.slice(vb, j * R, nO * width - j * R), width);
        // at one point (the NTK, polish's weighted Gram) A's rows are B's
        if (A !== B) filterRows(be, A, i, signals(A, ga, f, sa), be.slice(va!, j * R, nO * width - j * R), width);
      });
      if (w) {
        const wv = new Float64Array(width);
        group.forEach((f, j) => wv.set(w.subarray(f * R, (f + 1) * R), j * R));
        be.scaleColumns(a, A === B ? b : a, nO, width, be.upload(be.slice(wg, 0, width), wv));
      }
      sink.addProduct(nO, nO, width, a, b, 0, A === B && !w);
    }
  } finally {
    for (const x of [va, vb, wg, sa, sb, ...work]) if (x) be.free(x);
  }
}

/** out += (a diag(w)) b^T for explicit blocks a, b (nO x width), a's rows scaled in chunks of at most chunkEntries. */
function weightedExplicit(be: Backend, a: Buf, b: Buf, nO: number, width: number, w: Float64Array, out: Buf, chunkEntries: number): void {
  const rows = Math.max(1, Math.min(nO, Math.floor(chunkEntries / width)));
  const tmp = be.alloc(rows * width), wb = be.upload(be.alloc(width), w);
  try {
    for (let r0 = 0; r0 < nO; r0 += rows) {
      const r = Math.min(rows, nO - r0), t = be.slice(tmp, 0, r * width);
      be.scaleColumns(t, be.slice(a, r0 * width, r * width), r, width, wb);
      be.gemm(false, true, r, nO, width, 1, t, width, b, width, 1, be.slice(out, r0 * nO, r * nO), nO);
    }
  } finally {
    be.free(tmp); be.free(wb);
  }
}

/**
 * out += J_A,l diag(w) J_B,l^T for a dense layer (one position; w null: ones), one sample's rows at a
 * time: J[(s,o), (f,r)] = G[(s,o), f] X[s, r], so rows (s, .) are G_A,s (O x F) times H_s (F x n O),
 * H_s[f, (t,o')] = G_B[(t,o'), f] (sum_r w_fr X_A[s,r] X_B[t,r]). Memory F n O, never (n O)^2.
 */
function denseRows(sink: NtkSink, A: NtkFactors, B: NtkFactors, i: number, w: Float64Array | null = null): void {
  const be = sink.be, plan = A.ws.plan, n = A.ws.n, O = plan.output.C, nO = n * O, l = plan.layers[i], F = l.rows, R = l.rowLength;
  const ga = A.blocks.get(i)!.buf!, gb = B.blocks.get(i)!.buf!, xa = A.ws.cols(i), xb = B.ws.cols(i);
  if (!w) {
    // unweighted: (G_A G_B^T) .* (X_A X_B^T expanded), one sample's rows at a time
    const pp = be.alloc(n * n), ppe = be.alloc(nO), rowsS = be.alloc(O * nO);
    try {
      be.gemm(false, true, n, n, R, 1, xa, R, xb, R, 0, pp, n);
      for (let s = 0; s < n; s++) {
        be.gemm(false, true, O, nO, F, 1, be.slice(ga, s * O * F, O * F), F, gb, F, 0, rowsS, nO);
        be.broadcastBlocks(ppe, be.slice(pp, s * n, n), n, O, 1);
        be.scaleColumns(rowsS, rowsS, O, nO, ppe);
        sink.add(s * O * nO, rowsS);
      }
    } finally {
      be.free(pp); be.free(ppe); be.free(rowsS);
    }
    return;
  }
  const gbt = be.alloc(F * nO), ws = be.alloc(F * R), pp = be.alloc(F * n), ppe = be.alloc(F * nO), wb = be.upload(be.alloc(F * R), w), rowsS = be.alloc(O * nO);
  try {
    be.blockTranspose(gbt, gb, 1, nO, F);
    for (let s = 0; s < n; s++) {
      const xs = be.slice(xa, s * R, R);
      // rows of W~ weighted by sample s's patch: ws[f, r] = w[f, r] X_A[s, r]
      be.broadcastBlocks(ws, xs, 1, F, R);
      be.mul(ws, ws, wb);
      be.gemm(false, true, F, n, R, 1, ws, R, xb, R, 0, pp, n);
      // H_s = pp expanded over outputs .* G_B^T, then rows (s, .) += G_A,s H_s
      be.broadcastBlocks(ppe, pp, F * n, O, 1);
      be.mul(ppe, ppe, gbt);
      be.gemm(false, false, O, nO, F, 1, be.slice(ga, s * O * F, O * F), F, ppe, nO, 0, rowsS, nO);
      sink.add(s * O * nO, rowsS);
    }
  } finally {
    for (const b of [gbt, ws, pp, ppe, wb, rowsS]) be.free(b);
  }
}
