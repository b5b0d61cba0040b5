// The linearized span of the one-hidden-layer CNN over all parameters (W, b, beta) at a point
// theta0 (DESIGN.md section 2): A = J^T, J the n O x P Jacobian of the outputs. It is the plan's
// operator (src/deep/linearized.ts: VJP, JVP and the structured NTK of the one model family) seen
// in the one-hidden layout [W~ ; beta] through the parameter permutation; an untrained readout is
// the plan's frozen dense layer.
import type { Backend, Buf, Buf32 } from "../backend/types.js";
import { SequentialLinearizedOperator } from "../deep/linearized.js";
import { ParameterMap, oneHiddenAsSequential } from "../model/asSequential.js";
import type { ModelShape } from "../model/shape.js";
import type { LinearOperator } from "./operator.js";

export class LinearizedOperator implements LinearOperator {
  readonly rows: number;
  readonly cols: number;
  readonly maxBatch = 1;
  readonly seq: SequentialLinearizedOperator;
  private readonly map: ParameterMap;
  private readonly sIn: Buf;
  private readonly sOut: Buf;

  /**
   * patches: the n samples' patch vectors (n k x p, host; PatchData.values, kept alive by the
   * caller); theta0: the point. withReadout = false: the Jacobian wrt (W, b) only (beta was not
   * trained), so beta's rows of A are 0.
   */
  constructor(readonly be: Backend, shape: ModelShape, patches: Float64Array, n: number, theta0: Float64Array, readonly withReadout = true) {
    const m = oneHiddenAsSequential(shape);
    this.seq = new SequentialLinearizedOperator(be, m.plan, patches, n, m.toSequential(theta0), withReadout ? [] : [m.readoutLayer]);
    this.map = new ParameterMap(be, m);
    this.rows = theta0.length;
    this.cols = this.seq.cols;
    this.sIn = be.alloc(m.plan.size);
    this.sOut = be.alloc(m.plan.size);
  }

  apply(u: Buf, out: Buf): void {
    this.seq.apply(u, this.sOut);
    this.map.toOneHidden(out, this.sOut);
  }
  applyT(z: Buf, out: Buf): void { this.seq.applyT(this.map.toSequential(this.sIn, z), out); }
  /** The NTK, formed once and kept: a purifier solves many problems over one span. */
  gram(out: Buf): void { this.seq.gram(out); }
  gram32(out: Buf32): boolean { return this.seq.gram32(out); }
  /** Whether gram() keeps the NTK for a re-linearized union (m^2 entries); see the plan operator's. */
  set keepGram(keep: boolean) { this.seq.keepGram = keep; }
  weightedGram(w: Buf, out: Buf): void { this.seq.weightedGram(this.map.toSequential(this.sIn, w), out); }
  /** J_this diag(w) J_other^T when other linearizes the same network and data; else false. */
  crossWeightedGram(other: LinearOperator, w: Buf | null, out: Buf): boolean {
    if (!(other instanceof LinearizedOperator)) return false;
    return this.seq.crossWeightedGram(other.seq, w && this.map.toSequential(this.sIn, w), out);
  }
  dispose(): void {
    this.seq.dispose();
    this.map.dispose();
    this.be.free(this.sIn);
    this.be.free(this.sOut);
  }
}
