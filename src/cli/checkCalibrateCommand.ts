// `cnn-purify check-calibrate`: the cutoffs of check's statistical verdict on approximate spans,
// from clean models of one recipe (same init and data; other shuffles or seeds). Writes the
// calibration JSON atomically; `cnn-purify check --calibration` reads it.
import { BACKEND_NAMES } from "../backend/types.js";
import { OptionError } from "../errors.js";
import { checkCalibrate } from "../files/check.js";
import { CALIBRATION_MARGIN } from "../recover/detection.js";
import type { OptionSpec } from "./args.js";
import { COMMON, choice, many, num } from "./args.js";
import type { Command } from "./commands.js";
import { writeFileAtomic } from "./files.js";
import { ProgressBar } from "./progress.js";
import { FILE_SPEC, fileOptions, readInput, sameFile } from "./purifyInputs.js";

const spec: OptionSpec = {
  model: { type: "string", multiple: true, help: "a clean model of the recipe (.onnx, .safetensors, .pt); repeat: 20 or more" },
  ...FILE_SPEC,
  out: { type: "string", help: "where to write the calibration (JSON)" },
  holdout: { type: "string", help: "the last N models are not used for the cutoffs: they measure the false-alarm rate (recorded; check reports it)" },
  margin: { type: "string", help: `cutoff = margin x the largest clean residual z per tensor (default ${CALIBRATION_MARGIN})` },
  ...COMMON,
};

export const checkCalibrateCommand: Command = {
  summary: "calibrate check's statistical verdict on clean models of one recipe (approximate spans)",
  spec,
  async run(v, out) {
    const models = many(v.model);
    if (!models.length) throw new OptionError("check-calibrate: --model is required, once per clean model (see: cnn-purify check-calibrate --help)");
    for (const k of ["init", "data", "out"]) if (typeof v[k] !== "string" || v[k] === "") throw new OptionError(`check-calibrate: --${k} is required`);
    const outPath = v.out as string;
    for (const p of [...models, v.init as string, v.data as string]) if (sameFile(outPath, p)) throw new OptionError(`check-calibrate: --out ${outPath} is an input file; choose another path`);
    const margin = v.margin === undefined ? undefined : num("check-calibrate", "margin", v.margin, { min: 1 });
    const holdout = v.holdout === undefined ? undefined : num("check-calibrate", "holdout", v.holdout, { int: true, min: 0 });
    const backend = choice("check-calibrate", "backend", v.backend, BACKEND_NAMES);
    const options = fileOptions("check-calibrate", v);
    const bar = new ProgressBar("check-calibrate", !v.json);
    const calibration = await checkCalibrate({ models: models.map((m) => readInput(m, "model")), init: readInput(v.init as string, "init"), data: readInput(v.data as string, "data") },
      options, { backend, margin, holdout, onModel: (done, total) => bar.update(done, total, `model ${Math.min(done + 1, total)}/${total}`) });
    writeFileAtomic(outPath, JSON.stringify(calibration, null, 2) + "\n");
    if (v.json) out(JSON.stringify(calibration));
    else out(`calibration of ${models.length - (holdout ?? 0)} clean models (${calibration.subspace}, ${calibration.maxIter} iterations) -> ${outPath}\n` +
      (calibration.heldOut ? `false alarms on ${calibration.heldOut.models} held-out clean models: ${calibration.heldOut.falseAlarms}\n` : "") +
      calibration.groups.map((g) => `  ${g.name}: cutoff ${g.cutoff.toFixed(1)} (largest clean z ${Math.max(...g.cleanMaxZ).toFixed(1)})`).join("\n"));
  },
};
