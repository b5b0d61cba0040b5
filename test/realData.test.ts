// The real-data pieces: baselines against closed forms, the attacker's masked training and its
// gradient against finite differences, the trigger, a purifier reused across contaminations, and a
// tiny run of the `mnist` command with the documented JSON shape.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";
import { addTrigger, backdoorAttack } from "../src/attack/backdoor.js";
import { createBackend } from "../src/backend/index.js";
import { sparseOutliers } from "../src/contaminate.js";
import { main } from "../src/cli/run.js";
import { initParams } from "../src/model/init.js";
import type { ModelShape } from "../src/model/shape.js";
import { layoutOf } from "../src/model/shape.js";
import { clipToInitRange, parameterGroups, resetToInit, zeroAbnormal } from "../src/recover/baselines.js";
import { createPurifier, purify } from "../src/recover/purify.js";
import { evaluate, gradient, train } from "../src/train/train.js";
import { Rng } from "../src/random.js";

const shape: ModelShape = { patchDim: 6, patches: 4, filters: 3, outputs: 3, readout: "dense" };

function patchData(n: number, seed: number) {
  const rng = new Rng(seed);
  return { samples: n, patches: shape.patches, patchDim: shape.patchDim, values: rng.normals(n * shape.patches * shape.patchDim) };
}
const labelsOf = (n: number, seed: number) => Float64Array.from({ length: n }, (_, i) => (i * 7 + seed) % 3);

describe("baselines", () => {
  it("zeroAbnormal zeroes NaN and far entries per group and keeps the rest; clip clamps into init's range", () => {
    const init = initParams(shape, { seed: 1 });
    const theta = init.slice();
    const L = layoutOf(shape);
    theta[2] = 50; theta[L.wSize + 1] = NaN; theta[shape.patchDim] = -Infinity;
    const z = zeroAbnormal(shape, theta, 6);
    expect(z[2]).toBe(0);
    expect(z[L.wSize + 1]).toBe(0);
    expect(z[shape.patchDim]).toBe(0);
    let kept = 0;
    for (let i = 0; i < theta.length; i++) if (![2, L.wSize + 1, shape.patchDim].includes(i) && z[i] === theta[i]) kept++;
    expect(kept).toBeGreaterThan(theta.length - 3 - 6);
    const c = clipToInitRange(shape, theta, init);
    const wMax = Math.max(...Array.from(parameterGroups(shape)[0], (i) => init[i]));
    expect(c[2]).toBe(wMax);
    expect(Number.isFinite(c[L.wSize + 1])).toBe(true);
    expect(resetToInit(shape, init)).toEqual(init);
    expect(() => zeroAbnormal(shape, theta, 0)).toThrow(/threshold must be > 0/);
    expect(() => clipToInitRange(shape, theta.subarray(1), init)).toThrow(/expected \d+ parameters/);
  });
});

