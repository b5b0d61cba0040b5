// Messages between the files page (demo/files.html) and its worker.
import type { CheckResult } from "../src/files/check.js";
import type { FilePurifyOptions } from "../src/files/purifyFiles.js";

export interface PageFile { name: string; bytes: Uint8Array }
export interface PageFiles { model: PageFile; init: PageFile; data: PageFile; evalData?: PageFile; evalLabels?: PageFile }

export type PageRequest =
  | { action: "warm"; modules: Partial<Record<"simd" | "scalar", WebAssembly.Module>> }
  | { action: "check" | "purify"; files: PageFiles; options: FilePurifyOptions; memoryLimit: number };

export type PageMessage =
  | { type: "warm" }
  | { type: "sized"; memoryBytes: number; span: string; reason: string; warnings: string[] }
  | { type: "progress"; fraction: number; text: string }
  | { type: "error"; message: string }
  | { type: "checked"; result: CheckResult }
  | {
    type: "purified"; name: string; bytes: Uint8Array; report: Record<string, unknown>;
    /** Per tensor: the file's values and the purified ones (for the scatter plots). */
    tensors: Array<{ name: string; before: Float64Array; after: Float64Array }>;
  };
