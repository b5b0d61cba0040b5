// PyTorch's own format: a `.pt`/`.pth` file from `torch.save(model.state_dict(), path)`, i.e. a zip
// holding <archive>/data.pkl (the dict, read by the restricted unpickler) and one uncompressed blob
// per storage (<archive>/data/<key>). Tensors come back with where their elements lie in the file,
// so purified values are written into the blobs in place (and the zip's CRCs refreshed): torch.load
// reads the result, and every other byte stays the user's.
import { ValueError } from "../errors.js";
import type { FloatDtype } from "./dtypes.js";
import { readFloat } from "./dtypes.js";
import type { Tensor, TensorFile } from "./safetensors.js";
import { unpickleStateDict } from "./torchPickle.js";
import type { ZipEntry } from "./zipStored.js";
import { readZip } from "./zipStored.js";

const STORAGE_DTYPES: Record<string, { dtype: Tensor["dtype"]; bytes: number }> = {
  FloatStorage: { dtype: "F32", bytes: 4 }, DoubleStorage: { dtype: "F64", bytes: 8 }, HalfStorage: { dtype: "F16", bytes: 2 },
  BFloat16Storage: { dtype: "BF16", bytes: 2 }, LongStorage: { dtype: "I64", bytes: 8 }, IntStorage: { dtype: "I32", bytes: 4 },
  ByteStorage: { dtype: "U8", bytes: 1 }, BoolStorage: { dtype: "U8", bytes: 1 },
};

/** A decoded torch.save file: its tensors (`at` only for contiguous ones: strided views are read, not written in place) and zip entries. */
export interface TorchFile extends TensorFile {
  entries: ZipEntry[];
}

/** Decodes a torch.save'd state_dict; throws ValueError naming what is wrong or refused. */
export function decodeTorchFile(bytes: Uint8Array, where = "pt"): TorchFile {
  const entries = readZip(bytes, where);
  const pkl = entries.find((e) => e.name === "data.pkl" || e.name.endsWith("/data.pkl"));
  if (!pkl) throw new ValueError(`${where}: no data.pkl in the archive: not a torch.save file`);
  const prefix = pkl.name.slice(0, pkl.name.length - "data.pkl".length);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const order = byName.get(prefix + "byteorder");
  if (order && new TextDecoder().decode(bytes.subarray(order.dataStart, order.dataStart + order.size)).trim() !== "little") {
    throw new ValueError(`${where}: the tensors are stored big-endian; save the model on a little-endian machine`);
  }
  if (pkl.method !== 0) throw new ValueError(`${where}: data.pkl is compressed, which torch.save never does`);
  const dict = unpickleStateDict(bytes.subarray(pkl.dataStart, pkl.dataStart + pkl.size), where);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tensors: Record<string, Tensor> = {};
  for (const [name, t] of dict) {
    const kind = STORAGE_DTYPES[t.storage];
    if (!kind) throw new ValueError(`${where}: tensor "${name}" is stored as ${t.storage}, which this reader does not take`);
    const blob = byName.get(`${prefix}data/${t.key}`);
    if (!blob) throw new ValueError(`${where}: tensor "${name}": its storage ${t.key} is missing from the archive`);
    if (blob.method !== 0) throw new ValueError(`${where}: tensor "${name}": its storage is compressed, which torch.save never does`);
    if (t.shape.length !== t.stride.length) throw new ValueError(`${where}: tensor "${name}" has ${t.shape.length} sizes but ${t.stride.length} strides`);
    const count = t.shape.reduce((a, b) => a * b, 1);
    // the furthest element the view reaches must lie inside the storage blob
    const last = t.offset + t.shape.reduce((s, d, i) => s + (d > 0 ? (d - 1) * t.stride[i] : 0), 0);
    if (t.offset < 0 || t.stride.some((s) => s < 0) || (count > 0 && (last + 1) * kind.bytes > blob.size)) {
      throw new ValueError(`${where}: tensor "${name}" reaches past the end of its storage (truncated file?)`);
    }
    let contiguous = true;
    for (let i = t.shape.length - 1, want = 1; i >= 0; i--) {
      if (t.shape[i] !== 1 && t.stride[i] !== want) contiguous = false;
      want *= t.shape[i];
    }
    const values = new Float64Array(count);
    const index = new Array(t.shape.length).fill(0);
    for (let e = 0; e < count; e++) {
      let s = t.offset;
      for (let i = 0; i < index.length; i++) s += index[i] * t.stride[i];
      const at = blob.dataStart + s * kind.bytes;
      values[e] = kind.dtype === "I64" ? Number(dv.getBigInt64(at, true)) : kind.dtype === "I32" ? dv.getInt32(at, true)
        : kind.dtype === "U8" ? bytes[at] : readFloat(dv, at, kind.dtype as FloatDtype, 0);
      for (let i = index.length - 1; i >= 0; i--) { if (++index[i] < t.shape[i]) break; index[i] = 0; }
    }
    tensors[name] = { shape: t.shape, values, dtype: kind.dtype, at: contiguous ? blob.dataStart + t.offset * kind.bytes : undefined };
  }
  return { tensors, metadata: {}, entries };
}