describe("attacker's training", () => {
  it("gradient() matches central finite differences of the mean loss (chunked over > 1024 samples)", async () => {
    const be = await createBackend("wasm");
    const n = 1100, data = patchData(n, 2), labels = labelsOf(n, 1);
    const theta = initParams(shape, { seed: 3 });
    const g = await gradient(shape, theta, data, labels, { backend: be });
    const loss = async (t: Float64Array) => (await evaluate(shape, t, data, labels, { backend: be })).loss;
    for (const i of [0, 5, layoutOf(shape).wSize + 4]) {
      // a small step: a larger one can cross some ReLU kink among the 13,200 units
      const h = 1e-6, a = theta.slice(), b = theta.slice();
      a[i] += h; b[i] -= h;
      expect(Math.abs((await loss(a) - await loss(b)) / (2 * h) - g[i])).toBeLessThan(1e-6 * Math.max(1, Math.abs(g[i])));
    }
  });

  it("updateMask leaves masked entries bit-identical (with weight decay and Adam too) and moves the others", async () => {
    const data = patchData(20, 4), labels = labelsOf(20, 2);
    const init = initParams(shape, { seed: 5 });
    const mask = Float64Array.from(init, (_, i) => (i % 3 === 0 ? 1 : 0));
    for (const extra of [{}, { weightDecay: 1e-2 }, { optimizer: "adam" as const, lr: 1e-3 }]) {
      const r = await train(shape, init, data, labels, { epochs: 3, batchSize: 5, updateMask: mask, ...extra });
      let moved = 0;
      for (let i = 0; i < init.length; i++) {
        if (mask[i] === 0) expect(r.params[i]).toBe(init[i]);
        else if (r.params[i] !== init[i]) moved++;
      }
      expect(moved).toBeGreaterThan(init.length / 6);
    }
    await expect(train(shape, init, data, labels, { updateMask: mask.subarray(1) })).rejects.toThrow(/updateMask has length/);
    await expect(train(shape, init, data, labels, { updateMask: mask.map((v, i) => (i === 7 ? 0.5 : v)) })).rejects.toThrow(/updateMask\[7\] = 0.5, expected 0 or 1/);
  });

  it("addTrigger stamps the square and nothing else; a sparse attack changes only its chosen entries", async () => {
    const img = { channels: 1, height: 8, width: 8 };
    const x = new Float64Array(2 * 64);
    const t = addTrigger(x, 2, img, { size: 2, margin: 1 });
    const lit = [...t.keys()].filter((i) => t[i] === 1);
    expect(lit).toEqual([45, 46, 53, 54, 64 + 45, 64 + 46, 64 + 53, 64 + 54]);
    expect(() => addTrigger(x, 2, img, { size: 8 })).toThrow(/does not fit/);
    const n = 30, data = patchData(n, 6), labels = labelsOf(n, 0);
    const trig = { ...data, values: data.values.map((v, i) => (i % shape.patchDim === 0 ? 3 : v)) };
    const clean = initParams(shape, { seed: 7 });
    const atk = await backdoorAttack(shape, clean, data, labels, trig, { kind: "sparse", target: 1, fraction: 0.1, lr: 0.05, maxEpochs: 3 });
    const chosen = new Set(atk.changed);
    expect(atk.changed.length).toBe(Math.round(0.1 * clean.length));
    for (let i = 0; i < clean.length; i++) if (!chosen.has(i)) expect(atk.params[i]).toBe(clean[i]);
  });
});

/** || d - J (J^T J)^-1 J^T d || / || d ||, d = clean - init, J by central differences (plain JS). */
async function residualOutsideJacobian(init: Float64Array, clean: Float64Array, data: ReturnType<typeof patchData>): Promise<number> {
  const P = init.length, cols = data.samples * shape.outputs, h = 1e-6;
  const out = async (t: Float64Array) => (await evaluate(shape, t, data, new Float64Array(data.samples), { backend: "js" })).outputs;
  const J = Array.from({ length: cols }, () => new Float64Array(P));
  for (let i = 0; i < P; i++) {
    const up = init.slice(), dn = init.slice();
    up[i] += h; dn[i] -= h;
    const [a, b] = [await out(up), await out(dn)];
    for (let c = 0; c < cols; c++) J[c][i] = (a[c] - b[c]) / (2 * h);
  }
  const d = clean.map((v, i) => v - init[i]);
  // normal equations G u = J d, by Gaussian elimination with partial pivoting
  const G = J.map((ri) => J.map((rj) => ri.reduce((s, v, k) => s + v * rj[k], 0)));
  const rhs = J.map((ri) => ri.reduce((s, v, k) => s + v * d[k], 0));
  for (let c = 0; c < cols; c++) {
    let piv = c;
    for (let r = c + 1; r < cols; r++) if (Math.abs(G[r][c]) > Math.abs(G[piv][c])) piv = r;
    [G[c], G[piv]] = [G[piv], G[c]]; [rhs[c], rhs[piv]] = [rhs[piv], rhs[c]];
    for (let r = c + 1; r < cols; r++) {
      const f = G[r][c] / G[c][c];
      for (let k = c; k < cols; k++) G[r][k] -= f * G[c][k];
      rhs[r] -= f * rhs[c];
    }
  }
  const u = new Float64Array(cols);
  for (let c = cols - 1; c >= 0; c--) {
    let sum = rhs[c];
    for (let k = c + 1; k < cols; k++) sum -= G[c][k] * u[k];
    u[c] = sum / G[c][c];
  }
  let num = 0, den = 0;
  for (let i = 0; i < P; i++) {
    let fit = 0;
    for (let c = 0; c < cols; c++) fit += J[c][i] * u[c];
    num += (d[i] - fit) ** 2; den += d[i] ** 2;
  }
  return Math.sqrt(num / den);
}

