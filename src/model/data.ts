// Training data as the network sees it: augmented patch rows [P_i x_s ; 1], (n k) x (p + 1).
import type { Backend, Buf } from "../backend/types.js";
import { ShapeError, ValueError, checkFinite, checkInt } from "../errors.js";
import type { ImageShape } from "./shape.js";
import { patchGeometry } from "./shape.js";

/** Patch vectors of n inputs: patches[(s k + i) p + q] is entry q of patch i of sample s. */
export interface PatchData {
  readonly samples: number;
  readonly patches: number;
  readonly patchDim: number;
  readonly values: Float64Array;
}

/** Validates patch data once (shape, finiteness); returns it unchanged. */
export function checkPatchData(where: string, data: PatchData): PatchData {
  checkInt(where, "data.samples", data.samples);
  checkInt(where, "data.patches", data.patches);
  checkInt(where, "data.patchDim", data.patchDim);
  const want = data.samples * data.patches * data.patchDim;
  if (data.values.length !== want) {
    throw new ShapeError(`${where}: data.values has length ${data.values.length}, expected ${want} (samples ${data.samples} x patches ${data.patches} x patchDim ${data.patchDim})`);
  }
  checkFinite(where, "data.values", data.values);
  return data;
}

/** Uploads patch vectors as the augmented design rows ((n k) x (p + 1), last column 1). */
export function uploadAugmented(be: Backend, data: PatchData): Buf {
  const { samples: n, patches: k, patchDim: p } = data;
  const out = be.alloc(n * k * (p + 1));
  const v = be.view(out);
  for (let r = 0; r < n * k; r++) {
    v.set(data.values.subarray(r * p, (r + 1) * p), r * (p + 1));
    v[r * (p + 1) + p] = 1;
  }
  return out;
}

/**
 * Cuts images (n x C x H x W, row-major) into non-overlapping patches with the backend's
 * extractPatches kernel. Throws ShapeError when sizes disagree, ValueError on NaN/Inf pixels.
 */
export function patchesFromImages(be: Backend, images: Float64Array, samples: number, shape: ImageShape): PatchData {
  const { patchDim, patches } = patchGeometry(shape);
  checkInt("patchesFromImages", "samples", samples);
  const per = shape.channels * shape.height * shape.width;
  if (images.length !== samples * per) {
    throw new ShapeError(`patchesFromImages: images has length ${images.length}, expected ${samples * per} (samples ${samples} x C ${shape.channels} x H ${shape.height} x W ${shape.width})`);
  }
  checkFinite("patchesFromImages", "images", images);
  const x = be.upload(be.alloc(images.length), images);
  const out = be.alloc(samples * patches * patchDim);
  be.extractPatches(out, patchDim, x, samples, shape.channels, shape.height, shape.width, shape.patchHeight, shape.patchWidth, false);
  const values = be.download(out);
  be.free(out);
  be.free(x);
  if (values.length === 0) throw new ValueError("patchesFromImages: no data");
  return { samples, patches, patchDim, values };
}
