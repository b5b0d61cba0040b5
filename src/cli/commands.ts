// The CLI commands. Each parses its own options, runs a library function, prints a table (or JSON
// with --json) on stdout, progress on stderr, and writes files atomically.
import { join } from "node:path";
import { BACKEND_NAMES } from "../backend/types.js";
import { contaminateAndPurify, runSynthetic, trainInstance } from "../experiments/synthetic.js";
import type { SyntheticResult } from "../experiments/synthetic.js";
import { PHASE_DEFAULTS, runPhase } from "../experiments/phase.js";
import type { PhaseResult } from "../experiments/phase.js";
import { encodeNpy } from "../io/npy.js";
import { heatMap, linePlot } from "../plot/svg.js";
import { SUBSPACE_NAMES } from "../recover/purify.js";
import { ARITHMETIC_NAMES, SOLVER_NAMES } from "../recover/solve.js";
import { resolveBackend } from "../backend/index.js";
import type { OptionSpec, ParsedOptions } from "./args.js";
import { COMMON, choice, num } from "./args.js";
import { writeFileAtomic } from "./files.js";
import { ProgressBar } from "./progress.js";
import { fmt, table } from "./table.js";

/** A command: its options, parsed (and --help answered) by the dispatcher before run() sees them. */
export interface Command {
  summary: string;
  spec: OptionSpec;
  /** Text after the option list in --help (exit codes). */
  helpNote?: string;
  run(v: ParsedOptions, out: (s: string) => void): Promise<void>;
}

const syntheticSpec: OptionSpec = {
  p: { type: "string", default: "256", help: "patch dimension (any positive integer)" },
  patches: { type: "string", default: "4", help: "patches per input, k" },
  samples: { type: "string", default: "8", help: "training samples, n" },
  filters: { type: "string", default: "8", help: "filters, K" },
  rho: { type: "string", default: "0.2", help: "fraction of parameters contaminated" },
  seed: { type: "string", default: "1", help: "seed of data, init, batches and contamination" },
  subspace: { type: "string", default: "patch", help: `recovery span: ${SUBSPACE_NAMES.join(", ")}` },
  solver: { type: "string", default: "admm", help: `LAD solver: ${SOLVER_NAMES.join(", ")}` },
  arithmetic: { type: "string", default: "auto", help: "ADMM arithmetic: auto (f32 to find the support where it pays, polish and certificate in f64), mixed (f32 wherever the span is dense), f64" },
  contamination: { type: "string", default: "outliers", help: "outliers (10x weight std) or bitflips (f32 exponent bits)" },
  lr: { type: "string", default: "0.02", help: "SGD step size (0.02 flips about half the activations)" },
  epochs: { type: "string", default: "300", help: "training epochs" },
  out: { type: "string", help: "folder for patches.npy, init.npy, trained.npy, contaminated.npy, recovered.npy, report.json" },
  ...COMMON,
};

function syntheticOptions(cmd: string, v: Record<string, string | boolean | undefined>) {
  return {
    p: num(cmd, "p", v.p, { int: true, min: 1 }),
    patches: num(cmd, "patches", v.patches, { int: true, min: 1 }),
    samples: num(cmd, "samples", v.samples, { int: true, min: 1 }),
    filters: num(cmd, "filters", v.filters, { int: true, min: 1 }),
    rho: num(cmd, "rho", v.rho, { min: 0, max: 0.99 }),
    seed: num(cmd, "seed", v.seed, { int: true, min: 0 }),
    subspace: choice(cmd, "subspace", v.subspace, SUBSPACE_NAMES),
    solver: choice(cmd, "solver", v.solver, SOLVER_NAMES),
    arithmetic: choice(cmd, "arithmetic", v.arithmetic, ARITHMETIC_NAMES),
    contamination: choice(cmd, "contamination", v.contamination, ["outliers", "bitflips"] as const),
    lr: num(cmd, "lr", v.lr, { min: 0 }),
    epochs: num(cmd, "epochs", v.epochs, { int: true, min: 0 }),
    backend: choice(cmd, "backend", v.backend, BACKEND_NAMES),
  };
}

