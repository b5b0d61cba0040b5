// Method (b) for sequential CNNs: the global linearized span. A = J^T at theta0 (J: the n O x P
// Jacobian of the outputs), so A u is a VJP and A^T z a JVP, and the Gram J J^T (the empirical NTK)
// is composed layer by layer (src/deep/ntk.ts): the P x n O matrix itself is never formed. Forming
// it column by column as JVP(VJP(e_j)) (gramByPairs) is kept as the reference the tests check against.
import type { Backend, Buf, Buf32 } from "../backend/types.js";
import type { LinearOperator } from "../recover/operator.js";
import type { planLayers } from "./sequential.js";
import { SequentialWorkspace, scratchSizes, sequentialBackward, sequentialForward, sequentialJvp } from "./sequential.js";
import type { LayerNtkChoice, NtkFactors } from "./ntk.js";
import { f32Sink, ntkBetween, ntkChoices, ntkFactors, ntkInto, ntkWeightedBetween } from "./ntk.js";

export class SequentialLinearizedOperator implements LinearOperator {
  readonly rows: number;
  readonly cols: number;
  readonly maxBatch = 1;
  private readonly ws: SequentialWorkspace;
  private readonly theta: Buf;
  private readonly x: Buf;
  private readonly scratch: Buf[];
  private readonly unit: Buf;
  private readonly vec: Buf;

  /**
   * x: the n inputs (n x C x H x W, host); theta0: the point of linearization. frozen: layers that
   * were not trained (the one-hidden-layer CNN's readout at init), whose rows of A are 0.
   */
  constructor(readonly be: Backend, readonly plan: ReturnType<typeof planLayers>, readonly inputs: Float64Array, readonly n: number, theta0: Float64Array,
    readonly frozen: readonly number[] = []) {
    const x = inputs;
    this.ws = new SequentialWorkspace(be, plan, n);
    this.rows = plan.size;
    this.cols = n * plan.output.C;
    this.theta = be.upload(be.alloc(plan.size), theta0);
    this.x = be.upload(be.alloc(x.length), x);
    this.scratch = scratchSizes(plan, n).map((len) => be.alloc(len));
    this.unit = be.alloc(this.cols);
    this.vec = be.alloc(this.rows);
    // BatchNorm statistics at theta0 over these inputs (precise BatchNorm): the network linearized
    sequentialForward(this.ws, this.theta, this.x, true);
    // every VJP and JVP of this operator is at this point
    this.ws.hold();
  }

  apply(u: Buf, out: Buf): void {
    sequentialBackward(this.ws, this.theta, this.x, u, out, this.scratch);
    this.zeroFrozen(out);
  }
  applyT(z: Buf, out: Buf): void {
    let t = z;
    if (this.frozen.length) { t = this.vec; this.be.copy(t, z); this.zeroFrozen(t); }
    sequentialJvp(this.ws, this.theta, this.x, t, out, this.scratch);
  }
  private zeroFrozen(v: Buf): void {
    for (const i of this.frozen) { const l = this.plan.layers[i]; this.be.fill(this.be.slice(v, l.offset, l.params), 0); }
  }

  private gramCache: Buf | null = null;
  /**
   * Whether gram() keeps the NTK (m^2 entries) for the next call (a re-linearized union asks again);
   * a caller that only factors it once sets false, and it is formed straight into out.
   */
  keepGram = true;
  /** The NTK J J^T, composed per layer; formed once and kept (see keepGram). */
  gram(out: Buf): void {
    if (this.gramCache) { this.be.copy(out, this.gramCache); return; }
    this.structured(this, null, out);
    if (this.keepGram) this.gramCache = this.be.copy(this.be.alloc(this.cols * this.cols), out);
  }

  /**
   * The NTK rounded to f32, for a factor held in f32: summed in f32, or, when it is kept for a
   * re-linearized union (which needs it in f64, see keepGram), formed and kept in f64 and rounded once.
   */
  gram32(out: Buf32): boolean {
    if (this.keepGram) {
      if (!this.gramCache) { this.gramCache = this.be.alloc(this.cols * this.cols); this.structured(this, null, this.gramCache); }
      this.be.f32.demote(out, this.gramCache);
      return true;
    }
    const sink = f32Sink(this.be, out, this.cols);
    try { ntkInto(sink, this.factors(), this.factors()); } finally { sink.dispose(); }
    return true;
  }

  /** out (m x m) = J diag(w) J^T from the factors (polish's kept rows, IRLS): never column by column. */
  weightedGram(w: Buf, out: Buf): void { this.structured(this, w, out); }

  /** out (m x m_other) = J_this diag(w) J_other^T (the other linearizes the same network and inputs). */
  crossWeightedGram(other: LinearOperator, w: Buf | null, out: Buf): boolean {
    if (!(other instanceof SequentialLinearizedOperator) || other.rows !== this.rows || other.frozen.join() !== this.frozen.join()) return false;
    if (other === this && w === null) { this.gram(out); return true; }
    if (other.inputs !== this.inputs || other.n !== this.n) { this.gramByPairs(other, w, out); return true; }
    this.structured(other, w, out);
    return true;
  }

  /** The layer choices (explicit blocks or contraction) this operator's NTK uses. */
  get ntkChoices(): LayerNtkChoice[] { return ntkChoices(this.plan, this.n, this.frozen); }

  private factorCache: NtkFactors | null = null;
  /** This point's NTK factors, formed on first use and kept: polishing and the re-linearized union ask again. */
  private factors(): NtkFactors {
    this.factorCache ??= ntkFactors(this.ws, this.theta, this.x, this.scratch, this.ntkChoices);
    return this.factorCache;
  }

  private structured(other: SequentialLinearizedOperator, w: Buf | null, out: Buf): void {
    const a = this.factors(), b = other.factors();
    if (w === null) ntkBetween(this.be, a, b, out);
    else ntkWeightedBetween(this.be, a, b, w, out);
  }

  /** The reference: out (m x m_other) = J_this diag(w) J_other^T, column j = JVP_this(w VJP_other(e_j)). */
  gramByPairs(other: SequentialLinearizedOperator, w: Buf | null, out: Buf, columns = other.cols): void {
    const be = this.be, m = this.cols, mo = other.cols;
    const col = be.alloc(m);
    try {
      for (let j = 0; j < columns; j++) {
        be.fill(other.unit, 0);
        be.view(other.unit)[j] = 1;
        other.apply(other.unit, other.vec);
        if (w) be.mul(other.vec, other.vec, w);
        this.applyT(other.vec, col);
        const c = be.view(col), o = be.view(out);
        for (let i = 0; i < m; i++) o[i * mo + j] = c[i];
      }
    } finally {
      be.free(col);
    }
  }

  dispose(): void {
    this.ws.dispose();
    for (const b of [this.theta, this.x, this.unit, this.vec, ...this.scratch]) this.be.free(b);
    if (this.gramCache) { this.be.free(this.gramCache); this.gramCache = null; }
    this.factorCache?.dispose();
    this.factorCache = null;
  }
}
