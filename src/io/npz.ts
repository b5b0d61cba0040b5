// numpy's .npz: a zip archive of .npy files, one per array ("name.npy"), stored or deflated.
// Bytes only (no fs); fflate does the zip work.
import { unzipSync, zipSync } from "fflate";
import { ValueError } from "../errors.js";
import { decodeNpy, encodeNpy } from "./npy.js";

/** Encodes named arrays as an uncompressed .npz (as numpy.savez writes). */
export function encodeNpz(arrays: Record<string, { values: Float64Array; shape: number[] }>): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [name, a] of Object.entries(arrays)) files[`${name}.npy`] = encodeNpy(a.values, a.shape);
  return zipSync(files, { level: 0 });
}

/** Decodes every array of a .npz; throws ValueError naming a corrupt archive or member. */
export function decodeNpz(bytes: Uint8Array): Record<string, { values: Float64Array; shape: number[] }> {
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new ValueError(`decodeNpz: not a valid .npz (zip) archive (${(e as Error).message})`);
  }
  const out: Record<string, { values: Float64Array; shape: number[] }> = {};
  for (const [file, data] of Object.entries(files)) {
    if (!file.endsWith(".npy")) throw new ValueError(`decodeNpz: member "${file}" is not a .npy file`);
    try {
      out[file.slice(0, -4)] = decodeNpy(data);
    } catch (e) {
      throw new ValueError(`decodeNpz: member "${file}": ${(e as Error).message}`);
    }
  }
  if (Object.keys(out).length === 0) throw new ValueError("decodeNpz: the archive holds no arrays");
  return out;
}

/** One array of a .npz: the one named `name`, else the only one; a clear error otherwise. */
export function pickArray(arrays: Record<string, { values: Float64Array; shape: number[] }>, name: string): { values: Float64Array; shape: number[] } {
  if (arrays[name]) return arrays[name];
  const names = Object.keys(arrays);
  if (names.length === 1) return arrays[names[0]];
  throw new ValueError(`the .npz holds ${names.join(", ")}: name one of them "${name}"`);
}