describe("Purifier", () => {
  it("one prepared span purifies several contaminations exactly as purify() does, bit for bit", async () => {
    const data = patchData(6, 8), labels = labelsOf(6, 1);
    const init = initParams(shape, { seed: 9 });
    const clean = (await train(shape, init, data, labels, { epochs: 20, lr: 1e-3 })).params;
    const p = await createPurifier({ shape, init, data, subspace: "linearized" });
    try {
      for (const seed of [1, 2]) {
        const c = sparseOutliers(clean, { rho: 0.05, seed }).params;
        const a = await p.purify(c, { clean });
        const b = await purify(c, { shape, init, data, subspace: "linearized", clean });
        expect(Array.from(a.params)).toEqual(Array.from(b.params));
        expect(a.report.cleanSpanResidual).toBeCloseTo(p.spanResidual(clean), 12);
      }
      // the span residual against an independent reference: the Jacobian at init by central differences
      // of the network's outputs, and the least-squares projection of the update onto its columns
      const want = await residualOutsideJacobian(init, clean, data);
      expect(want).toBeGreaterThan(0.01);
      expect(p.spanResidual(clean)).toBeCloseTo(want, 6);
      const r = await p.purify(sparseOutliers(clean, { rho: 0.05, seed: 3 }).params, { subspace: "relinearized" });
      expect(r.report.subspace).toBe("relinearized");
      await expect(p.purify(clean, { subspace: "patch" })).rejects.toThrow(/prepared for the "linearized" span/);
    } finally {
      p.dispose();
    }
  });
});

describe("cnn-purify mnist", () => {
  it("a tiny regime writes the documented JSON, two SVGs, and purification beats contamination", async () => {
    const dir = tempDir("cnnp-mnist-");
    let out = "";
    const code = await main(["mnist", "--quick", "--regimes", "60:16:8", "--test", "300", "--out", dir, "--json"], (s) => { out += s; });
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j.dataset).toBe("mnist");
    expect(JSON.parse(readFileSync(join(dir, "mnist.json"), "utf8")).regimes.length).toBe(1);
    const g = j.regimes[0];
    for (const k of ["n", "K", "layers", "params", "ratio", "accClean", "flipRate", "spanResidual", "scenarios"]) expect(g).toHaveProperty(k);
    expect(j.network).toBe("one-hidden");
    expect(g.ratio).toBeCloseTo((60 * 10) / g.params, 12);
    const names = new Set(g.scenarios.map((s: { name: string }) => s.name));
    expect([...names].sort()).toEqual(["backdoor-dense", "backdoor-sparse", "bitflips", "bitflips-mantissa", "outliers"]);
    for (const s of g.scenarios) {
      // accuracies are counts over the 300 test images
      for (const k of ["accContaminated", "accPurified", "accBaseline"]) expect(Math.abs(s[k] * 300 - Math.round(s[k] * 300))).toBeLessThan(1e-9);
      if (s.name.startsWith("backdoor")) for (const k of ["asrBefore", "asrAfter", "benignFraction"]) expect(s).toHaveProperty(k);
    }
    // the scenarios' times are parts of the whole run's
    expect(g.scenarios.reduce((t: number, s: { seconds: number }) => t + s.seconds, 0)).toBeLessThanOrEqual(j.seconds);
    const o = g.scenarios.find((s: { name: string; level: number; span: string }) => s.name === "outliers" && s.level === 0.1 && s.span === "linearized");
    expect(o.accPurified).toBeGreaterThan(o.accContaminated);
    expect(g.scenarios.some((s: { span: string }) => s.span === "relinearized")).toBe(true);
    for (const f of ["mnist-n60-K16-accuracy.svg", "mnist-n60-K16-backdoor.svg"]) expect(readFileSync(join(dir, f), "utf8")).toMatch(/^<svg/);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    // the saved result redraws the same figures and prints the table without running anything
    const dir2 = tempDir("cnnp-mnist-redraw-");
    let table = "";
    expect(await main(["mnist", "--from-json", join(dir, "mnist.json"), "--out", dir2], (s) => { table += s; })).toBe(0);
    expect(readFileSync(join(dir2, "mnist-n60-K16-accuracy.svg"), "utf8")).toBe(readFileSync(join(dir, "mnist-n60-K16-accuracy.svg"), "utf8"));
    expect(table).toMatch(/n = 60, K = 16, 7x7 patches/);
    expect(await main(["mnist", "--from-json", join(dir, "missing.json")], () => {})).toBe(3);
    expect(await main(["mnist", "--regimes", "60:16"], () => {})).toBe(2);
    expect(await main(["mnist", "--dataset", "cifar"], () => {})).toBe(2);
    expect(await main(["mnist", "--network", "multi-layer", "--export", dir2], () => {})).toBe(2);
    expect(await main(["mnist", "--network", "multi-layer", "--regimes", "12:8:2"], () => {})).toBe(2); // its K is DEEP_FILTERS
  }, 240_000);
});
