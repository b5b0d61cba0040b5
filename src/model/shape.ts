// The one-hidden-layer, non-overlapping ReLU CNN of DESIGN.md section 1, and its parameter layout.
//
// Parameters are one flat f64 vector theta = [ W~ ; beta ]:
//   W~   K x (p + 1), row j = [w_j ; b_j]  (filter j's weights, then its bias)
//   beta "sum":   K x O,      beta[j, o]
//        "dense": (k K) x O,  beta[(i K + j), o]  (patch i, filter j)
// A patch vector is channel-major: entry c * ph * pw + dy * pw + dx (see assembly/patches.ts).
import { OptionError, ShapeError, checkInt } from "../errors.js";

export type Readout = "sum" | "dense";

export interface ModelShape {
  /** Patch dimension p (C * ph * pw for images). */
  readonly patchDim: number;
  /** Patches per input, k. */
  readonly patches: number;
  /** Filters (hidden units per patch), K. */
  readonly filters: number;
  /** Outputs, O (1 = scalar regression, 10 = a digit classifier). */
  readonly outputs: number;
  readonly readout: Readout;
}

export interface Layout {
  /** p + 1: a filter row's length. */
  readonly row: number;
  /** Entries of W~ (K (p + 1)); beta starts here. */
  readonly wSize: number;
  readonly betaSize: number;
  /** Total parameter count P. */
  readonly size: number;
}

/** Checks a shape once, at the boundary, and returns its layout. */
export function layoutOf(shape: ModelShape): Layout {
  checkInt("model shape", "patchDim", shape.patchDim);
  checkInt("model shape", "patches", shape.patches);
  checkInt("model shape", "filters", shape.filters);
  checkInt("model shape", "outputs", shape.outputs);
  if (shape.readout !== "sum" && shape.readout !== "dense") {
    throw new OptionError(`model shape: unknown readout "${shape.readout}" (known: sum, dense)`);
  }
  const row = shape.patchDim + 1;
  const wSize = shape.filters * row;
  const betaSize = (shape.readout === "dense" ? shape.patches : 1) * shape.filters * shape.outputs;
  return { row, wSize, betaSize, size: wSize + betaSize };
}

/** Image geometry, for inputs given as n x C x H x W. */
export interface ImageShape {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly patchHeight: number;
  readonly patchWidth: number;
}

/** Patch dimension and count of an image geometry; throws if the patch does not divide the image. */
export function patchGeometry(img: ImageShape): { patchDim: number; patches: number } {
  for (const key of ["channels", "height", "width", "patchHeight", "patchWidth"] as const) checkInt("image shape", key, img[key]);
  if (img.height % img.patchHeight !== 0 || img.width % img.patchWidth !== 0) {
    throw new ShapeError(
      `image shape: patch ${img.patchHeight}x${img.patchWidth} does not divide the image ${img.height}x${img.width}; ` +
      `non-overlapping patches need patchHeight | height and patchWidth | width`);
  }
  return {
    patchDim: img.channels * img.patchHeight * img.patchWidth,
    patches: (img.height / img.patchHeight) * (img.width / img.patchWidth),
  };
}
