// Contamination generators: what they touch, how big, and that they are seeded.
import { describe, expect, it } from "vitest";
import { bitFlips, denseNoiseAndOutliers, sparseOutliers, targetedRows } from "../src/contaminate.js";
import { randn } from "./helpers.js";

const theta = randn(4000, 1, 0.1);

describe("contamination generators", () => {
  it("sparse outliers: exactly round(rho P) entries, each at least 5 stds away, seeded", () => {
    const c = sparseOutliers(theta, { rho: 0.1, scale: 10, seed: 3 });
    expect(c.indices.length).toBe(400);
    let changed = 0;
    for (let i = 0; i < theta.length; i++) if (c.params[i] !== theta[i]) { changed++; expect(c.mask[i]).toBe(1); expect(Math.abs(c.params[i] - theta[i])).toBeGreaterThanOrEqual(0.5 * 10 * 0.09); }
    expect(changed).toBe(400);
    expect(Array.from(sparseOutliers(theta, { rho: 0.1, seed: 3 }).params)).toEqual(Array.from(c.params));
    expect(Array.from(sparseOutliers(theta, { rho: 0.1, seed: 4 }).indices)).not.toEqual(Array.from(c.indices));
  });

  it("dense noise plus outliers changes every entry but marks only the outliers", () => {
    const c = denseNoiseAndOutliers(theta, { rho: 0.05, sigma: 0.01, seed: 1 });
    let changed = 0;
    for (let i = 0; i < theta.length; i++) if (c.params[i] !== theta[i]) changed++;
    expect(changed).toBe(theta.length);
    expect(c.indices.length).toBe(200);
  });

  it("exponent bit flips produce huge values and, with enough flips, NaN/Inf; sign-mantissa flips stay bounded", () => {
    const e = bitFlips(theta, { rate: 0.2, bits: "exponent", seed: 2 });
    const vals = Array.from(e.indices, (i) => e.params[i]);
    expect(vals.some((v) => !Number.isFinite(v) || Math.abs(v) > 1e30)).toBe(true);
    const m = bitFlips(theta, { rate: 0.2, bits: "sign-mantissa", seed: 2 });
    for (const i of m.indices) {
      expect(Number.isFinite(m.params[i])).toBe(true);
      expect(Math.abs(m.params[i])).toBeLessThanOrEqual(2 * Math.abs(theta[i]) + 1e-30);
    }
    // each flip changes exactly one bit of the f32 encoding
    const f = new Float32Array(2), u = new Uint32Array(f.buffer);
    for (const i of m.indices.slice(0, 50)) {
      f[0] = theta[i]; f[1] = m.params[i];
      const x = u[0] ^ u[1];
      expect(x !== 0 && (x & (x - 1)) === 0).toBe(true);
    }
  });

  it("targeted rows perturb whole filters and nothing else", () => {
    const c = targetedRows(theta, { rows: [2, 5], rowLength: 100, scale: 1, seed: 1 });
    expect(c.indices.length).toBe(200);
    for (let i = 0; i < theta.length; i++) {
      const inRow = (i >= 200 && i < 300) || (i >= 500 && i < 600);
      expect(c.params[i] !== theta[i]).toBe(inRow);
    }
    expect(() => targetedRows(theta, { rows: [40], rowLength: 100 })).toThrow(/row 40 is outside/);
  });
});
