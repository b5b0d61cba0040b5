// `cnn-purify deep`: the multi-layer experiment (two conv layers + dense), both recovery methods.
import { join } from "node:path";
import { BACKEND_NAMES } from "../backend/types.js";
import { DATASET_NAMES } from "../data/datasets.js";
import { runDeep } from "../experiments/deep.js";
import type { DeepResult } from "../experiments/deep.js";
import { linePlot } from "../plot/svg.js";
import type { OptionSpec } from "./args.js";
import { choice, helpText, num, parse } from "./args.js";
import type { Command } from "./commands.js";
import { writeFileAtomic } from "./files.js";
import { ProgressBar } from "./progress.js";
import { fmt, table } from "./table.js";

const spec: OptionSpec = {
  dataset: { type: "string", default: "mnist", help: `data set: ${DATASET_NAMES.join(", ")}` },
  quick: { type: "boolean", help: "100 training images and fewer levels (about a minute)" },
  samples: { type: "string", help: "training images n (default 100 quick, 200 full; the NTK is (10 n)^2)" },
  epochs: { type: "string", help: "training epochs (default 30)" },
  test: { type: "string", help: "test images (default 2000)" },
  seed: { type: "string", default: "1", help: "seed of the split, init, batches, contamination and attack" },
  out: { type: "string", help: "folder for deep-<dataset>.json and deep-<dataset>.svg" },
  backend: { type: "string", default: "wasm", help: `kernel backend: ${BACKEND_NAMES.join(", ")}` },
  json: { type: "boolean", help: "print the JSON result instead of tables" },
  help: { type: "boolean", help: "show this help" },
};

const pct = (x: number | undefined) => (x === undefined ? "" : (100 * x).toFixed(1));

export function deepSvg(r: DeepResult): string {
  const g = r.regimes[0];
  const pts = (method: string, key: "accPurified" | "accBaseline" | "accContaminated") =>
    g.scenarios.filter((s) => s.name === "outliers" && s.method === method).map((s) => [s.level, 100 * s[key]] as [number, number]);
  return linePlot({
    title: `${r.dataset}, two conv layers + dense, n = ${g.n}: accuracy after sparse outliers`,
    xLabel: "fraction of parameters contaminated, rho", yLabel: "test accuracy (%)",
    series: [
      { name: "layerwise (a)", points: pts("layerwise", "accPurified"), color: "#1f77b4" },
      { name: "linearized (b)", points: pts("linearized", "accPurified"), color: "#d62728" },
      { name: "re-linearized (b)", points: pts("relinearized", "accPurified"), color: "#17becf" },
      { name: "best baseline", points: pts("linearized", "accBaseline"), color: "#9467bd" },
      { name: "contaminated", points: pts("linearized", "accContaminated"), color: "#e377c2" },
      { name: "clean", points: pts("linearized", "accPurified").map(([x]) => [x, 100 * g.accClean] as [number, number]), color: "#7f7f7f" },
    ],
  });
}

export const deep: Command = {
  summary: "two-conv-layer CNN on MNIST/Fashion: layerwise and linearized recovery beside baselines",
  spec,
  async run(argv, out) {
    const v = parse("deep", argv, spec);
    if (v.help) { out(helpText("deep", this.summary, spec)); return; }
    const dataset = choice("deep", "dataset", v.dataset, DATASET_NAMES);
    const opt = (k: string, min: number) => (v[k] === undefined ? undefined : num("deep", k, v[k], { int: true, min }));
    const bar = new ProgressBar(`deep (${dataset})`);
    const r = await runDeep({
      dataset, quick: v.quick === true, backend: choice("deep", "backend", v.backend, BACKEND_NAMES), seed: num("deep", "seed", v.seed, { int: true, min: 0 }),
      samples: opt("samples", 1), epochs: opt("epochs", 0), test: opt("test", 1), onProgress: (s, d, t) => bar.update(d, t, s),
    });
    if (typeof v.out === "string") {
      writeFileAtomic(join(v.out, `deep-${dataset}.json`), JSON.stringify(r, null, 2) + "\n");
      writeFileAtomic(join(v.out, `deep-${dataset}.svg`), deepSvg(r));
    }
    if (v.json) { out(JSON.stringify(r)); return; }
    const g = r.regimes[0];
    out(`${dataset}: ${g.layers}; n = ${g.n}, P = ${g.params}, n O / P = ${fmt(g.ratio)}, clean ${pct(g.accClean)}%, flip rate ${fmt(g.flipRate)}, ` +
      `clean update outside the linearized span ${fmt(g.spanResidual)}, NTK ${fmt(g.ntkSeconds)} s\n` +
      `layerwise spans: ${g.layerSpans.map((l) => `layer ${l.layer}: ${l.spanDim} patches for rows of ${l.rowLength}${l.covers ? " (covers the layer)" : ""}`).join("; ")}\n\n` +
      table(["scenario", "level", "method", "contaminated %", "purified %", "best baseline %", "ASR before %", "ASR after %", "unexplained", "seconds", "peak MiB"],
        g.scenarios.map((s) => [s.name, s.level, s.method, pct(s.accContaminated), pct(s.accPurified), pct(s.accBaseline), pct(s.asrBefore), pct(s.asrAfter), fmt(s.unexplained), s.seconds, (s.peakBytes / 2 ** 20).toFixed(0)])));
  },
};
