// A model file opened for purification, in any runtime (bytes only: no fs). It gives the network
// (one-hidden-layer or sequential), its parameter vector, and `write(params)`: the user's own file
// with only the purified tensors' data changed, each in its own dtype (src/io/storedModel.ts).
import { ValueError } from "../errors.js";
import type { SequentialModel } from "../deep/train.js";
import type { ModelSpec } from "./modelFile.js";
import { oneHiddenOf, tensorsToSequential } from "./modelFile.js";
import { onnx, tensorValues } from "./onnxProto.js";
import { decodeSequentialOnnx } from "./onnxSequential.js";
import { ONNX_FLOAT_TYPES, locateInitializers } from "./onnxWire.js";
import type { TorchFile } from "./pytorch.js";
import { decodeTorchFile } from "./pytorch.js";
import { decodeSafetensors } from "./safetensors.js";
import { refreshCrcs } from "./zipStored.js";
import type { FloatDtype } from "./dtypes.js";
import type { StoredTensor, WriteBack } from "./storedModel.js";
import { mapParameters, tensorOf, writeParameters } from "./storedModel.js";

export const MODEL_FORMATS = ["safetensors", "onnx", "pt"] as const;
export type ModelFormat = (typeof MODEL_FORMATS)[number];
/** File extensions of each format (PyTorch users write both .pt and .pth). */
export const MODEL_EXTENSIONS: Record<string, ModelFormat> = { ".safetensors": "safetensors", ".onnx": "onnx", ".pt": "pt", ".pth": "pt" };

/** The format of a file name's extension, or null. */
export function formatOfName(name: string): ModelFormat | null {
  const m = /\.[a-z]+$/i.exec(name);
  return (m && MODEL_EXTENSIONS[m[0].toLowerCase()]) || null;
}

interface Common {
  format: ModelFormat;
  theta: Float64Array;
  /** The floating dtypes the parameters are stored in (for tolerances and the report). */
  dtypes: FloatDtype[];
  /** The user's file with `params` written in place of the parameters. */
  write(params: Float64Array): WriteBack;
  /** Names of the file's tensors that hold parameters [from, to), in file order (for messages). */
  tensorNames(from: number, to: number): string[];
  /** Where parameter i is stored: the tensor's name and the element's flat index in it (null: nowhere). */
  locate(i: number): { tensor: string; index: number } | null;
}
export type OpenedModel =
  | (Common & { kind: "one-hidden-layer"; spec: ModelSpec })
  | (Common & { kind: "sequential"; model: SequentialModel });

/**
 * Opens a model file. `where` prefixes error messages; `imageSize` gives H x W where the file does
 * not say (safetensors without metadata). A .onnx is the one-hidden-layer model when that reader
 * takes it, else a sequential CNN; the first reader's refusal is the error when neither does.
 */
export function openModel(bytes: Uint8Array, format: ModelFormat, where: string, imageSize?: { height: number; width: number }): OpenedModel {
  if (format === "safetensors" || format === "pt") {
    const file = format === "pt" ? decodeTorchFile(bytes, where) : decodeSafetensors(bytes);
    const tensors: StoredTensor[] = Object.entries(file.tensors).map(([name, t]) => {
      const float = t.dtype === "F64" || t.dtype === "F32" || t.dtype === "F16" || t.dtype === "BF16";
      return { name, count: t.values.length, dtype: float ? t.dtype as FloatDtype : null, at: t.at ?? null, values: t.values,
        ...(t.at === undefined ? { whyNotInPlace: "it is a strided view of its storage" } : {}) };
    });
    const withValues = (values: Map<string, Float64Array>) => ({
      metadata: file.metadata,
      tensors: Object.fromEntries(Object.entries(file.tensors).map(([n, t]) => [n, { ...t, values: values.get(n)! }])),
    });
    // a .pt's zip records each entry's CRC-32: refresh those of the blobs that changed
    const finish = "entries" in file ? (out: Uint8Array) => refreshCrcs(bytes, out, (file as TorchFile).entries) : undefined;
    return opened(bytes, tensors, format, tensorsToSequential(file, where, imageSize), (v) => tensorsToSequential(withValues(v), where, imageSize), where, finish);
  }
  const tensors = onnxTensors(bytes, where);
  return opened(bytes, tensors, format, decodeSequentialOnnx(bytes, where), (v) => decodeSequentialOnnx(bytes, where, v), where);
}

