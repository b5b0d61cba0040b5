// The demo page: reads the controls, runs the experiment in demo/worker.ts, shows progress, a table
// and scatter plots of contaminated and purified weights against the clean ones.
import { scatterPlot } from "../src/plot/svg.js";
import type { DemoRequest, DemoMessage } from "./protocol.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const rho = $<HTMLInputElement>("rho");
rho.addEventListener("input", () => { $("rhoValue").textContent = Number(rho.value).toFixed(2); });

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
const fmt = (v: number) => (v === 0 ? "0" : Math.abs(v) < 1e-3 || Math.abs(v) >= 1e4 ? v.toExponential(2) : v.toFixed(3));

worker.onmessage = (e: MessageEvent<DemoMessage>) => {
  const m = e.data;
  if (m.type === "progress") {
    $<HTMLProgressElement>("progress").value = m.fraction;
    $("status").textContent = m.text;
    return;
  }
  if (m.type === "error") { $("status").textContent = `error: ${m.message}`; $<HTMLButtonElement>("run").disabled = false; return; }
  const s = m.summary;
  $("table").hidden = false;
  $("cw").textContent = fmt(s.contaminatedWeightRelError);
  $("cb").textContent = fmt(s.contaminatedBiasRelError);
  $("pw").textContent = fmt(s.weightRelError);
  $("pb").textContent = fmt(s.biasRelError);
  $("verdict").textContent = s.recovered
    ? `Recovered exactly (certified by the solver) in ${fmt(s.seconds)} s, ${s.iterations} ADMM iterations.`
    : `Not certified exact: rho = ${s.rho} is too much contamination for this span (the report flags it).`;
  const pts = (a: Float64Array) => Array.from(m.clean, (c, i) => [c, a[i]] as [number, number]);
  const limit = 1.5 * Math.max(...Array.from(m.clean, Math.abs));
  $("plots").innerHTML =
    scatterPlot({ title: "Contaminated vs clean weights", xLabel: "clean", yLabel: "contaminated", limit, diagonal: true, series: [{ name: "contaminated", color: "#d62728", points: pts(m.contaminated) }] }) +
    scatterPlot({ title: "Purified vs clean weights", xLabel: "clean", yLabel: "purified", limit, diagonal: true, series: [{ name: "purified", color: "#1f77b4", points: pts(m.recovered) }] });
  $("status").textContent = "done";
  $<HTMLButtonElement>("run").disabled = false;
  document.body.dataset.done = "1";
};

$("run").addEventListener("click", () => {
  $<HTMLButtonElement>("run").disabled = true;
  document.body.dataset.done = "";
  const req: DemoRequest = { rho: Number(rho.value), filters: Number($<HTMLSelectElement>("filters").value), p: Number($<HTMLSelectElement>("p").value) };
  worker.postMessage(req);
});
