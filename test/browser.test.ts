// In headless Chromium (Debian's package, driven by playwright-core): the browser bundle recovers
// the same parameters as Node, bit for bit, also with Web Workers; the demo page runs with no console
// errors and leaves a screenshot in test-artifacts/. CI installs chromium (.ci/run).
import { existsSync, mkdirSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { chromium } from "playwright-core";
// @ts-expect-error: a plain .mjs script without types
import { startServer } from "../scripts/serve.mjs";
import { createBackend } from "../src/backend/index.js";
import { runSynthetic } from "../src/experiments/synthetic.js";
import { relDiff } from "./helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run must install Debian's chromium`);

let browser: Browser, base: string, server: { close(): void };
beforeAll(async () => {
  if (!available) return;
  const root = new URL("../dist", import.meta.url).pathname;
  ({ server, url: base } = await startServer(root, 0));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
afterAll(async () => { await browser?.close(); server?.close(); });

describe.skipIf(!available)("headless Chromium", () => {
  it("the browser bundle recovers the same parameters as Node (also with 2 Web Workers)", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(`${base}/demo/index.html`);
    const opts = { p: 40, patches: 4, samples: 3, filters: 64, rho: 0.1, seed: 2 }; // 64 filters: two shares of 32, so 2 workers run
    const node = await runSynthetic({ ...opts, backend: "wasm" });
    // A string, not a function: vitest would rewrite a dynamic import() inside a function.
    // (a) the whole pipeline in the page; (b) purify on Node's exact inputs, one thread and 2 workers.
    const got = await page.evaluate(`(async () => {
      const api = await import(${JSON.stringify(`${base}/bundle/browser/cnn-purify.js`)});
      const be = await api.createBackend("wasm");
      const r = await api.runSynthetic({ ...${JSON.stringify(opts)}, backend: be });
      const inputs = ${JSON.stringify({ c: Array.from(node.contaminated), init: Array.from(node.init), values: Array.from(node.data.values), shape: node.shape, data: { ...node.data, values: [] } })};
      const o = { shape: inputs.shape, init: Float64Array.from(inputs.init), data: { ...inputs.data, values: Float64Array.from(inputs.values) }, trainedReadout: false };
      const one = await api.purify(Float64Array.from(inputs.c), o);
      const two = await api.purify(Float64Array.from(inputs.c), { ...o, workers: 2 });
      return { simd: be.simd, binary: be.binary, pipeline: Array.from(r.recovered), one: Array.from(one.params), workers: Array.from(two.params), err: r.summary.weightRelError };
    })()`) as { simd: boolean; binary: string; pipeline: number[]; one: number[]; workers: number[]; err: number };
    expect(got.simd).toBe(true);
    expect(relDiff(got.pipeline, node.recovered)).toBeLessThanOrEqual(1e-12);
    // Chromium runs the relaxed-SIMD binary (FMA) where Node 20 runs the SIMD one: then 1e-12, not bits
    const nodeBinary = (await createBackend("wasm")).binary;
    expect(["relaxed", "simd"]).toContain(got.binary);
    if (got.binary === nodeBinary) expect(got.one).toEqual(Array.from(node.recovered));
    else expect(relDiff(got.one, node.recovered)).toBeLessThanOrEqual(1e-12);
    // the Web Workers run the page's binary: bit for bit its one-thread answer
    expect(got.workers).toEqual(got.one);
    expect(got.err).toBeLessThanOrEqual(1e-9);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("the demo page purifies with progress and no console errors; screenshot saved", async () => {
    const page = await browser.newPage({ viewport: { width: 1000, height: 1100 } });
    const problems: string[] = [];
    page.on("console", (m) => { if (m.type() === "error") problems.push(m.text()); });
    page.on("pageerror", (e) => problems.push(String(e)));
    await page.goto(`${base}/demo/`);
    await page.locator("#rho").fill("0.3");
    await page.locator("#run").click();
    await page.waitForSelector("body[data-done='1']", { timeout: 60_000 });
    expect(await page.locator("#verdict").textContent()).toMatch(/Recovered exactly/);
    expect(Number(await page.locator("#pw").textContent())).toBeLessThanOrEqual(1e-9);
    expect(await page.locator("#plots svg").count()).toBe(2);
    expect(await page.locator("#progress").evaluate((e) => (e as HTMLProgressElement).value)).toBe(1);
    mkdirSync(new URL("../test-artifacts", import.meta.url).pathname, { recursive: true });
    await page.screenshot({ path: new URL("../test-artifacts/demo.png", import.meta.url).pathname, fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });
});
