// Seeded initialization in the parameter layout of shape.ts.
import { Rng } from "../random.js";
import type { ModelShape } from "./shape.js";
import { layoutOf } from "./shape.js";

export interface InitOptions {
  /** PRNG seed (xoroshiro128+). */
  seed?: number;
  /** Std of filter weights; default sqrt(2 / p) (He). */
  weightStd?: number;
  /** Std of biases; default 0.1. */
  biasStd?: number;
  /** Std of readout weights; default 1 / sqrt(fan-in of the readout). */
  betaStd?: number;
}

/** Gaussian parameters: W ~ N(0, weightStd^2), b ~ N(0, biasStd^2), beta ~ N(0, betaStd^2). */
export function initParams(shape: ModelShape, options: InitOptions = {}): Float64Array {
  const L = layoutOf(shape);
  const rng = new Rng(options.seed ?? 0);
  const p = shape.patchDim;
  const ws = options.weightStd ?? Math.sqrt(2 / p);
  const bs = options.biasStd ?? 0.1;
  const fanIn = (shape.readout === "dense" ? shape.patches : 1) * shape.filters;
  const betaStd = options.betaStd ?? 1 / Math.sqrt(fanIn);
  const theta = new Float64Array(L.size);
  for (let j = 0; j < shape.filters; j++) {
    for (let q = 0; q < p; q++) theta[j * L.row + q] = ws * rng.normal();
    theta[j * L.row + p] = bs * rng.normal();
  }
  for (let i = 0; i < L.betaSize; i++) theta[L.wSize + i] = betaStd * rng.normal();
  return theta;
}
