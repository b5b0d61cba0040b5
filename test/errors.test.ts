// Bad input: every public entry point throws a typed error whose message names the argument and
// the expected shape or value, and never modifies what it was given.
import { describe, expect, it } from "vitest";
import { createBackend } from "../src/backend/index.js";
import { OptionError, ShapeError, ValueError, NumericalError } from "../src/errors.js";
import { patchesFromImages } from "../src/model/data.js";
import type { PatchData } from "../src/model/data.js";
import { initParams } from "../src/model/init.js";
import type { ModelShape } from "../src/model/shape.js";
import { layoutOf, patchGeometry } from "../src/model/shape.js";
import { train } from "../src/train/train.js";
import { purify } from "../src/recover/purify.js";
import { sparseOutliers, bitFlips } from "../src/contaminate.js";
import { Cholesky } from "../src/linalg/cholesky.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { randn } from "./helpers.js";

const shape: ModelShape = { patchDim: 5, patches: 2, filters: 3, outputs: 1, readout: "sum" };
const data: PatchData = { samples: 3, patches: 2, patchDim: 5, values: randn(30, 1) };
const init = initParams(shape, { seed: 1 });

describe("typed errors that name the problem", () => {
  it("unknown backend", async () => {
    await expect(createBackend("gpu")).rejects.toThrow(OptionError);
    await expect(createBackend("gpu")).rejects.toThrow(/unknown backend "gpu" \(known: wasm, wasm-simd, wasm-scalar, js\)/);
  });

  it("patch size that does not divide the image", () => {
    expect(() => patchGeometry({ channels: 1, height: 28, width: 28, patchHeight: 5, patchWidth: 7 })).toThrow(ShapeError);
    expect(() => patchGeometry({ channels: 1, height: 28, width: 28, patchHeight: 5, patchWidth: 7 })).toThrow(/patch 5x7 does not divide the image 28x28/);
  });

  it("images of the wrong length, and NaN pixels", async () => {
    const be = await createBackend("js");
    const img = { channels: 1, height: 4, width: 4, patchHeight: 2, patchWidth: 2 };
    expect(() => patchesFromImages(be, new Float64Array(31), 2, img)).toThrow(/images has length 31, expected 32 \(samples 2 x C 1 x H 4 x W 4\)/);
    const bad = new Float64Array(32); bad[7] = NaN;
    expect(() => patchesFromImages(be, bad, 2, img)).toThrow(ValueError);
    expect(() => patchesFromImages(be, bad, 2, img)).toThrow(/images\[7\] is NaN/);
  });

  it("training: non-finite data, mismatched shapes, bad targets, unknown options", async () => {
    const nanData = { ...data, values: data.values.slice() };
    nanData.values[4] = Infinity;
    await expect(train(shape, init, nanData, new Float64Array(3))).rejects.toThrow(/data.values\[4\] is Infinity/);
    await expect(train(shape, init, { ...data, values: data.values.subarray(0, 29) }, new Float64Array(3))).rejects.toThrow(/data.values has length 29, expected 30/);
    await expect(train(shape, init.subarray(1), data, new Float64Array(3))).rejects.toThrow(ShapeError);
    await expect(train(shape, init, data, new Float64Array(2))).rejects.toThrow(/targets has length 2, expected 3/);
    await expect(train({ ...shape, outputs: 2 }, initParams({ ...shape, outputs: 2 }), data, [0, 1, 2])).rejects.toThrow(/targets\[2\] = 2 is not a class label in \[0, 2\)/);
    await expect(train(shape, init, data, new Float64Array(3), { learningRate: 1 } as never)).rejects.toThrow(/unknown option "learningRate"/);
    await expect(train(shape, init, data, new Float64Array(3), { optimizer: "rmsprop" as never })).rejects.toThrow(/unknown optimizer "rmsprop"/);
    await expect(train(shape, init, data, new Float64Array(3), { lr: -1 })).rejects.toThrow(/lr must be a finite number >= 0/);
    await expect(train({ ...shape, patches: 3 }, initParams({ ...shape, patches: 3 }), data, new Float64Array(3))).rejects.toThrow(/data has 2 patches of dim 5, the model expects 3/);
  });

  it("model shapes", () => {
    expect(() => layoutOf({ ...shape, filters: 0 })).toThrow(/filters must be an integer >= 1, got 0/);
    expect(() => layoutOf({ ...shape, readout: "max" as never })).toThrow(/unknown readout "max"/);
  });

  it("purify: wrong lengths, unknown subspace/solver/options; inputs are never modified", async () => {
    const c = init.slice(); c[0] = NaN;
    const before = c.slice();
    const initCopy = init.slice();
    await expect(purify(c.subarray(1), { shape, init, data })).rejects.toThrow(/contaminated has length 20, expected 21 parameters/);
    await expect(purify(c, { shape, init, data, subspace: "pca" as never })).rejects.toThrow(/unknown subspace "pca"/);
    await expect(purify(c, { shape, init, data, solver: "simplex" as never })).rejects.toThrow(/unknown solver "simplex"/);
    await expect(purify(c, { shape, init, data, tolerance: 1 } as never)).rejects.toThrow(/unknown option "tolerance"/);
    const badInit = init.slice(); badInit[2] = NaN;
    await expect(purify(c, { shape, init: badInit, data })).rejects.toThrow(/init\[2\] is NaN/);
    await purify(c, { shape, init, data });
    expect(Object.is(c[0], NaN) || Number.isNaN(c[0])).toBe(true);
    // the same purifier on a sequential model: its own spans, data and options, each refused by name
    const model = { input: { C: 1, H: 4, W: 4 }, layers: [{ type: "conv" as const, filters: 2, kernel: 2, stride: 2 }, { type: "relu" as const }, { type: "flatten" as const }, { type: "dense" as const, units: 2 }] };
    const seq = { model, init: new Float64Array(28).fill(0.1), data: { samples: 2, values: new Float64Array(32) } };
    await expect(purify(seq.init, { ...seq, shape })).rejects.toThrow(/one of options.shape \(one-hidden-layer\) or options.model \(sequential\)/);
    await expect(purify(seq.init, { ...seq, subspace: "patch" })).rejects.toThrow(/unknown subspace "patch" for a sequential model \(known: auto, layerwise, linearized, relinearized\)/);
    await expect(purify(seq.init, { ...seq, data: { samples: 2, values: new Float64Array(31) } })).rejects.toThrow(/data has 31 values for 2 samples, expected 2 images of 1x4x4/);
    await expect(purify(seq.init, { ...seq, frozen: [1] })).rejects.toThrow(/frozen 1 is not a layer with parameters/);
    await expect(purify(seq.init, { ...seq, trainedReadout: false })).rejects.toThrow(/trainedReadout is for the one-hidden-layer model/);
    await expect(purify(c, { shape, init, data, frozen: [0] })).rejects.toThrow(/frozen layers are for sequential models/);
    await expect(purify(seq.init.subarray(1), seq)).rejects.toThrow(/contaminated has length 27, expected 28 parameters/);
    // options of the wrong type (as JSON callers send them) were taken as they read: "false" as true,
    // a negative ADMM cap ran nothing, a grossFactor below 1 erased the whole change
    for (const [bad, msg] of [
      [{ trainedReadout: "false" }, /trainedReadout must be true or false, got "false"/],
      [{ weightDecay: "yes" }, /weightDecay must be true or false, got "yes"/],
      [{ polish: 0 }, /polish must be true or false, got 0/],
      [{ grossFactor: -1 }, /grossFactor must be a number > 1 .*got -1/],
      [{ grossFactor: NaN }, /grossFactor must be a number > 1 .*got NaN/],
      [{ admm: { maxIter: -5 } }, /admm.maxIter must be an integer >= 1, got -5/],
      [{ admm: { maxIter: "x" } }, /admm.maxIter must be an integer >= 1, got "x"/],
      [{ admm: { alpha: 2.5 } }, /admm.alpha must be a number in \(0, 2\), got 2.5/],
      [{ admm: { tol: 1 } }, /admm: unknown option "tol" \(known: maxIter, absTol/],
      [{ admm: 150 }, /admm must be an object/],
    ] as Array<[object, RegExp]>) await expect(purify(c, { shape, init, data, ...bad })).rejects.toThrow(msg);
    await expect(purify(seq.init, { ...seq, frozen: 5 as never })).rejects.toThrow(/frozen must be a list of layer indices, got 5/);
    await expect(purify(seq.init, { ...seq, frozen: ["a"] as never })).rejects.toThrow(/frozen must be a list of layer indices, got \["a"\]/);
    expect(Array.from(c.subarray(1))).toEqual(Array.from(before.subarray(1)));
    expect(Array.from(init)).toEqual(Array.from(initCopy));
  });

  it("the span rule, the memory estimate and the span fit refuse bad arguments by name (they answered before)", async () => {
    const { chooseSpan } = await import("../src/recover/chooseSpan.js");
    const { memoryEstimate } = await import("../src/recover/memory.js");
    const { spanFit } = await import("../src/recover/report.js");
    expect(() => chooseSpan(shape, 0)).toThrow(/chooseSpan: samples must be an integer >= 1, got 0/);
    expect(() => chooseSpan(shape, NaN)).toThrow(ValueError);
    expect(() => chooseSpan(shape, 3, { requested: "pca" })).toThrow(/unknown subspace "pca" for the one-hidden-layer model/);
    expect(() => memoryEstimate(shape, 3, "pca")).toThrow(/memoryEstimate: unknown subspace "pca"/);
    expect(() => memoryEstimate(shape, -1, "patch")).toThrow(/memoryEstimate: samples must be an integer >= 1, got -1/);
    expect(() => spanFit(init, init.subarray(1), init)).toThrow(ShapeError);
    expect(chooseSpan(shape, 1).subspace).toBe("patch"); // n k / (p + 1) = 2 / 6
  });

  it("seeds, step sizes and the experiments' options are checked, not read as they come", async () => {
    const { Rng } = await import("../src/random.js");
    const { runSynthetic } = await import("../src/experiments/synthetic.js");
    const { runPhase } = await import("../src/experiments/phase.js");
    // a seed of "x" or 1.5 seeded silently as 0 or 1; "0.1" as a step size was named as 0.1
    expect(() => new Rng(1.5)).toThrow(/seed must be an integer, got 1.5/);
    expect(() => initParams(shape, { seed: "x" as never })).toThrow(/seed must be an integer, got "x"/);
    const targets = [0.1, 0.2, 0.3];
    await expect(train(shape, init, data, targets, { seed: "x" as never, epochs: 1 })).rejects.toThrow(ValueError);
    await expect(train(shape, init, data, targets, { lr: "0.1" as never, epochs: 1 })).rejects.toThrow(/train: lr must be a finite number >= 0, got "0.1"/);
    // unknown experiment options were ignored
    await expect(runSynthetic({ p: 8, filter: 2 } as never)).rejects.toThrow(/runSynthetic: unknown option "filter"/);
    await expect(runPhase({ seeds: 0 })).rejects.toThrow(/runPhase: seeds must be an integer >= 1, got 0/);
    await expect(runPhase({ rho: [0.1] } as never)).rejects.toThrow(/runPhase: unknown option "rho"/);
  });

  it("contamination options", () => {
    expect(() => sparseOutliers(init, { rho: 1.5 })).toThrow(/rho must be in \[0, 1\], got 1.5/);
    expect(() => bitFlips(init, { rate: 0.1, bits: "upper" as never })).toThrow(/unknown bits "upper"/);
  });

  it("Cholesky of an indefinite matrix says so", async () => {
    const be = await createBackend("wasm");
    const g = be.upload(be.alloc(4), [1, 2, 2, 1]);
    expect(() => new Cholesky(be, g, 2)).toThrow(NumericalError);
    expect(() => new Cholesky(be, g, 2)).toThrow(/not positive definite \(pivot 1 of 2\)/);
  });

  it(".npy: bad magic, truncated data, unsupported dtype", () => {
    const good = encodeNpy(new Float64Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    expect(decodeNpy(good).shape).toEqual([2, 3]);
    expect(Array.from(decodeNpy(good).values)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => decodeNpy(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]))).toThrow(/bad magic/);
    expect(() => decodeNpy(good.subarray(0, good.length - 3))).toThrow(/truncated data/);
    const retyped = (descr: string) => {
      const b = good.slice();
      b.set(new TextEncoder().encode(new TextDecoder().decode(b.subarray(10, 80)).replace("<f8", descr)), 10);
      return b;
    };
    expect(() => decodeNpy(retyped(">f8"))).toThrow(/dtype >f8 is not supported/);
    // <i4 reads the same 48 bytes as 12 int32 values: the first 6 are the f64 halves
    expect(decodeNpy(retyped("<i4")).values.length).toBe(6);
    expect(decodeNpy(retyped("<i4")).values[0]).toBe(0);
  });
});
