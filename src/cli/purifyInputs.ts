// The model-file commands' inputs (purify, check, check-calibrate): the files on disk, read as bytes
// (each problem an InputFileError naming the file, exit code 3), then decoded by src/files like any
// runtime does; and the options that say how the span is chosen and solved. Inputs are only read.
import { readFileSync, realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { NamedFile } from "../files/inputs.js";
import type { FilePurifyOptions } from "../files/purifyFiles.js";
import { SUBSPACE_NAMES } from "../recover/purify.js";
import type { OptionSpec } from "./args.js";
import { choice, num } from "./args.js";
import { InputFileError } from "./files.js";

/** The options of the model-file commands besides the model, parsed by fileOptions. */
export const FILE_SPEC: OptionSpec = {
  init: { type: "string", help: "the parameters training started from (or a trusted reference), same format and shapes as the model" },
  data: { type: "string", help: "the training inputs, .npy (or .npz: its array \"data\" or its only one) of shape (n, C, H, W) or (n, H, W)" },
  subspace: { type: "string", help: "the span: auto (default, the README's rule), patch, linearized or relinearized (one-hidden-layer); layerwise, linearized or relinearized (multi-layer). check certifies on patch and layerwise" },
  "trained-readout": { type: "string", default: "auto", help: "yes if training updated the readout, no if it stayed at init; auto: frozen when at least half its entries equal init" },
  frozen: { type: "string", default: "auto", help: "multi-layer models: comma-separated layer indices training left at init (fine-tuning the top), restored to init; none; auto: the layers with at least half their entries equal to init" },
  "max-iter": { type: "string", help: "ADMM iteration cap (default 150 on the approximate linearized spans, 5000 on exact ones; check-calibrate records it, check must use the same)" },
};

/** The span options of FILE_SPEC as openFileProblem takes them; the span may come by another flag's name (purify's --method). */
export function fileOptions(command: string, v: Record<string, string | boolean | undefined | string[]>, span = "subspace"): FilePurifyOptions {
  const str = (k: string) => v[k] as string | undefined;
  const subspace = str(span) === undefined ? undefined : choice(command, span, str(span), ["auto", ...SUBSPACE_NAMES, "layerwise"] as const);
  const readout = choice(command, "trained-readout", str("trained-readout"), ["auto", "yes", "no"] as const);
  return {
    ...(subspace ? { subspace } : {}),
    ...(readout === "auto" ? {} : { trainedReadout: readout === "yes" }),
    ...(v.frozen === undefined || v.frozen === "auto" ? {} : { frozen: v.frozen === "none" ? [] : String(v.frozen).split(",").map((x) => num(command, "frozen", x, { int: true, min: 0 })) }),
    ...(str("max-iter") === undefined ? {} : { maxIter: num(command, "max-iter", str("max-iter"), { int: true, min: 1 }) }),
  };
}

/** The file at `path` for option --what, labelled as messages name it ("--model m.onnx"). */
export function readInput(path: string, what: string): NamedFile {
  try {
    return { name: path, bytes: new Uint8Array(readFileSync(path)), label: `--${what} ${path}` };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputFileError(`cannot read --${what} ${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : (e as Error).message}`);
  }
}

/** Same file, by path or (when both exist) by device and inode: hard links and symlinks count. */
export function sameFile(a: string, b: string): boolean {
  if (resolve(a) === resolve(b)) return true;
  try {
    if (realpathSync(a) === realpathSync(b)) return true;
    const sa = statSync(a), sb = statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return false;
  }
}
