// `cnn-purify detection`: how often check's statistical verdict flags changed models and clean ones
// (false alarms), per recipe; a table, JSON and an SVG of detection rate against changed entries.
import { join } from "node:path";
import { BACKEND_NAMES } from "../backend/types.js";
import { DATASET_NAMES } from "../data/datasets.js";
import type { DetectionResult } from "../experiments/detection.js";
import { DETECTION_MODELS, runDetection } from "../experiments/detection.js";
import { linePlot } from "../plot/svg.js";
import type { OptionSpec } from "./args.js";
import { COMMON, choice, num } from "./args.js";
import type { Command } from "./commands.js";
import { writeFileAtomic } from "./files.js";
import { ProgressBar } from "./progress.js";
import { fmt, table } from "./table.js";

const spec: OptionSpec = {
  dataset: { type: "string", default: "mnist", help: `data set: ${DATASET_NAMES.join(", ")}` },
  model: { type: "string", default: "one-hidden", help: `recipe: ${DETECTION_MODELS.join(", ")} (the thin real-data regime, or the multi-layer experiment's network)` },
  seeds: { type: "string", help: "changed models per cell (default 10)" },
  calibration: { type: "string", help: "clean models that set the cutoffs (default 20)" },
  clean: { type: "string", help: "held-out clean models for the false-alarm rate (default 40)" },
  margin: { type: "string", help: "cutoff = margin x the largest clean z (default 1.5)" },
  quick: { type: "boolean", help: "a tiny recipe with 2-3 models per step (seconds; numbers mean nothing)" },
  seed: { type: "string", default: "1", help: "seed of the split, init, SGD orders and changes" },
  out: { type: "string", help: "folder for detection-<dataset>-<model>.json, .md and .svg" },
  ...COMMON,
};

const pct = (x: number) => `${(100 * x).toFixed(0)}%`;

export function detectionTable(r: DetectionResult): string {
  return `${r.dataset}, ${r.recipe}; P = ${r.params}\n` +
    `cutoffs (${r.margin} x the largest z of ${r.calibrationModels} clean models): ${r.cutoffs.map((c) => `${c.name} ${fmt(c.cutoff)}`).join(", ")}\n` +
    `false alarms: ${r.falseAlarms} of ${r.cleanModels} held-out clean models (${pct(r.falseAlarmRate)})\n\n` +
    table(["change", "entries changed", "detected", "rate", "recall of changed entries", "precision of suspects"],
      r.cells.map((c) => [c.kind, fmt(c.changed), `${c.detected}/${c.seeds}`, pct(c.rate), fmt(c.recall), fmt(c.precision)]));
}

export function detectionSvg(r: DetectionResult): string {
  const pts = (kind: string) => r.cells.filter((c) => c.kind === kind).map((c) => [c.changed, 100 * c.rate] as [number, number]);
  const xs = r.cells.filter((c) => c.kind === "outliers").map((c) => c.changed);
  const flat = (y: number) => [[Math.min(...xs), y], [Math.max(...xs), y]] as Array<[number, number]>;
  const bd = (kind: string) => r.cells.find((c) => c.kind === kind);
  return linePlot({
    title: `check on ${r.dataset} (${r.model}): detection rate, ${r.cells[0]?.seeds ?? 0} seeds per point`,
    xLabel: "entries changed", yLabel: "models flagged (%)", logX: true,
    series: [
      { name: "outliers", points: pts("outliers"), color: "#1f77b4" },
      { name: "bit flips (top 24)", points: pts("bitflips"), color: "#d62728" },
      { name: `sparse backdoor ${pct(bd("backdoor-sparse")?.rate ?? 0)}`, points: pts("backdoor-sparse"), color: "#2ca02c" },
      { name: `dense backdoor ${pct(bd("backdoor-dense")?.rate ?? 0)}`, points: flat(100 * (bd("backdoor-dense")?.rate ?? 0)), color: "#9467bd" },
      { name: `false alarms (${r.falseAlarms}/${r.cleanModels})`, points: flat(100 * r.falseAlarmRate), color: "#7f7f7f" },
    ],
  });
}

export const detection: Command = {
  summary: "check's statistical verdict measured: detection and false-alarm rates on clean and changed models",
  spec,
  async run(v, out) {
    const dataset = choice("detection", "dataset", v.dataset, DATASET_NAMES), model = choice("detection", "model", v.model, DETECTION_MODELS);
    const opt = (k: string, min: number) => (v[k] === undefined ? undefined : num("detection", k, v[k], { int: true, min }));
    const bar = new ProgressBar(`detection (${dataset}, ${model})`, !v.json);
    const r = await runDetection({
      dataset, model, quick: v.quick === true, seeds: opt("seeds", 1), calibration: opt("calibration", 1), clean: opt("clean", 1),
      margin: v.margin === undefined ? undefined : num("detection", "margin", v.margin, { min: 1 }),
      seed: num("detection", "seed", v.seed, { int: true, min: 0 }), backend: choice("detection", "backend", v.backend, BACKEND_NAMES),
      onProgress: (s, d, t) => bar.update(d, t, s),
    });
    if (typeof v.out === "string") {
      const base = join(v.out, `detection-${dataset}-${model}`);
      writeFileAtomic(`${base}.json`, JSON.stringify(r, null, 2) + "\n");
      writeFileAtomic(`${base}.md`, "```\n" + detectionTable(r) + "\n```\n");
      writeFileAtomic(`${base}.svg`, detectionSvg(r));
    }
    out(v.json ? JSON.stringify(r) : detectionTable(r));
  },
};
