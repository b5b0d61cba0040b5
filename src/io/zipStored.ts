// The zip container of PyTorch's torch.save files, read from the central directory: where each
// entry's bytes lie and where its CRC-32 is recorded (central directory, local header, data
// descriptor). torch.save stores entries uncompressed (method 0), so a tensor's bytes can be
// rewritten in place and only the CRCs of the entries that changed need recomputing.
import { ValueError } from "../errors.js";

export interface ZipEntry {
  name: string;
  /** Byte offset and length of the entry's stored data. */
  dataStart: number;
  size: number;
  method: number;
  /** Every place this entry's CRC-32 is written (4 bytes each). */
  crcAt: number[];
}

const EOCD = 0x06054b50, CENTRAL = 0x02014b50, LOCAL = 0x04034b50, DESCRIPTOR = 0x08074b50;

/** The entries of a zip archive; throws ValueError on anything torch.save would not write. */
export function readZip(bytes: Uint8Array, where: string): ZipEntry[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === EOCD) { eocd = i; break; }
  }
  if (eocd < 0) throw new ValueError(`${where}: not a zip archive (no end of central directory): not a torch.save file`);
  const count = dv.getUint16(eocd + 10, true);
  let at = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || at === 0xffffffff) throw new ValueError(`${where}: zip64 archives are not supported (the file is over 4 GiB or has 65,535+ entries)`);
  const entries: ZipEntry[] = [];
  const need = (end: number) => { if (end > bytes.length) throw new ValueError(`${where}: truncated zip archive`); };
  for (let k = 0; k < count; k++) {
    need(at + 46);
    if (dv.getUint32(at, true) !== CENTRAL) throw new ValueError(`${where}: corrupt zip central directory`);
    const flags = dv.getUint16(at + 8, true), method = dv.getUint16(at + 10, true);
    const csize = dv.getUint32(at + 20, true), size = dv.getUint32(at + 24, true);
    const nameLen = dv.getUint16(at + 28, true), extraLen = dv.getUint16(at + 30, true), commentLen = dv.getUint16(at + 32, true);
    const local = dv.getUint32(at + 42, true);
    need(at + 46 + nameLen);
    const name = new TextDecoder().decode(bytes.subarray(at + 46, at + 46 + nameLen));
    if (csize === 0xffffffff || local === 0xffffffff) throw new ValueError(`${where}: zip64 entries are not supported ("${name}")`);
    need(local + 30);
    if (dv.getUint32(local, true) !== LOCAL) throw new ValueError(`${where}: corrupt zip local header for "${name}"`);
    const dataStart = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    need(dataStart + csize);
    const crcAt = [at + 16];
    if (flags & 8) {
      // data descriptor after the data, with or without its signature
      const d = dataStart + csize;
      need(d + 4);
      crcAt.push(dv.getUint32(d, true) === DESCRIPTOR ? d + 4 : d);
    }
    if (dv.getUint32(local + 14, true) !== 0 || !(flags & 8)) crcAt.push(local + 14);
    entries.push({ name, dataStart, size: method === 0 ? size : csize, method, crcAt });
    at += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

let table: Uint32Array | null = null;

/** CRC-32 (IEEE, as zip uses it). */
export function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Rewrites the CRC-32 of each entry whose data differ between `before` and `after` (same layout). */
export function refreshCrcs(before: Uint8Array, after: Uint8Array, entries: ZipEntry[]): void {
  const dv = new DataView(after.buffer, after.byteOffset, after.byteLength);
  for (const e of entries) {
    const a = before.subarray(e.dataStart, e.dataStart + e.size), b = after.subarray(e.dataStart, e.dataStart + e.size);
    let same = true;
    for (let i = 0; i < a.length && same; i++) same = a[i] === b[i];
    if (same) continue;
    const crc = crc32(b);
    for (const at of e.crcAt) dv.setUint32(at, crc, true);
  }
}
