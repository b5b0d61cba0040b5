// The table of kernel binaries and the one place that picks among them. Each runtime gets the best
// binary it can run, decided by WebAssembly.validate on a tiny probe module per feature (the pattern
// of wasm-feature-detect): validating a probe compiles nothing, so it is allowed even where the
// embedder forbids code generation from bytes (workerd, Vercel Edge). Adding a binary variant is one
// row in BINARIES (best first) and, if it needs a new feature, one probe in PROBES.

/** A WebAssembly feature a binary may require. */
export type WasmFeature = "simd" | "relaxed-simd";

/** The kernel binaries this package ships. */
export type BinaryId = "relaxed" | "simd" | "scalar";

export interface BinaryVariant {
  readonly id: BinaryId;
  /** File name of the binary beside the browser, workerd and Vercel bundles. */
  readonly file: string;
  /** Features the runtime must validate for this binary to load. */
  readonly requires: readonly WasmFeature[];
}

/** Best first: the first row whose features the runtime validates is the one "wasm" runs. */
export const BINARIES: readonly BinaryVariant[] = [
  // fused multiply-add (relaxed_madd) in the GEMM microkernels and the ADMM step: one rounding
  // instead of two, so its results differ from the SIMD binary's in the last bits (<= 1e-12)
  { id: "relaxed", file: "cnn-purify-relaxed.wasm", requires: ["simd", "relaxed-simd"] },
  { id: "simd", file: "cnn-purify-simd.wasm", requires: ["simd"] },
  { id: "scalar", file: "cnn-purify-scalar.wasm", requires: [] },
];

/**
 * Minimal modules that only validate where the feature exists. simd: a function returning
 * i8x16.popcnt(i8x16.splat(0)), i.e. (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt);
 * relaxed-simd: (func (result v128) i32.const 1 i8x16.splat i32.const 2 i8x16.splat
 * i8x16.relaxed_swizzle) (opcode 0xfd 0x100); the same probes as wasm-feature-detect's.
 */
const PROBES: Record<WasmFeature, Uint8Array<ArrayBuffer>> = {
  simd: new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]),
  "relaxed-simd": new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 15, 1, 13, 0, 65, 1, 253, 15, 65, 2, 253, 15, 253, 128, 2, 11]),
};

const seen = new Map<WasmFeature, boolean>();

/** How a runtime answers whether it can compile a module (WebAssembly.validate by default). */
export type Validator = (bytes: Uint8Array<ArrayBuffer>) => boolean;

/** Whether the runtime validates the feature's probe (memoized for the runtime's own validator; never throws). */
export function wasmFeature(feature: WasmFeature, validate?: Validator): boolean {
  const own = validate === undefined;
  let ok = own ? seen.get(feature) : undefined;
  if (ok === undefined) {
    try {
      ok = own ? typeof WebAssembly === "object" && WebAssembly.validate(PROBES[feature]) : validate(PROBES[feature]);
    } catch {
      ok = false;
    }
    if (own) seen.set(feature, ok);
  }
  return ok;
}

/** The best binary the runtime (or the given validator) can run. */
export function bestBinary(validate?: Validator): BinaryVariant {
  return BINARIES.find((b) => b.requires.every((f) => wasmFeature(f, validate))) ?? BINARIES[BINARIES.length - 1];
}

/** The table row for an id (the caller validated the id). */
export function binaryVariant(id: BinaryId): BinaryVariant {
  return BINARIES.find((b) => b.id === id)!;
}
