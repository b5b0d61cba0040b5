// The files page: the user's model, init and training inputs in; a check verdict or the purified
// file out, with plots. Work runs in demo/filesWorker.ts; Cancel terminates it. Nothing is sent
// anywhere: files are read with FileReader APIs and the result is offered as a Blob download.
import { WASM_MEMORY_LIMIT, barChart, scatterPlot } from "../src/browser.js";
import type { PageFile, PageFiles, PageMessage } from "./filesProtocol.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const INPUTS = ["model", "init", "data", "evalData", "evalLabels"] as const;
const chosen: Partial<Record<(typeof INPUTS)[number], File>> = {};
let worker: Worker | null = null;

for (const k of INPUTS) $<HTMLInputElement>(k).addEventListener("change", (e) => { chosen[k] = (e.target as HTMLInputElement).files?.[0]; ready(); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault(); drop.classList.remove("over");
  for (const f of Array.from(e.dataTransfer?.files ?? [])) {
    const n = f.name.toLowerCase();
    if (n.includes("label")) chosen.evalLabels = f;
    else if (/\.(npy|npz)$/.test(n)) chosen[chosen.data ? "evalData" : "data"] = f;
    else if (n.startsWith("init")) chosen.init = f;
    else chosen.model = f;
  }
  ready();
});

function ready(): void {
  const missing = (["model", "init", "data"] as const).filter((k) => !chosen[k]);
  $("status").textContent = missing.length ? `still needed: ${missing.join(", ")}` : "ready";
}

async function read(f: File): Promise<PageFile> { return { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) }; }

function busy(on: boolean): void {
  $<HTMLButtonElement>("check").disabled = on; $<HTMLButtonElement>("purify").disabled = on; $<HTMLButtonElement>("cancel").disabled = !on;
}

function fail(message: string): void {
  $("error").textContent = message; $("status").textContent = "stopped"; busy(false);
  document.body.dataset.state = "error";
}

async function start(action: "check" | "purify"): Promise<void> {
  $("error").textContent = ""; $("result").innerHTML = ""; $("plots").innerHTML = ""; delete document.body.dataset.state;
  if (!chosen.model || !chosen.init || !chosen.data) { fail("choose the model, its init and the training inputs first"); return; }
  if (!!chosen.evalData !== !!chosen.evalLabels) { fail("evaluation inputs and labels go together"); return; }
  const files: PageFiles = { model: await read(chosen.model), init: await read(chosen.init), data: await read(chosen.data) };
  if (chosen.evalData && chosen.evalLabels) { files.evalData = await read(chosen.evalData); files.evalLabels = await read(chosen.evalLabels); }
  const subspace = $<HTMLSelectElement>("subspace").value, maxIter = Number($<HTMLInputElement>("maxIter").value);
  const options = { ...(subspace === "auto" ? {} : { subspace }), ...(maxIter > 0 ? { maxIter } : {}) };
  worker ??= startWorker();
  busy(true);
  $("status").textContent = `${action}: reading the files`;
  worker.postMessage({ action, files, options, memoryLimit: WASM_MEMORY_LIMIT });
}

const fmt = (v: number) => (v === 0 ? "0" : Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4 ? v.toExponential(2) : v.toFixed(4));

