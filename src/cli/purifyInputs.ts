// Reading the purify command's input files: every problem becomes an InputFileError naming the
// file (exit code 3) or an OptionError for a format we do not read (exit code 2). Inputs are only read.
import { readFileSync, realpathSync, statSync } from "node:fs";
import { extname, resolve } from "node:path";
import { OptionError, ShapeError, ValueError } from "../errors.js";
import type { ModelSpec } from "../io/modelFile.js";
import { tensorsToModel } from "../io/modelFile.js";
import { decodeNpy } from "../io/npy.js";
import { decodeNpz, pickArray } from "../io/npz.js";
import { decodeOnnx } from "../io/onnx.js";
import { decodeSafetensors } from "../io/safetensors.js";
import { InputFileError } from "./files.js";

export const MODEL_FORMATS = [".safetensors", ".onnx"];

export function readInput(path: string, what: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputFileError(`cannot read --${what} ${path}: ${code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a folder" : (e as Error).message}`);
  }
}

/** Runs a decoder, turning its ValueError/ShapeError into an InputFileError that names the file. */
export function parseInput<T>(path: string, what: string, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof ValueError || e instanceof ShapeError) throw new InputFileError(`--${what} ${path}: ${e.message}`);
    throw e;
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

export function readModel(path: string, what: string, imageSize: { height: number; width: number }): { spec: ModelSpec; theta: Float64Array } {
  const ext = extname(path).toLowerCase();
  if (!MODEL_FORMATS.includes(ext)) throw new OptionError(`purify: --${what} ${path}: unsupported model format "${ext || "(none)"}" (supported: ${MODEL_FORMATS.join(", ")})`);
  const bytes = readInput(path, what);
  if (ext === ".onnx") return parseInput(path, what, () => decodeOnnx(bytes, `--${what}`, imageSize));
  return parseInput(path, what, () => tensorsToModel(decodeSafetensors(bytes), `--${what}`, imageSize));
}

/** An array from a .npy, or from a .npz (the array called `name`, or its only array). */
export function readArray(path: string, what: string, name: string): { values: Float64Array; shape: number[] } {
  const ext = extname(path).toLowerCase();
  if (ext !== ".npy" && ext !== ".npz") throw new OptionError(`purify: --${what} ${path}: expected a .npy or .npz file`);
  const bytes = readInput(path, what);
  return parseInput(path, what, () => (ext === ".npy" ? decodeNpy(bytes) : pickArray(decodeNpz(bytes), name)));
}

/** Images as (n, C, H, W) from a .npy of that shape or (n, H, W); finite, at least one. */
export function readImages(path: string, what: string): { values: Float64Array; dims: [number, number, number, number] } {
  const a = readArray(path, what, "data");
  if (a.shape.length !== 3 && a.shape.length !== 4) throw new InputFileError(`--${what} ${path}: shape (${a.shape.join(", ")}) is not (n, C, H, W) or (n, H, W)`);
  const dims = (a.shape.length === 4 ? a.shape : [a.shape[0], 1, a.shape[1], a.shape[2]]) as [number, number, number, number];
  if (dims[0] === 0) throw new InputFileError(`--${what} ${path}: no samples (n = 0)`);
  const bad = a.values.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new InputFileError(`--${what} ${path}: value ${bad} (sample ${Math.floor(bad / (dims[1] * dims[2] * dims[3]))}) is ${a.values[bad]}; inputs must be finite`);
  return { values: a.values, dims };
}

/** n integer class labels in [0, classes). */
export function readLabels(path: string, what: string, n: number, classes: number): Float64Array {
  const l = readArray(path, what, "labels");
  if (l.values.length !== n) throw new InputFileError(`--${what} ${path}: ${l.values.length} labels for ${n} samples`);
  const wrong = l.values.findIndex((x) => !Number.isInteger(x) || x < 0 || x >= classes);
  if (wrong >= 0) throw new InputFileError(`--${what} ${path}: label ${wrong} is ${l.values[wrong]}, not a class in [0, ${classes})`);
  return l.values;
}
