// Argument parsing for every command: node's parseArgs in strict mode, with errors that name the
// bad option, and numeric options checked once here.
import { parseArgs } from "node:util";
import { BACKEND_NAMES } from "../backend/types.js";
import { OptionError } from "../errors.js";

export type OptionSpec = Record<string, { type: "string" | "boolean"; default?: string | boolean; help: string; multiple?: boolean }>;

/** The options every command has. */
export const COMMON: OptionSpec = {
  backend: { type: "string", default: "wasm", help: `kernel backend: ${BACKEND_NAMES.join(", ")}` },
  json: { type: "boolean", help: "print JSON instead of the table" },
  help: { type: "boolean", help: "show this help" },
};

export type ParsedOptions = Record<string, string | boolean | undefined>;

/** Parsed values; an option with `multiple` gives a string[] (read it with `many`). */
export function parse(command: string, argv: string[], spec: OptionSpec): ParsedOptions {
  try {
    const { values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { type: v.type, default: v.default, ...(v.multiple ? { multiple: true } : {}) }])) as never,
      strict: true,
      allowPositionals: false,
    });
    return values as ParsedOptions;
  } catch (e) {
    throw new OptionError(`${command}: ${(e as Error).message.replace(/\. To specify a positional.*$/, "")} (see: cnn-purify ${command} --help)`);
  }
}

export function num(command: string, name: string, v: string | boolean | undefined, opts: { int?: boolean; min?: number; max?: number } = {}): number {
  const x = Number(v);
  if (typeof v !== "string" || v.trim() === "" || !Number.isFinite(x) || (opts.int && !Number.isInteger(x)) ||
    (opts.min !== undefined && x < opts.min) || (opts.max !== undefined && x > opts.max)) {
    const want = `${opts.int ? "an integer" : "a number"}${opts.min !== undefined ? ` >= ${opts.min}` : ""}${opts.max !== undefined ? ` and <= ${opts.max}` : ""}`;
    throw new OptionError(`${command}: --${name} must be ${want}, got "${v}"`);
  }
  return x;
}

export function choice<T extends string>(command: string, name: string, v: string | boolean | undefined, allowed: readonly T[]): T {
  if (typeof v !== "string" || !allowed.includes(v as T)) throw new OptionError(`${command}: --${name} must be one of ${allowed.join(", ")}, got "${v}"`);
  return v as T;
}

export function helpText(command: string, summary: string, spec: OptionSpec): string {
  const rows = Object.entries(spec).map(([k, v]) => `  --${k}${v.type === "string" ? " VALUE" : ""}`.padEnd(26) + v.help + (v.default !== undefined && v.type === "string" ? ` (default ${v.default})` : ""));
  return `cnn-purify ${command}: ${summary}\n\n${rows.join("\n")}\n`;
}

/** The values of an option declared with `multiple` (none: []). */
export function many(v: unknown): string[] {
  return Array.isArray(v) ? (v as string[]) : typeof v === "string" ? [v] : [];
}
