// Output files are written atomically (a temp file in the same folder, then rename), so an
// interrupted run never leaves a half-written file under the final name.
import { mkdirSync, renameSync, writeFileSync, rmSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { CnnPurifyError } from "../errors.js";

export { InputFileError } from "../errors.js";

/** An output file could not be written (exit code 1); nothing was left under its name. */
export class OutputFileError extends CnnPurifyError {
  constructor(message: string) { super("E_OUTPUT", message); }
}

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    throw new OutputFileError(`cannot write ${path}: ${code === "EISDIR" ? "a folder has that name" : code === "EACCES" ? "permission denied" : (e as Error).message}`);
  }
}