function show(m: PageMessage): void {
  if (m.type === "warm") { document.body.dataset.warm = "1"; return; }
  if (m.type === "sized") {
    $("limit").textContent = `Span: ${m.reason}. Working memory: about ${(m.memoryBytes / 2 ** 20).toFixed(1)} MiB ` +
      `(this page allows ${(WASM_MEMORY_LIMIT / 2 ** 30).toFixed(1)} GiB, WebAssembly's limit).` + m.warnings.map((w) => ` Warning: ${w}.`).join("");
    return;
  }
  if (m.type === "progress") { $<HTMLProgressElement>("progress").value = m.fraction; $("status").textContent = m.text; return; }
  if (m.type === "error") { fail(m.message); return; }
  busy(false);
  $<HTMLProgressElement>("progress").value = 1;
  if (m.type === "checked") {
    const r = m.result;
    $("result").innerHTML = `<h2 id="verdict">${r.verdict}${r.certified ? " (certified)" : ""}</h2><p>${escape(r.reason)}</p>` +
      `<table><tr><th>tensor</th><th>index</th><th>value in the file</th><th>the span predicts</th></tr>` +
      r.suspects.top.map((s) => `<tr><td>${escape(s.tensor)}</td><td>${s.index}</td><td>${fmt(s.value)}</td><td>${fmt(s.predicted)}</td></tr>`).join("") + "</table>";
    $("plots").innerHTML = barChart({ title: "Suspect entries per tensor", yLabel: "entries", bars: Object.entries(r.suspects.perTensor).map(([label, value]) => ({ label, value })) });
    $("status").textContent = "checked";
    document.body.dataset.state = "checked";
    document.body.dataset.verdict = r.verdict;
    return;
  }
  const rep = m.report;
  const url = URL.createObjectURL(new Blob([m.bytes as Uint8Array<ArrayBuffer>]));
  const reportUrl = URL.createObjectURL(new Blob([JSON.stringify(rep, null, 2)], { type: "application/json" }));
  const acc = rep.evalAccuracyBefore !== undefined ? ` Accuracy on the evaluation data: ${fmt(rep.evalAccuracyBefore as number)} before, ${fmt(rep.evalAccuracyAfter as number)} after.` : "";
  $("result").innerHTML = `<p>Purified with the ${escape(String(rep.subspace))} span: ${rep.changed} parameters changed, ` +
    `${rep.estimatedContaminated ?? "-"} judged contaminated, certified exact: ${rep.certifiedExact ?? false}.${acc}</p>` +
    `<p><a id="download" href="${url}" download="${escape(m.name)}">Download ${escape(m.name)}</a> · <a id="report" href="${reportUrl}" download="report.json">the report (JSON)</a></p>`;
  $("plots").innerHTML = m.tensors.map((t) => {
    const pts = Array.from(t.before, (b, i) => [b, t.after[i]] as [number, number]);
    return scatterPlot({ title: t.name, xLabel: "in the file", yLabel: "purified", diagonal: true, series: [{ name: t.name, color: "#1f77b4", points: pts }] });
  }).join("");
  $("status").textContent = "purified";
  document.body.dataset.state = "purified";
}

const escape = (s: string) => s.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]!));

$("check").addEventListener("click", () => { void start("check"); });
$("purify").addEventListener("click", () => { void start("purify"); });
$("cancel").addEventListener("click", () => { worker?.terminate(); worker = null; busy(false); $("status").textContent = "cancelled"; document.body.dataset.state = "cancelled"; });

/**
 * The page's own files, fetched once at load: the worker's script (workers start from it as a Blob,
 * so Cancel and a new run fetch nothing) and the kernel binaries, compiled here and handed to each
 * worker as WebAssembly.Modules (a runtime without SIMD skips that binary and runs the scalar one).
 */
const assets = (async () => {
  const own = (f: string) => new URL(`./${f}`, import.meta.url);
  const compile = async (f: string) => {
    try { return await WebAssembly.compile(await (await fetch(own(f))).arrayBuffer()); } catch { return undefined; }
  };
  const [script, relaxed, simd, scalar] = await Promise.all([fetch(own("filesWorker.js")).then((r) => r.text()),
    compile("cnn-purify-relaxed.wasm"), compile("cnn-purify-simd.wasm"), compile("cnn-purify-scalar.wasm")]);
  return { url: URL.createObjectURL(new Blob([script], { type: "text/javascript" })), modules: { relaxed, simd, scalar } };
})();

function startWorker(): Worker {
  const w = new Worker(workerUrl, { type: "module" });
  w.onmessage = (e: MessageEvent<PageMessage>) => show(e.data);
  w.onerror = (e) => fail(e.message);
  w.postMessage({ action: "warm", modules });
  return w;
}
const { url: workerUrl, modules } = await assets;
worker = startWorker();
ready();
