// Recovery subspaces as linear operators. A is rows x m: its m columns span where training can move
// the parameters. B problems that share A are solved together (one per filter for the patch span).
//
// Layout contract (chosen so every product is one GEMM):
//   R, Z, Y, A U   B x rows   (one problem per row: a filter's [w_j ; b_j] is contiguous)
//   U, A^T Z       m x B      (one problem per column, the layout the Cholesky solve works on)
import type { Backend, Buf, Buf32 } from "../backend/types.js";

export interface LinearOperator {
  readonly be: Backend;
  /** Length of one problem's parameter vector. */
  readonly rows: number;
  /** Dimension m of the subspace (columns of A). */
  readonly cols: number;
  /** Largest batch this operator serves (B). */
  readonly maxBatch: number;
  /** out (count x rows) = (A U)^T for U (m x count). */
  apply(u: Buf, out: Buf, count: number): void;
  /** out (m x count) = A^T Z^T for Z (count x rows). */
  applyT(z: Buf, out: Buf, count: number): void;
  /** out (m x m) = A^T A. */
  gram(out: Buf): void;
  /** Optional: A^T as a dense m x rows buffer, when the operator holds it (the patch span does). */
  transposed?(): Buf;
  /** Optional: out (m x m_other) = A^T diag(w) B for another operator B; false when not supported. */
  crossWeightedGram?(other: LinearOperator, w: Buf | null, out: Buf): boolean;
  /**
   * Optional: out (m x m) = A^T A rounded to f32, for a factor held in f32 (false: f64 only). The
   * re-linearized union has none: two nearby linearizations are nearly dependent (its condition
   * was 1.1e6 on the MNIST quick regime), beyond what an f32 factor can solve.
   */
  gram32?(out: Buf32): boolean;
  /** Optional fast path for weightedGram (else it is built column by column). */
  weightedGram?(w: Buf, out: Buf): void;
  dispose(): void;
}

/**
 * The patch span of DESIGN.md section 2: A = Xa^T, Xa the (n k) x (p + 1) augmented patch rows.
 * All K filters share it, so A U and A^T Z are single GEMMs over the batch.
 */
export class PatchSpanOperator implements LinearOperator {
  readonly rows: number;
  readonly cols: number;

  /** xa: (m x rows) design rows, owned by the caller and kept alive while the operator is used. */
  constructor(readonly be: Backend, private readonly xa: Buf, m: number, rows: number, readonly maxBatch: number) {
    this.rows = rows;
    this.cols = m;
  }

  apply(u: Buf, out: Buf, count: number): void {
    this.be.gemm(true, false, count, this.rows, this.cols, 1, u, count, this.xa, this.rows, 0, out, this.rows);
  }
  applyT(z: Buf, out: Buf, count: number): void {
    this.be.gemm(false, true, this.cols, count, this.rows, 1, this.xa, this.rows, z, this.rows, 0, out, count);
  }
  gram(out: Buf): void {
    this.be.gemm(false, true, this.cols, this.cols, this.rows, 1, this.xa, this.rows, this.xa, this.rows, 0, out, this.cols);
  }
  transposed(): Buf { return this.xa; }
  private scaled: Buf | null = null;
  /** Xa diag(w) Xa^T as one GEMM (polishing needs one per filter: m products each would not do). */
  weightedGram(w: Buf, out: Buf): void {
    const be = this.be, m = this.cols, N = this.rows;
    if (!this.scaled) this.scaled = be.alloc(m * N);
    for (let c = 0; c < m; c++) be.mul(be.slice(this.scaled, c * N, N), be.slice(this.xa, c * N, N), w);
    be.gemm(false, true, m, m, N, 1, this.scaled, N, this.xa, N, 0, out, m);
  }
  dispose(): void {
    // xa belongs to the caller
    if (this.scaled) { this.be.free(this.scaled); this.scaled = null; }
  }
}

/**
 * [A, c]: a base operator with one more column c (rows), for a single problem (B = 1). The patch
 * span with weight decay uses it: the decayed init row theta0_j is then part of filter j's span.
 */
export class AppendColumnOperator implements LinearOperator {
  readonly rows: number;
  readonly cols: number;
  readonly maxBatch = 1;
  private readonly tmpZ: Buf;

  constructor(readonly be: Backend, private readonly base: LinearOperator, private readonly column: Buf) {
    this.rows = base.rows;
    this.cols = base.cols + 1;
    this.tmpZ = be.alloc(base.cols);
  }

  apply(u: Buf, out: Buf): void {
    const be = this.be, m = this.base.cols;
    this.base.apply(be.slice(u, 0, m), out, 1);
    be.axpy(out, be.view(u)[m], this.column);
  }
  applyT(z: Buf, out: Buf): void {
    const be = this.be, m = this.base.cols;
    this.base.applyT(z, be.slice(out, 0, m), 1);
    be.view(out)[m] = be.dot(this.column, z);
  }
  gram(out: Buf): void { this.bordered(null, out); }
  weightedGram(w: Buf, out: Buf): void { this.bordered(w, out); }

