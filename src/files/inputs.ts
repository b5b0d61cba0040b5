// The training inputs of a purification, from the bytes of .npy/.npz files (any runtime): images as
// (n, C, H, W) and class labels, each problem an InputFileError naming the file by its label.
import { InputFileError, ShapeError, ValueError } from "../errors.js";
import { decodeNpy } from "../io/npy.js";
import { decodeNpz, pickArray } from "../io/npz.js";

/** A file's bytes, its name (its extension gives the format) and how messages name it. */
export interface NamedFile {
  name: string;
  bytes: Uint8Array;
  /** How error messages name the file, e.g. "--model m.onnx" or "model part \"m.onnx\"". */
  label?: string;
}

export const labelOf = (f: NamedFile) => f.label ?? f.name;

/** Runs a decoder, turning its ValueError/ShapeError into an InputFileError that names the file. */
export function parseInput<T>(file: NamedFile, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof ValueError || e instanceof ShapeError) {
      const label = labelOf(file);
      throw new InputFileError(e.message.startsWith(label) ? e.message : `${label}: ${e.message}`);
    }
    throw e;
  }
}

/** An array from a .npy, or from a .npz (the array called `name`, or its only array). */
export function decodeArray(file: NamedFile, name: string): { values: Float64Array; shape: number[] } {
  const ext = /\.[a-z]+$/i.exec(file.name)?.[0].toLowerCase();
  if (ext !== ".npy" && ext !== ".npz") throw new InputFileError(`${labelOf(file)}: expected a .npy or .npz file`);
  return parseInput(file, () => (ext === ".npy" ? decodeNpy(file.bytes) : pickArray(decodeNpz(file.bytes), name)));
}

/** Images as (n, C, H, W) from an array of that shape or (n, H, W); finite, at least one. */
export function decodeImages(file: NamedFile): { values: Float64Array; dims: [number, number, number, number] } {
  const a = decodeArray(file, "data"), label = labelOf(file);
  if (a.shape.length !== 3 && a.shape.length !== 4) throw new InputFileError(`${label}: shape (${a.shape.join(", ")}) is not (n, C, H, W) or (n, H, W)`);
  const dims = (a.shape.length === 4 ? a.shape : [a.shape[0], 1, a.shape[1], a.shape[2]]) as [number, number, number, number];
  if (dims[0] === 0) throw new InputFileError(`${label}: no samples (n = 0)`);
  const bad = a.values.findIndex((x) => !Number.isFinite(x));
  if (bad >= 0) throw new InputFileError(`${label}: value ${bad} (sample ${Math.floor(bad / (dims[1] * dims[2] * dims[3]))}) is ${a.values[bad]}; inputs must be finite`);
  return { values: a.values, dims };
}

/** n integer class labels in [0, classes). */
export function decodeLabels(file: NamedFile, n: number, classes: number): Float64Array {
  const l = decodeArray(file, "labels"), label = labelOf(file);
  if (l.values.length !== n) throw new InputFileError(`${label}: ${l.values.length} labels for ${n} samples`);
  const wrong = l.values.findIndex((x) => !Number.isInteger(x) || x < 0 || x >= classes);
  if (wrong >= 0) throw new InputFileError(`${label}: label ${wrong} is ${l.values[wrong]}, not a class in [0, ${classes})`);
  return l.values;
}
