// Typed errors. Every public function validates its inputs once and throws one of these with a
// message that names the argument and what was expected; kernels below the boundary trust inputs.

/** Base class: `code` is stable for programs, `message` is for people. */
export class CnnPurifyError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An array's length or a dimension does not match what the operation needs. */
export class ShapeError extends CnnPurifyError {
  constructor(message: string) { super("E_SHAPE", message); }
}

/** A value is out of its domain: NaN/Inf where finite numbers are needed, a negative size, ... */
export class ValueError extends CnnPurifyError {
  constructor(message: string) { super("E_VALUE", message); }
}

/** An unknown option name, backend name or enum value. */
export class OptionError extends CnnPurifyError {
  constructor(message: string) { super("E_OPTION", message); }
}

/** A numerical failure the caller can act on, e.g. a Gram matrix that is not positive definite. */
export class NumericalError extends CnnPurifyError {
  constructor(message: string) { super("E_NUMERICAL", message); }
}

/** A problem with an input file: unreadable, corrupt, wrong shapes (CLI exit code 3; HTTP 400). */
export class InputFileError extends CnnPurifyError {
  constructor(message: string) { super("E_INPUT", message); }
}

/** A value as a message shows it: numbers as written (NaN, Infinity), anything else as JSON ("false", null, [1]). */
export const shown = (v: unknown): string => (typeof v === "number" ? String(v) : JSON.stringify(v));

/** Throws OptionError if `options` has a key outside `allowed`; `where` names the function. */
export function checkOptionNames(where: string, options: object | undefined, allowed: readonly string[]): void {
  if (options === undefined) return;
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new OptionError(`${where}: unknown option "${key}" (known: ${allowed.join(", ")})`);
    }
  }
}

/** Throws ValueError at the first non-finite entry. */
export function checkFinite(where: string, name: string, arr: ArrayLike<number>): void {
  for (let i = 0; i < arr.length; i++) {
    if (!Number.isFinite(arr[i])) {
      throw new ValueError(`${where}: ${name}[${i}] is ${arr[i]}; all entries must be finite`);
    }
  }
}

/** Throws ValueError unless v is an integer >= min. */
export function checkInt(where: string, name: string, v: number, min = 1): void {
  if (!Number.isInteger(v) || v < min) {
    throw new ValueError(`${where}: ${name} must be an integer >= ${min}, got ${v}`);
  }
}