  /** [[A^T W A, A^T W c], [c^T W A, c^T W c]] (W = I when w is null). */
  private bordered(w: Buf | null, out: Buf): void {
    const be = this.be, m = this.base.cols, m1 = m + 1;
    const g = be.alloc(m * m), wc = be.alloc(this.rows);
    if (w) { weightedGram(this.base, w, g); be.mul(wc, w, this.column); } else { this.base.gram(g); be.copy(wc, this.column); }
    this.base.applyT(wc, this.tmpZ, 1);
    const G = be.view(g), t = be.view(this.tmpZ), o = be.view(out);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) o[i * m1 + j] = G[i * m + j];
      o[i * m1 + m] = t[i];
      o[m * m1 + i] = t[i];
    }
    o[m * m1 + m] = be.dot(wc, this.column);
    be.free(g); be.free(wc);
  }
  dispose(): void { this.be.free(this.tmpZ); }
}

/** [A_1, A_2, ...]: the union of several spans (re-linearization uses two), single problem. */
export class ConcatOperator implements LinearOperator {
  readonly rows: number;
  readonly cols: number;
  readonly maxBatch = 1;
  private readonly tmp: Buf;

  constructor(readonly be: Backend, private readonly parts: LinearOperator[]) {
    this.rows = parts[0].rows;
    this.cols = parts.reduce((s, p) => s + p.cols, 0);
    this.tmp = be.alloc(this.rows);
  }

  apply(u: Buf, out: Buf): void {
    let off = 0;
    this.be.fill(out, 0);
    for (const p of this.parts) {
      p.apply(this.be.slice(u, off, p.cols), this.tmp, 1);
      this.be.axpy(out, 1, this.tmp);
      off += p.cols;
    }
  }
  applyT(z: Buf, out: Buf): void {
    let off = 0;
    for (const p of this.parts) {
      p.applyT(z, this.be.slice(out, off, p.cols), 1);
      off += p.cols;
    }
  }
  gram(out: Buf): void {
    if (!this.blockGram(null, out)) weightedGram(this, null, out);
  }
  weightedGram(w: Buf, out: Buf): void {
    if (!this.blockGram(w, out)) weightedGram(this, w, out, true);
  }
  /** [[A_i^T W A_j]] block by block when every pair supports crossWeightedGram. */
  private blockGram(w: Buf | null, out: Buf): boolean {
    const be = this.be, m = this.cols;
    const offs: number[] = [];
    let acc = 0;
    for (const p of this.parts) { offs.push(acc); acc += p.cols; }
    // A^T diag(w) A is symmetric: blocks below the diagonal are the transposes of those above.
    for (let i = 0; i < this.parts.length; i++) {
      for (let j = i; j < this.parts.length; j++) {
        const pi = this.parts[i], pj = this.parts[j];
        const blk = be.alloc(pi.cols * pj.cols);
        const ok = pi.crossWeightedGram?.(pj, w, blk) ?? false;
        if (ok) {
          const b = be.view(blk), ov = be.view(out);
          for (let r = 0; r < pi.cols; r++) {
            for (let c = 0; c < pj.cols; c++) {
              ov[(offs[i] + r) * m + offs[j] + c] = b[r * pj.cols + c];
              ov[(offs[j] + c) * m + offs[i] + r] = b[r * pj.cols + c];
            }
          }
        }
        be.free(blk);
        if (!ok) return false;
      }
    }
    return true;
  }
  dispose(): void { this.be.free(this.tmp); }
}

/**
 * out (m x m) = A^T diag(w) A, column by column through apply/applyT (w = null: plain A^T A).
 * m applications of A and A^T: the way to form a Gram (or an IRLS system, or the Gram of the rows
 * kept by polishing) for any operator without ever holding A.
 */
export function weightedGram(op: LinearOperator, w: Buf | null, out: Buf, columnWise = false): void {
  if (w && op.weightedGram && !columnWise) { op.weightedGram(w, out); return; }
  const be = op.be, m = op.cols;
  const e = be.alloc(m), col = be.alloc(op.rows), g = be.alloc(m);
  const ev = () => be.view(e);
  for (let c = 0; c < m; c++) {
    ev().fill(0);
    ev()[c] = 1;
    op.apply(e, col, 1);
    if (w) be.mul(col, col, w);
    op.applyT(col, g, 1);
    const gv = be.view(g), ov = be.view(out);
    for (let i = 0; i < m; i++) ov[i * m + c] = gv[i];
  }
  // Symmetrize: the two triangles came from different products and may differ in the last bit.
  const ov = be.view(out);
  for (let i = 0; i < m; i++) for (let j = 0; j < i; j++) {
    const s = 0.5 * (ov[i * m + j] + ov[j * m + i]);
    ov[i * m + j] = s; ov[j * m + i] = s;
  }
  be.free(e); be.free(col); be.free(g);
}

/** A as a dense rows x m array (for the LP form and for tests). */
export function materialize(op: LinearOperator): Float64Array {
  const be = op.be, m = op.cols;
  const e = be.alloc(m), col = be.alloc(op.rows);
  const dense = new Float64Array(op.rows * m);
  for (let c = 0; c < m; c++) {
    be.fill(e, 0);
    be.view(e)[c] = 1;
    op.apply(e, col, 1);
    const v = be.view(col);
    for (let i = 0; i < op.rows; i++) dense[i * m + c] = v[i];
  }
  be.free(e); be.free(col);
  return dense;
}
