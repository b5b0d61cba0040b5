// Honest limits: how much of the model's change a span leaves unexplained, measured without the
// clean model, and the warning when a span cannot hold the training's update.
import { describe, expect, it } from "vitest";
import { runSynthetic } from "../src/experiments/synthetic.js";
import { Rng } from "../src/random.js";
import { SPAN_RULE, spanHoldWarning } from "../src/recover/chooseSpan.js";
import { spanFit } from "../src/recover/report.js";

describe("spanFit", () => {
  const P = 2000, rng = new Rng(4);
  const init = rng.normals(P), update = rng.normals(P).map((v) => 0.1 * v);
  const clean = init.map((v, i) => v + update[i]);
  const contaminated = clean.slice();
  for (let i = 0; i < P; i += 20) contaminated[i] += 10; // 5% outliers
  contaminated[7] = NaN;

  it("a purification that explains the whole update leaves ~0 and flags the outliers", () => {
    const fit = spanFit(contaminated, init, clean);
    expect(fit.unexplained).toBe(0);
    expect(fit.flagged).toBeCloseTo(101 / P, 12); // 100 outliers and the NaN
  });

  it("one that explains half of the update (in every entry) leaves half", () => {
    const half = init.map((v, i) => v + 0.5 * update[i]);
    const fit = spanFit(contaminated, init, half);
    // on the kept entries the residual is 0.5 update and the change is the update: exactly 0.5
    expect(fit.unexplained).toBeCloseTo(0.5, 12);
    expect(spanHoldWarning(fit.unexplained, "linearized")).toBeNull();
    const fifth = init.map((v, i) => v + 0.4 * update[i]);
    expect(spanFit(contaminated, init, fifth).unexplained).toBeCloseTo(0.6, 12);
    expect(spanHoldWarning(0.6, "linearized")).toMatch(/^the linearized span leaves 60% of the model's change unexplained/);
    expect(SPAN_RULE.unexplainedWarn).toBe(0.5);
  });
});

describe("purify reports it", () => {
  it("exact regime (patch span): ~0 unexplained, no warning", async () => {
    const r = await runSynthetic({ seed: 1, rho: 0.2 });
    expect(r.report.recovered).toBe(true);
    expect(r.report.unexplained).toBeLessThan(1e-9);
    expect(r.report.warnings).toEqual([]);
  });

  it("a linearized span far from the lazy regime (41% of the activations flip) warns, with the number", async () => {
    const r = await runSynthetic({ p: 64, patches: 4, samples: 8, filters: 4, subspace: "linearized", lr: 0.02, rho: 0.05, seed: 3 });
    expect(r.summary.flipRate).toBeGreaterThan(0.4);
    expect(r.report.unexplained).toBeGreaterThan(SPAN_RULE.unexplainedWarn);
    expect(r.report.warnings.at(-1)).toMatch(/^the linearized span leaves \d+% of the model's change unexplained/);
    // re-linearized, the union holds much more of it
    const rel = await runSynthetic({ p: 64, patches: 4, samples: 8, filters: 4, subspace: "relinearized", lr: 0.02, rho: 0.05, seed: 3 });
    expect(rel.report.unexplained).toBeLessThan(r.report.unexplained);
  });
});
