// The page for the user's own files (demo/files.html) in headless Chromium: PyTorch's files go in
// through the file inputs; Check gives the CLI's verdict, Purify gives the CLI's file byte for byte;
// garbage shows the reader's message and no download; after load the page makes no request; no
// console errors; screenshots in test-artifacts/.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { unzipSync } from "fflate";
// @ts-expect-error: a plain .mjs script without types
import { startServer } from "../scripts/serve.mjs";
import { decodeNpy } from "../src/io/npy.js";
import { openModel } from "../src/io/modelSource.js";
import { cli } from "./helpers.js";

const CHROMIUM = "/usr/bin/chromium";
const available = existsSync(CHROMIUM);
if (!available && process.env.CI) throw new Error(`${CHROMIUM} is missing: .ci/run must install Debian's chromium`);
const F = new URL("./fixtures/pytorch/", import.meta.url).pathname;
const artifacts = new URL("../test-artifacts/", import.meta.url).pathname;

let browser: Browser, base: string, server: { close(): void };
const dir = mkdtempSync(join(tmpdir(), "cnnp-page-"));
beforeAll(async () => {
  if (!available) return;
  ({ server, url: base } = await startServer(new URL("../dist", import.meta.url).pathname, 0));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});
afterAll(async () => { await browser?.close(); server?.close(); rmSync(dir, { recursive: true, force: true }); });

/** The page, loaded and warm (its worker and binaries fetched), with every later request and error recorded. */
async function openPage(): Promise<{ page: Page; requests: string[]; errors: string[] }> {
  const page = await browser.newPage({ acceptDownloads: true });
  const requests: string[] = [], errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto(`${base}/demo/files.html`);
  await page.waitForSelector("body[data-warm='1']", { timeout: 30_000 });
  // network requests only: a worker started from a blob: URL reads memory, not the network
  page.on("request", (r) => { if (!r.url().startsWith("blob:") && !r.url().startsWith("data:")) requests.push(r.url()); });
  return { page, requests, errors };
}

async function choose(page: Page, files: Record<string, string>): Promise<void> {
  for (const [input, path] of Object.entries(files)) await page.setInputFiles(`#${input}`, path);
}

describe.skipIf(!available)("the page for your own files, in headless Chromium", () => {
  it("Check: the CLI's verdict on PyTorch's f32 exact-regime files, suspects and their bar chart", async () => {
    const { page, requests, errors } = await openPage();
    const E = join(F, "exact");
    await choose(page, { model: join(E, "model.pt"), init: join(E, "init.pt"), data: join(E, "data.npy") });
    await page.click("#check");
    await page.waitForSelector("body[data-state='checked']", { timeout: 60_000 });
    const cliResult = JSON.parse((await cli(["check", "--model", join(E, "model.pt"), "--init", join(E, "init.pt"), "--data", join(E, "data.npy"), "--json"])).out).results[0];
    expect(await page.getAttribute("body", "data-verdict")).toBe(cliResult.verdict);
    expect(await page.textContent("#verdict")).toBe("changed (certified)");
    expect(await page.locator("#plots svg").count()).toBe(1);
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, "page-check.png"), fullPage: true });
    expect(requests, requests.join(" ")).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 120_000);

  it("Purify: the download is the CLI's file (byte for byte on the CLI's binary, within ADMM's stopping rule on another), with accuracies; garbage shows the reader's message", async () => {
    const { page, requests, errors } = await openPage();
    const D = join(F, "one-hidden");
    const inputs = { model: join(D, "model.pt"), init: join(D, "init.pt"), data: join(D, "data.npy"), evalData: join(D, "test-data.npy"), evalLabels: join(D, "test-labels.npy") };
    await choose(page, inputs);
    // Cancel stops the worker; the next run starts a fresh one
    await page.click("#purify");
    await page.click("#cancel");
    expect(await page.getAttribute("body", "data-state")).toBe("cancelled");
    await page.click("#purify");
    await page.waitForSelector("body[data-state='purified']", { timeout: 120_000 });
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    expect(download.suggestedFilename()).toBe("model.purified.pt");
    const got = readFileSync(await download.path());
    const [reportDownload] = await Promise.all([page.waitForEvent("download"), page.click("#report")]);
    const pageReport = JSON.parse(readFileSync(await reportDownload.path(), "utf8"));
    const out = join(dir, "cli.pt");
    const r = await cli(["purify", "--model", inputs.model, "--init", inputs.init, "--data", inputs.data, "--eval-data", inputs.evalData, "--eval-labels", inputs.evalLabels, "--out", out, "--json"]);
    expect(r.code, r.err).toBe(0);
    const cliReport = JSON.parse(r.out);
    if (pageReport.binary === cliReport.binary) expect(got.equals(readFileSync(out))).toBe(true);
    else {
      // Chromium runs the relaxed-SIMD binary (fused multiply-add), node 20 the SIMD one: on this
      // approximate span ADMM's answer is determined only to its stopping rule (the f32 factor of the
      // re-linearized union is rounded differently), so the two files agree to 1e-5 of the model's norm
      expect(pageReport.certifiedExact).toBe(false);
      const [, , height, width] = decodeNpy(new Uint8Array(readFileSync(inputs.data))).shape;
      const a = openModel(new Uint8Array(got), "pt", "page", { height, width }).theta, b = openModel(new Uint8Array(readFileSync(out)), "pt", "cli", { height, width }).theta;
      let num = 0, den = 0;
      for (let i = 0; i < b.length; i++) { num += (a[i] - b[i]) ** 2; den += b[i] ** 2; }
      expect(Math.sqrt(num / den)).toBeLessThanOrEqual(1e-5);
      expect(Math.abs(pageReport.evalAccuracyAfter - cliReport.evalAccuracyAfter)).toBeLessThanOrEqual(0.01);
    }
    // the user's file: the same archive, data.pkl and version untouched, only the storages rewritten
    const a = unzipSync(new Uint8Array(readFileSync(inputs.model))), b = unzipSync(new Uint8Array(got));
    expect(Object.keys(b)).toEqual(Object.keys(a));
    for (const n of Object.keys(a)) expect(Buffer.from(a[n]).equals(Buffer.from(b[n])), n).toBe(/\/data\/\d+$/.test(n) ? false : true);
    expect(await page.textContent("#result")).toContain(`${pageReport.evalAccuracyAfter.toFixed(4)} after`);
    expect(await page.locator("#plots svg").count()).toBe(3); // one scatter per tensor
    await page.screenshot({ path: join(artifacts, "page-purify.png"), fullPage: true });
    // a garbage model: the reader's message, no download
    await page.setInputFiles("#model", { name: "broken.safetensors", mimeType: "application/octet-stream", buffer: Buffer.alloc(40, 7) });
    await page.setInputFiles("#init", join(F, "one-hidden", "init.safetensors"));
    await page.click("#purify");
    await page.waitForSelector("body[data-state='error']", { timeout: 30_000 });
    expect(await page.textContent("#error")).toMatch(/broken\.safetensors.*safetensors: header length .* is not plausible|truncated/);
    expect(await page.locator("#download").count()).toBe(0);
    // not even after Cancel: new workers start from the script and binaries the page holds
    expect(requests, requests.join(" ")).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 180_000);
});
