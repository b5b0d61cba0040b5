// Activation patterns: which (sample, patch, filter) units are on, and how many flipped between
// two parameter vectors (the measure of how far training left the lazy regime).
import type { Backend } from "../backend/types.js";
import { SequentialWorkspace, sequentialForward } from "../deep/sequential.js";
import { oneHiddenAsSequential } from "./asSequential.js";
import type { PatchData } from "./data.js";
import type { ModelShape } from "./shape.js";

/** Fraction of the n k K activations whose on/off state differs between theta a and theta b. */
export function flipRate(be: Backend, shape: ModelShape, data: PatchData, a: Float64Array, b: Float64Array): number {
  const map = oneHiddenAsSequential(shape);
  const ws = new SequentialWorkspace(be, map.plan, data.samples);
  const x = be.upload(be.alloc(data.values.length), data.values), theta = be.alloc(map.plan.size);
  try {
    // the conv layer's output is the pre-activation of every unit
    sequentialForward(ws, be.upload(theta, map.toSequential(a)), x);
    const za = be.download(ws.acts[0]);
    sequentialForward(ws, be.upload(theta, map.toSequential(b)), x);
    const zb = be.view(ws.acts[0]);
    let flips = 0;
    for (let i = 0; i < za.length; i++) if ((za[i] > 0) !== (zb[i] > 0)) flips++;
    return flips / za.length;
  } finally {
    ws.dispose();
    be.free(x);
    be.free(theta);
  }
}
