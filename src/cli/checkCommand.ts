// `cnn-purify check`: is each model what its init and training data allow, and where was it
// changed? Verdicts consistent / changed / undetermined (exit 0 / 4 / 5; a model file that is
// garbage: 3, as purify). Inputs are only read; the report is written atomically.
import { BACKEND_NAMES } from "../backend/types.js";
import { OptionError } from "../errors.js";
import type { CheckResult } from "../files/check.js";
import { VERDICT_EXIT, checkModel } from "../files/check.js";
import type { OptionSpec } from "./args.js";
import { COMMON, choice, many } from "./args.js";
import type { Command } from "./commands.js";
import { writeFileAtomic } from "./files.js";
import { FILE_SPEC, fileOptions, readInput, sameFile } from "./purifyInputs.js";
import { parseInput } from "../files/inputs.js";
import type { Calibration } from "../recover/detection.js";
import { parseCalibration } from "../recover/detection.js";
import { SpanCache } from "../files/purifyFiles.js";
import { table } from "./table.js";

const spec: OptionSpec = {
  model: { type: "string", multiple: true, help: "a model to check (.onnx, .safetensors, .pt); repeat for several" },
  ...FILE_SPEC,
  calibration: { type: "string", help: "approximate spans: cutoffs from cnn-purify check-calibrate (clean models of this recipe); the verdict is then statistical" },
  report: { type: "string", help: "optional path for the JSON report (verdicts, suspects, SHA-256 of the files, version, options)" },
  ...COMMON,
};

export const CHECK_EXIT_CODES = "\nexit codes: 0 every model consistent; 4 a model was changed; 5 undetermined (an approximate span without a calibration, no changed model); " +
  "1 failure while running; 2 bad usage; 3 a bad input file\n";

/** The exit code of several verdicts: any change wins, then any undetermined one. */
export function exitCodeOf(results: CheckResult[]): number {
  return results.some((r) => r.verdict === "changed") ? VERDICT_EXIT.changed : results.some((r) => r.verdict === "undetermined") ? VERDICT_EXIT.undetermined : 0;
}

export const checkCommand: Command = {
  summary: "certify a checkpoint: consistent with its init and training data, or changed (and where)",
  spec, helpNote: CHECK_EXIT_CODES,
  async run(v, out) {
    const models = many(v.model);
    if (!models.length) throw new OptionError("check: --model is required (see: cnn-purify check --help)");
    for (const k of ["init", "data"]) if (typeof v[k] !== "string" || v[k] === "") throw new OptionError(`check: --${k} is required (see: cnn-purify check --help)`);
    const reportPath = v.report as string | undefined;
    if (reportPath !== undefined) {
      for (const p of [...models, v.init as string, v.data as string]) if (sameFile(reportPath, p)) throw new OptionError(`check: --report ${reportPath} is an input file; choose another path`);
    }
    const options = fileOptions("check", v);
    const backend = choice("check", "backend", v.backend, BACKEND_NAMES);
    const init = readInput(v.init as string, "init"), data = readInput(v.data as string, "data");
    let calibration: Calibration | undefined;
    if (typeof v.calibration === "string") {
      const f = readInput(v.calibration, "calibration");
      calibration = parseInput(f, () => parseCalibration(new TextDecoder().decode(f.bytes), `--calibration ${v.calibration}`));
    }
    const results: Array<CheckResult & { path: string }> = [];
    // one prepared span for every model: they share the init and data
    const spans = new SpanCache();
    try {
      for (const path of models) results.push({ path, ...(await checkModel({ model: readInput(path, "model"), init, data }, options, { backend, calibration, spans })) });
    } finally {
      spans.dispose();
    }
    if (reportPath !== undefined) writeFileAtomic(reportPath, JSON.stringify({ results }, null, 2) + "\n");
    if (v.json) out(JSON.stringify({ results }));
    else {
      out(table(["model", "verdict", "basis", "suspects", "per tensor", "span"], results.map((r) => [
        r.path, r.verdict, r.basis, String(r.suspects.total),
        Object.entries(r.suspects.perTensor).map(([t, c]) => `${t}: ${c}`).join("; ") || "-", r.span,
      ])));
      for (const r of results) {
        out(`${r.path}: ${r.reason}`);
        for (const s of r.suspects.top) out(`  ${s.tensor}[${s.index}] = ${s.value} (the span predicts ${s.predicted})`);
      }
    }
    const code = exitCodeOf(results);
    if (code) throw new VerdictExit(code);
  },
};

/** The span options check and check-calibrate share. */
/** Ends the command with a verdict's exit code (not an error: the output is complete). */
export class VerdictExit extends Error {
  constructor(readonly code: number) { super(`verdict exit code ${code}`); }
}