function writeSyntheticFiles(dir: string, r: SyntheticResult): void {
  const { shape, data } = r;
  const rows = [shape.filters, shape.patchDim + 1];
  const filterRows = (theta: Float64Array) => encodeNpy(theta.slice(0, rows[0] * rows[1]), rows);
  writeFileAtomic(join(dir, "patches.npy"), encodeNpy(data.values, [data.samples, data.patches, data.patchDim]));
  writeFileAtomic(join(dir, "init.npy"), filterRows(r.init));
  writeFileAtomic(join(dir, "trained.npy"), filterRows(r.trained));
  writeFileAtomic(join(dir, "contaminated.npy"), filterRows(r.contaminated));
  writeFileAtomic(join(dir, "recovered.npy"), filterRows(r.recovered));
  writeFileAtomic(join(dir, "report.json"), JSON.stringify(reportJson(r), null, 2) + "\n");
}

function reportJson(r: SyntheticResult) {
  const { estimatedContaminated, erasures, grossOutliers, ...rest } = r.report;
  return {
    ...r.summary,
    report: { ...rest, estimatedContaminated: estimatedContaminated.length, erasures: Array.from(erasures), grossOutliers: Array.from(grossOutliers) },
  };
}

function syntheticTable(results: SyntheticResult[]): string {
  return table(
    ["contamination", "rho", "span", "weights before", "weights after", "biases after", "flip rate", "precision", "recall", "iters", "seconds", "exact?"],
    results.map(({ summary: s }) => [
      s.contamination === "bitflips" ? "bit flips" : "outliers", s.rho, s.subspace,
      s.contaminatedWeightRelError, s.weightRelError, s.biasRelError, s.flipRate, s.precision, s.recall, s.iterations, s.seconds,
      s.recovered ? "yes" : "NO (flagged)",
    ]));
}

export const synthetic: Command = {
  summary: "teacher-student data, SGD training, contamination, purification: relative errors against the clean model",
  spec: syntheticSpec,
  async run(v, out) {
    const r = await runSynthetic(syntheticOptions("synthetic", v));
    if (typeof v.out === "string") writeSyntheticFiles(v.out, r);
    out(v.json ? JSON.stringify(r.summary) : syntheticTable([r]) +
      `\n\nn k / (p + 1) = ${fmt(r.summary.ratio)}; errors are relative to the clean trained model; "exact?" is the solver's own certificate.` +
      (typeof v.out === "string" ? `\nwrote ${v.out}/{patches,init,trained,contaminated,recovered}.npy and report.json` : ""));
  },
};

const demoSpec: OptionSpec = { ...COMMON };

export const demo: Command = {
  summary: "end-to-end purification on generated data, before/after table (the README's first command)",
  spec: demoSpec,
  async run(v, out) {
    const backend = await resolveBackend(choice("demo", "backend", v.backend, BACKEND_NAMES));
    const base = { p: 256, patches: 4, samples: 8, filters: 8, seed: 1 };
    const bar = new ProgressBar("demo", !v.json);
    const inst = await trainInstance(base, backend);
    const runs = [
      { ...base, rho: 0.1 }, { ...base, rho: 0.3 }, { ...base, rho: 0.01, contamination: "bitflips" as const },
      { ...base, rho: 0.5 },
    ];
    const results: SyntheticResult[] = [];
    for (const [i, r] of runs.entries()) { results.push(await contaminateAndPurify(inst, r, backend)); bar.update(i + 1, runs.length); }
    if (v.json) { out(JSON.stringify(results.map((r) => r.summary), null, 2)); return; }
    out(`cnn-purify demo: a one-hidden-layer ReLU CNN (K = 8 filters, 4 patches of dimension 256) trained by SGD on 8 samples\n` +
      `(activation patterns flipped: ${fmt(inst.flipRate * 100)}%), then contaminated and purified by l1 recovery onto the patch span.\n` +
      `backend: ${backend.name} (binary: ${backend.binary})\n\n` + syntheticTable(results) +
      `\n\nrho = 0.5 is past the breakdown point for n k / (p + 1) = ${fmt(results[0].summary.ratio)}: the report flags it instead of returning a wrong model as exact.`);
  },
};

