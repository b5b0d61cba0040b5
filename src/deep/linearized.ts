// Method (b) for sequential CNNs: the global linearized span. A = J^T at theta0 (J: the n O x P
// Jacobian of the outputs), so A u is a VJP and A^T z a JVP, and the Gram J J^T (the empirical NTK)
// is formed column by column as JVP(VJP(e_j)): the P x n O matrix itself is never formed.
import type { Backend, Buf } from "../backend/types.js";
import type { LinearOperator } from "../recover/operator.js";
import type { planLayers } from "./sequential.js";
import { SequentialWorkspace, scratchSizes, sequentialBackward, sequentialForward, sequentialJvp } from "./sequential.js";

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

  /** x: the n inputs (n x C x H x W, host); theta0: the point of linearization. */
  constructor(readonly be: Backend, plan: ReturnType<typeof planLayers>, x: Float64Array, n: number, theta0: Float64Array) {
    this.ws = new SequentialWorkspace(be, plan, n);
    this.rows = plan.size;
    this.cols = n * plan.output.C;
    this.theta = be.upload(be.alloc(plan.size), theta0);
    this.x = be.upload(be.alloc(x.length), x);
    this.scratch = scratchSizes(plan, n).map((len) => be.alloc(len));
    this.unit = be.alloc(this.cols);
    this.vec = be.alloc(this.rows);
    sequentialForward(this.ws, this.theta, this.x);
  }

  apply(u: Buf, out: Buf): void { sequentialBackward(this.ws, this.theta, this.x, u, out, this.scratch); }
  applyT(z: Buf, out: Buf): void { sequentialJvp(this.ws, this.theta, this.x, z, out, this.scratch); }

  private gramCache: Buf | null = null;
  /** The NTK J J^T, one column per VJP + JVP pair (m of them); formed once and kept. */
  gram(out: Buf): void {
    if (!this.gramCache) {
      this.gramCache = this.be.alloc(this.cols * this.cols);
      this.crossInto(this, null, this.gramCache);
    }
    this.be.copy(out, this.gramCache);
  }

  /** out (m x m_other) = J_this diag(w) J_other^T, column j = JVP_this(w VJP_other(e_j)). */
  crossWeightedGram(other: LinearOperator, w: Buf | null, out: Buf): boolean {
    if (!(other instanceof SequentialLinearizedOperator) || other.rows !== this.rows) return false;
    if (other === this && w === null) { this.gram(out); return true; }
    this.crossInto(other, w, out);
    return true;
  }

  private crossInto(other: SequentialLinearizedOperator, w: Buf | null, out: Buf): void {
    const be = this.be, m = this.cols, mo = other.cols;
    const col = be.alloc(m);
    try {
      for (let j = 0; j < mo; j++) {
        be.fill(other.unit, 0);
        be.view(other.unit)[j] = 1;
        other.apply(other.unit, this.vec);
        if (w) be.mul(this.vec, this.vec, w);
        this.applyT(this.vec, col);
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
  }
}
