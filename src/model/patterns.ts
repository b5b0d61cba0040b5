// Activation patterns: which (sample, patch, filter) units are on, and how many flipped between
// two parameter vectors (the measure of how far training left the lazy regime).
import type { Backend } from "../backend/types.js";
import type { PatchData } from "./data.js";
import { uploadAugmented } from "./data.js";
import { Workspace, forward } from "./network.js";
import type { ModelShape } from "./shape.js";

/** Fraction of the n k K activations whose on/off state differs between theta a and theta b. */
export function flipRate(be: Backend, shape: ModelShape, data: PatchData, a: Float64Array, b: Float64Array): number {
  const xa = uploadAugmented(be, data);
  const ws = new Workspace(be, shape, data.samples);
  const theta = be.alloc(a.length);
  try {
    forward(ws, be.upload(theta, a), xa);
    const za = be.download(ws.z);
    forward(ws, be.upload(theta, b), xa);
    const zb = be.view(ws.z);
    let flips = 0;
    for (let i = 0; i < za.length; i++) if ((za[i] > 0) !== (zb[i] > 0)) flips++;
    return flips / za.length;
  } finally {
    ws.dispose();
    be.free(xa);
    be.free(theta);
  }
}