const phaseSpec: OptionSpec = {
  out: { type: "string", default: "cnn-purify-phase", help: "folder for phase.json, phase.svg, linearized.svg" },
  quick: { type: "boolean", help: "a small grid (seconds), for tests" },
  seeds: { type: "string", help: `seeds per cell (default ${PHASE_DEFAULTS.seeds})` },
  ...COMMON,
};

export const phase: Command = {
  summary: "phase transition of exact recovery over (n k / (p + 1), rho), and the linearized span against step size",
  spec: phaseSpec,
  async run(v, out) {
    const bar = new ProgressBar("phase");
    const quick = v.quick === true;
    const r = await runPhase({
      backend: choice("phase", "backend", v.backend, BACKEND_NAMES),
      seeds: v.seeds !== undefined ? num("phase", "seeds", v.seeds, { int: true, min: 1 }) : quick ? 1 : undefined,
      samples: quick ? [2, 8, 14] : undefined,
      rhos: quick ? [0.1, 0.3, 0.5] : undefined,
      lrs: quick ? [1e-7, 1e-3] : undefined,
      onProgress: (d, t) => bar.update(d, t),
    });
    const dir = v.out as string;
    writeFileAtomic(join(dir, "phase.json"), JSON.stringify(r, null, 2) + "\n");
    writeFileAtomic(join(dir, "phase.svg"), phaseSvg(r));
    writeFileAtomic(join(dir, "linearized.svg"), linearizedSvg(r));
    if (v.json) { out(JSON.stringify(r)); return; }
    out(table(["n k / (p + 1)", "breakdown rho (>= half the seeds exact)"], r.breakdown.map((b) => [b.ratio, b.rho])) + "\n\n" +
      table(["step size", "flip rate", "linearized error", "relinearized error", "patch span error"], r.linearized.map((l) => [l.lr, l.flipRate, l.linearized, l.relinearized, l.patch])) +
      `\n\nwrote ${dir}/phase.json, phase.svg, linearized.svg (${fmt(r.seconds)} s)`);
  },
};

export function phaseSvg(r: PhaseResult): string {
  const ratios = [...new Set(r.cells.map((c) => c.ratio))];
  const rhos = [...new Set(r.cells.map((c) => c.rho))];
  return heatMap({
    title: `Exact recovery (rel. error <= 1e-9), p = ${r.p}, k = ${r.patches}, K = ${r.filters}, ${r.seeds} seeds/cell`,
    xLabel: "contamination fraction rho", yLabel: "n k / (p + 1)",
    xTicks: rhos.map((x) => x.toFixed(2)), yTicks: ratios.map((x) => x.toFixed(2)),
    values: ratios.map((ra) => rhos.map((rho) => r.cells.find((c) => c.ratio === ra && c.rho === rho)!.successRate)),
    legend: "cell value: fraction of seeds recovered exactly (weights and biases)",
  });
}

export function linearizedSvg(r: PhaseResult): string {
  const pts = (key: "linearized" | "relinearized" | "patch") => r.linearized.map((l) => [Math.max(l.flipRate, 1e-3), l[key]] as [number, number]);
  return linePlot({
    title: "Recovery error against activation flips (step size sweep, rho = 0.1)",
    xLabel: "fraction of activations flipped by training (0 drawn at 1e-3)", yLabel: "max(weight, bias) relative error",
    logX: true, logY: true,
    series: [
      { name: "linearized span", points: pts("linearized"), color: "#d62728" },
      { name: "re-linearized", points: pts("relinearized"), color: "#ff7f0e" },
      { name: "patch span", points: pts("patch"), color: "#1f77b4" },
    ],
    hLine: { y: 1e-9, label: "exact (1e-9)" },
  });
}