/**
 * Every file is read as a sequential CNN; the one-hidden-layer CNN is recognized among them
 * (oneHiddenOf), else the file is the sequential model it reads as. read(values) reads the file with
 * other tensor values (how stored() finds where each parameter lives).
 */
function opened(bytes: Uint8Array, tensors: StoredTensor[], format: ModelFormat, seq: { model: SequentialModel; theta: Float64Array },
  read: (v: Map<string, Float64Array>) => { model: SequentialModel; theta: Float64Array }, where: string, finish?: (out: Uint8Array) => void): OpenedModel {
  let one: ReturnType<typeof oneHiddenOf> | null = null;
  try { one = oneHiddenOf(seq.model, seq.theta, where); } catch { /* another network: the sequential reading */ }
  if (one) return { kind: "one-hidden-layer", spec: one.spec, ...stored(bytes, tensors, one.theta, (v) => { const r = read(v); return oneHiddenOf(r.model, r.theta, where).theta; }, format, finish) };
  return { kind: "sequential", model: seq.model, ...stored(bytes, tensors, seq.theta, (v) => read(v).theta, format, finish) };
}

function stored(bytes: Uint8Array, tensors: StoredTensor[], theta: Float64Array, assemble: (v: Map<string, Float64Array>) => Float64Array,
  format: ModelFormat, finish?: (out: Uint8Array) => void): Common {
  const map = mapParameters(tensors, assemble);
  const dtypes = new Set<FloatDtype>();
  map.source.forEach((g) => {
    if (g < 0) return;
    const dtype = tensors[tensorOf(map, g)].dtype;
    if (dtype) dtypes.add(dtype);
  });
  return {
    format, theta, dtypes: [...dtypes],
    locate: (i) => {
      const g = map.source[i];
      if (g === undefined || g < 0) return null;
      const k = tensorOf(map, g);
      return { tensor: tensors[k].name, index: g - map.starts[k] };
    },
    tensorNames: (from, to) => {
      const hit = new Set<number>();
      for (let i = from; i < to; i++) if (map.source[i] >= 0) hit.add(tensorOf(map, map.source[i]));
      return [...hit].sort((a, b) => a - b).map((k) => tensors[k].name);
    },
    write: (params) => {
      const w = writeParameters(bytes, tensors, map, params, theta);
      finish?.(w.bytes);
      return w;
    },
  };
}

/** The initializers of an ONNX file with their values and where their elements lie. */
function onnxTensors(bytes: Uint8Array, where: string): StoredTensor[] {
  let graph;
  try { graph = onnx.ModelProto.decode(bytes).graph; } catch (e) { throw new ValueError(`${where}: not a valid ONNX file (${(e as Error).message})`); }
  const located = locateInitializers(bytes);
  const inits = graph?.initializer ?? [];
  if (located.length !== inits.length) throw new ValueError(`${where}: the ONNX file's initializers could not be located`);
  return inits.map((t, k) => {
    const loc = located[k], dtype = ONNX_FLOAT_TYPES[loc.dataType] ?? null;
    const { values } = tensorValues(t, where);
    const packedOk = loc.field === "raw_data" || (loc.field === "float_data" && dtype === "F32") || (loc.field === "double_data" && dtype === "F64");
    return {
      name: loc.name, count: values.length, dtype, at: packedOk ? loc.at : null, values,
      whyNotInPlace: loc.field === "external" ? "its data is in an external file" : `its elements are stored in ${loc.field}, whose encoding has no fixed width`,
    };
  });
}
