// The linearized span over all parameters (W, b, beta) at a point theta0 (DESIGN.md section 2):
// A = J^T, J the n O x P Jacobian of the outputs, so A u is a vector-Jacobian product (the
// backward pass with dL/dy = u) and A^T z a Jacobian-vector product. A is never formed.
import type { Backend, Buf } from "../backend/types.js";
import { Workspace, backward, forward, jvp } from "../model/network.js";
import type { ModelShape } from "../model/shape.js";
import type { LinearOperator } from "./operator.js";
import { linearizedCrossGram, linearizedWeightedGram } from "./linearizedGram.js";

export class LinearizedOperator implements LinearOperator {
  readonly rows: number;
  readonly cols: number;
  readonly maxBatch = 1;
  private readonly ws: Workspace;
  private readonly theta: Buf;

  private readonly wSize: number;
  private readonly zw: Buf;

  /**
   * xa: augmented patches of the n samples (kept alive by the caller); theta0: the point.
   * withReadout = false: the Jacobian wrt (W, b) only (beta was not trained), so beta's rows of A are 0.
   */
  constructor(readonly be: Backend, shape: ModelShape, private readonly xa: Buf, n: number, theta0: Float64Array, private readonly withReadout = true) {
    this.ws = new Workspace(be, shape, n);
    this.wSize = this.ws.layout.wSize;
    this.rows = this.ws.layout.size;
    this.cols = n * shape.outputs;
    this.theta = be.upload(be.alloc(this.rows), theta0);
    this.zw = be.alloc(this.rows);
    forward(this.ws, this.theta, xa);
  }

  /** Activation pattern at theta0, (n k) x K of 0/1 (for flip-rate reports). */
  mask(): Float64Array {
    return this.be.download(this.ws.z).map((v) => (v > 0 ? 1 : 0));
  }

  apply(u: Buf, out: Buf): void {
    this.be.copy(this.ws.dy, u);
    backward(this.ws, this.theta, this.xa);
    this.be.copy(out, this.ws.grad);
    if (!this.withReadout) this.be.fill(this.be.slice(out, this.wSize, this.rows - this.wSize), 0);
  }
  applyT(z: Buf, out: Buf): void {
    if (this.withReadout) { jvp(this.ws, this.theta, this.xa, z, out); return; }
    this.be.copy(this.zw, z);
    this.be.fill(this.be.slice(this.zw, this.wSize, this.rows - this.wSize), 0);
    jvp(this.ws, this.theta, this.xa, this.zw, out);
  }
  private gramCache: Buf | null = null;
  /** The NTK, formed once and kept: a purifier solves many problems over one span. */
  gram(out: Buf): void {
    if (!this.gramCache) {
      this.gramCache = this.be.alloc(this.cols * this.cols);
      linearizedWeightedGram(this.ws, this.xa, this.theta, null, this.withReadout, this.gramCache);
    }
    this.be.copy(out, this.gramCache);
  }
  weightedGram(w: Buf, out: Buf): void {
    linearizedWeightedGram(this.ws, this.xa, this.theta, w, this.withReadout, out);
  }
  /** J_this diag(w) J_other^T when other linearizes the same network and data; else false. */
  crossWeightedGram(other: LinearOperator, w: Buf | null, out: Buf): boolean {
    if (!(other instanceof LinearizedOperator) || other.xa !== this.xa || other.withReadout !== this.withReadout) return false;
    if (other === this && w === null) { this.gram(out); return true; }
    linearizedCrossGram({ ws: this.ws, theta: this.theta }, { ws: other.ws, theta: other.theta }, this.xa, w, this.withReadout, out);
    return true;
  }
  dispose(): void {
    this.ws.dispose();
    this.be.free(this.theta);
    this.be.free(this.zw);
    if (this.gramCache) { this.be.free(this.gramCache); this.gramCache = null; }
  }
}

