// Forward and backward passes of the one-hidden-layer CNN, written once against the Backend.
// All buffers are owned by a Workspace sized for a batch of n samples; nothing is allocated per call.
import type { Backend, Buf } from "../backend/types.js";
import type { Layout, ModelShape } from "./shape.js";
import { layoutOf } from "./shape.js";

/** Buffers for one batch size. Free with dispose(). */
export class Workspace {
  readonly layout: Layout;
  /** pre-activations Z = Xa W~^T, (n k) x K */
  readonly z: Buf;
  /** activations relu(Z), (n k) x K (row s is the n x (k K) feature map for "dense") */
  readonly a: Buf;
  /** per-sample feature sums for "sum", n x K */
  readonly h: Buf;
  readonly y: Buf;
  readonly dy: Buf;
  readonly da: Buf;
  readonly dh: Buf;
  readonly grad: Buf;

  constructor(readonly be: Backend, readonly shape: ModelShape, readonly n: number) {
    this.layout = layoutOf(shape);
    const { patches: k, filters: K, outputs: O } = shape;
    this.z = be.alloc(n * k * K);
    this.a = be.alloc(n * k * K);
    this.h = be.alloc(n * K);
    this.y = be.alloc(n * O);
    this.dy = be.alloc(n * O);
    this.da = be.alloc(n * k * K);
    this.dh = be.alloc(n * K);
    this.grad = be.alloc(this.layout.size);
  }

  dispose(): void {
    for (const b of [this.z, this.a, this.h, this.y, this.dy, this.da, this.dh, this.grad]) this.be.free(b);
  }
}

/** W~ and beta as slices of theta. */
export function splitParams(be: Backend, layout: Layout, theta: Buf): { w: Buf; beta: Buf } {
  return { w: be.slice(theta, 0, layout.wSize), beta: be.slice(theta, layout.wSize, layout.betaSize) };
}

/**
 * Outputs ws.y (n x O) for augmented patches xa ((n k) x (p + 1)) of ws.n samples.
 * Leaves Z, A (and H for "sum") in the workspace for backward().
 */
export function forward(ws: Workspace, theta: Buf, xa: Buf): Buf {
  const { be, shape, layout, n } = ws;
  const { patches: k, filters: K, outputs: O } = shape;
  const { w, beta } = splitParams(be, layout, theta);
  be.gemm(false, true, n * k, K, layout.row, 1, xa, layout.row, w, layout.row, 0, ws.z, K);
  be.relu(ws.a, ws.z);
  if (shape.readout === "dense") {
    be.gemm(false, false, n, O, k * K, 1, ws.a, k * K, beta, O, 0, ws.y, O);
  } else {
    be.sumBlocks(ws.h, ws.a, n, k, K);
    be.gemm(false, false, n, O, K, 1, ws.h, K, beta, O, 0, ws.y, O);
  }
  return ws.y;
}

/**
 * Gradient of the loss wrt theta into ws.grad, given dL/dy in ws.dy and the state of the last
 * forward(). Layout as theta: [dW~ ; dbeta].
 */
export function backward(ws: Workspace, theta: Buf, xa: Buf): Buf {
  const { be, shape, layout, n } = ws;
  const { patches: k, filters: K, outputs: O } = shape;
  const { beta } = splitParams(be, layout, theta);
  const { w: dw, beta: dbeta } = splitParams(be, layout, ws.grad);
  if (shape.readout === "dense") {
    be.gemm(true, false, k * K, O, n, 1, ws.a, k * K, ws.dy, O, 0, dbeta, O);
    be.gemm(false, true, n, k * K, O, 1, ws.dy, O, beta, O, 0, ws.da, k * K);
  } else {
    be.gemm(true, false, K, O, n, 1, ws.h, K, ws.dy, O, 0, dbeta, O);
    be.gemm(false, true, n, K, O, 1, ws.dy, O, beta, O, 0, ws.dh, K);
    be.broadcastBlocks(ws.da, ws.dh, n, k, K);
  }
  be.reluBackward(ws.da, ws.da, ws.z);
  be.gemm(true, false, K, layout.row, n * k, 1, ws.da, K, xa, layout.row, 0, dw, layout.row);
  return ws.grad;
}

/**
 * Forward-mode product: out (n x O) = J dtheta, the change of the outputs along dtheta, at the
 * state of the last forward(). Uses ws.da and ws.dh as scratch.
 */
export function jvp(ws: Workspace, theta: Buf, xa: Buf, dtheta: Buf, out: Buf): Buf {
  const { be, shape, layout, n } = ws;
  const { patches: k, filters: K, outputs: O } = shape;
  const { beta } = splitParams(be, layout, theta);
  const { w: dw, beta: dbeta } = splitParams(be, layout, dtheta);
  be.gemm(false, true, n * k, K, layout.row, 1, xa, layout.row, dw, layout.row, 0, ws.da, K);
  be.reluBackward(ws.da, ws.da, ws.z);
  if (shape.readout === "dense") {
    be.gemm(false, false, n, O, k * K, 1, ws.a, k * K, dbeta, O, 0, out, O);
    be.gemm(false, false, n, O, k * K, 1, ws.da, k * K, beta, O, 1, out, O);
  } else {
    be.sumBlocks(ws.dh, ws.da, n, k, K);
    be.gemm(false, false, n, O, K, 1, ws.h, K, dbeta, O, 0, out, O);
    be.gemm(false, false, n, O, K, 1, ws.dh, K, beta, O, 1, out, O);
  }
  return out;
}
