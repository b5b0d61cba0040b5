// A model file kept as the user's bytes, so that purified weights go back into those bytes and
// nothing else changes: names, order, dtypes, graph, metadata, unknown fields all stay as they were.
//
// Each format reader lists the tensors it stored (where their elements lie in the file and in which
// dtype) and assembles the parameter vector theta from their values. Which element each parameter
// came from is learned by running that same assembly on probe values (two runs: element codes,
// then ones), so the inverse mapping is never written by hand and cannot drift from the reader:
// assembly only selects, transposes, sums and scales elements, so theta_i = scale_i * v[source_i].
import { ValueError } from "../errors.js";
import type { FloatDtype } from "./dtypes.js";
import { writeFloat } from "./dtypes.js";

/** One tensor as the file stores it. */
export interface StoredTensor {
  name: string;
  /** Element count. */
  count: number;
  /** Floating dtype, or null for tensors purification never writes (integers, shapes). */
  dtype: FloatDtype | null;
  /** Byte offset of element 0 in the file, elements contiguous; null when not writable in place. */
  at: number | null;
  /** Why the tensor cannot be written in place (at = null), for the error message. */
  whyNotInPlace?: string;
  values: Float64Array;
}

/** Where each parameter lives: source[i] = index into the concatenated tensors, or -1. */
export interface ParameterMap {
  source: Int32Array;
  scale: Float64Array;
  /** Start of each tensor in the concatenation. */
  starts: number[];
}

/**
 * Learns the parameter map of `assemble` over `tensors`. Only floating tensors with a nonzero
 * entry are probed: all-zero tensors are what readers check for zero biases, and they hold no
 * parameter the reader keeps.
 */
export function mapParameters(tensors: StoredTensor[], assemble: (values: Map<string, Float64Array>) => Float64Array): ParameterMap {
  const starts: number[] = [];
  let total = 0;
  for (const t of tensors) { starts.push(total); total += t.count; }
  if (total >= 2 ** 52) throw new ValueError("model file: too many elements to map");
  const probe = (code: (global: number) => number) => {
    const m = new Map<string, Float64Array>();
    tensors.forEach((t, k) => {
      const probed = t.dtype !== null && t.values.some((v) => v !== 0);
      m.set(t.name, probed ? Float64Array.from({ length: t.count }, (_, e) => code(starts[k] + e)) : t.values);
    });
    return assemble(m);
  };
  const codes = probe((g) => g + 1), ones = probe(() => 1);
  const source = new Int32Array(codes.length).fill(-1), scale = new Float64Array(codes.length);
  for (let i = 0; i < codes.length; i++) {
    if (ones[i] === 0) continue;
    source[i] = Math.round(codes[i] / ones[i]) - 1;
    scale[i] = ones[i];
  }
  return { source, scale, starts };
}

/** Which tensor the concatenated element g belongs to. */
export function tensorOf(map: ParameterMap, g: number): number {
  let lo = 0, hi = map.starts.length - 1;
  while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (map.starts[mid] <= g) lo = mid; else hi = mid - 1; }
  return lo;
}

/** What writing parameters back into the file did. */
export interface WriteBack {
  bytes: Uint8Array;
  /** Elements written (their value changed). */
  changedElements: number;
  /** Parameters with no element in the file (e.g. a bias the file does not have) whose value the write could not keep. */
  unstored: number[];
}

/**
 * The file's bytes with each parameter written into its own element, in that tensor's dtype.
 * Elements whose value is unchanged are not touched, so their bytes stay identical.
 */
export function writeParameters(bytes: Uint8Array, tensors: StoredTensor[], map: ParameterMap, theta: Float64Array, reference: Float64Array): WriteBack {
  const out = new Uint8Array(bytes.length); // a copy even when bytes is a Node Buffer (whose slice is a view)
  out.set(bytes);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let changed = 0;
  const unstored: number[] = [];
  const written = new Map<number, number>();
  for (let i = 0; i < theta.length; i++) {
    const g = map.source[i];
    if (g < 0) {
      if (!Object.is(theta[i], reference[i])) unstored.push(i);
      continue;
    }
    // one element read as two parameters (an ONNX initializer shared through Identity) must get one value
    const before = written.get(g);
    if (before !== undefined && !Object.is(before, theta[i] / map.scale[i])) {
      const t = tensors[tensorOf(map, g)];
      throw new ValueError(`cannot write tensor "${t.name}": element ${g - map.starts[tensorOf(map, g)]} holds two parameters that purification gave different values (the file shares one tensor between two uses)`);
    }
    written.set(g, theta[i] / map.scale[i]);
    const k = tensorOf(map, g), t = tensors[k], e = g - map.starts[k];
    const value = theta[i] / map.scale[i];
    if (Object.is(value, t.values[e])) continue;
    if (t.at === null || t.dtype === null) {
      throw new ValueError(`cannot write tensor "${t.name}" in place: ${t.whyNotInPlace ?? "its elements are not stored contiguously"}`);
    }
    writeFloat(dv, t.at, t.dtype, e, value);
    changed++;
  }
  return { bytes: out, changedElements: changed, unstored };
}
