// The purify command's files on disk: read as bytes (each problem an InputFileError naming the
// file, exit code 3), then decoded by src/files like any runtime does. Inputs are only read.
import { readFileSync, realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { NamedFile } from "../files/inputs.js";
import { InputFileError } from "./files.js";

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
