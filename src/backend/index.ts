// Backend selection and the one loader of kernel binaries. A binary arrives in any form a runtime
// allows (bytes, a URL, or an already compiled WebAssembly.Module, which is all workerd and Vercel
// Edge permit), is compiled at most once per source, and no algorithm ever sees which form it was.
import { OptionError } from "../errors.js";
import { relaxedWasmBase64, scalarWasmBase64, simdWasmBase64 } from "../generated/wasmBinaries.js";
import type { BinaryId, BinaryVariant } from "./binaries.js";
import { BINARIES, bestBinary, binaryVariant, wasmFeature } from "./binaries.js";
import { JsBackend } from "./js.js";
import type { Backend, BackendName } from "./types.js";
import { BACKEND_NAMES } from "./types.js";
import { createWasmBackend } from "./wasm.js";

export type { Backend, BackendName, Buf } from "./types.js";
export { BACKEND_NAMES } from "./types.js";
export type { BinaryId, BinaryVariant, Validator, WasmFeature } from "./binaries.js";
export { BINARIES, bestBinary, wasmFeature } from "./binaries.js";

function decodeBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** A kernel binary as bytes, a URL to fetch, a fetch Response, or a compiled module. */
export type WasmInput = Uint8Array | ArrayBuffer | URL | string | Response | WebAssembly.Module;

/**
 * Where wasm backends get their binaries: a function of the table row, or an object with one
 * input per binary id (binaries it lacks are not offered to the runtime).
 */
export type WasmSource =
  | ((variant: BinaryVariant) => WasmInput | Promise<WasmInput>)
  | Partial<Record<BinaryId, WasmInput>>;

const INLINED: Record<BinaryId, string> = { relaxed: relaxedWasmBase64, simd: simdWasmBase64, scalar: scalarWasmBase64 };

/**
 * A kernel binary inlined in this build, e.g. to inspect it: by id ("relaxed", "simd", "scalar") or
 * backend name ("wasm" and "wasm-simd": the SIMD binary; "wasm-scalar": the scalar one).
 */
export function wasmBinary(name: "wasm" | "wasm-simd" | "wasm-scalar" | BinaryId): Uint8Array {
  const id: BinaryId = name === "relaxed" ? "relaxed" : name === "wasm" || name === "wasm-simd" || name === "simd" ? "simd" : "scalar";
  if (!INLINED[id]) throw new OptionError(`wasmBinary: this build does not inline the ${id} binary; it loads it with setWasmSource`);
  return decodeBase64(INLINED[id]);
}

let wasmSource: WasmSource = (variant) => wasmBinary(variant.id);
const compiled = new Map<BinaryId, Promise<WebAssembly.Module>>();

/** Replaces how binaries are obtained (inlined bytes by default; the bundles set their own). */
export function setWasmSource(source: WasmSource): void {
  if (typeof source !== "function" && (typeof source !== "object" || source === null)) {
    throw new OptionError("setWasmSource: expected a function of the binary or an object { simd, scalar }");
  }
  wasmSource = source;
  compiled.clear();
}

function offered(id: BinaryId): boolean {
  return typeof wasmSource === "function" || wasmSource[id] !== undefined;
}

// Tag checks rather than instanceof: a module compiled in another realm (a host handing modules to
// a vm context, as edge-runtime does) is still a module.
const isModule = (x: unknown): x is WebAssembly.Module => Object.prototype.toString.call(x) === "[object WebAssembly.Module]";
const isResponse = (x: unknown): x is Response => Object.prototype.toString.call(x) === "[object Response]";

async function compile(input: WasmInput, what: string): Promise<WebAssembly.Module> {
  if (isModule(input)) return input;
  if (typeof input === "string" || Object.prototype.toString.call(input) === "[object URL]") {
    const r = await fetch(input);
    if (!r.ok) throw new Error(`cnn-purify: cannot load the ${what} binary from ${String(input)} (HTTP ${r.status})`);
    input = r;
  }
  if (isResponse(input)) input = await input.arrayBuffer();
  return WebAssembly.compile(input as BufferSource as Uint8Array<ArrayBuffer>);
}

/** The compiled module of one binary, compiled once per source. */
function moduleOf(variant: BinaryVariant): Promise<WebAssembly.Module> {
  let m = compiled.get(variant.id);
  if (!m) {
    const source = wasmSource;
    m = Promise.resolve(typeof source === "function" ? source(variant) : source[variant.id]!)
      .then((input) => compile(input, variant.id));
    m.catch(() => compiled.delete(variant.id)); // a failed load may be retried
    compiled.set(variant.id, m);
  }
  return m;
}

/** The binary "wasm" runs here: the best the runtime validates among those the source offers. */
export function chosenBinary(): BinaryVariant {
  const best = bestBinary();
  if (offered(best.id)) return best;
  const fallback = BINARIES.slice(BINARIES.indexOf(best)).find((b) => offered(b.id));
  if (!fallback) throw new OptionError(`cnn-purify: no kernel binary this runtime can run was given (it runs ${best.id})`);
  return fallback;
}

/**
 * A fresh backend instance: "wasm" (the best WebAssembly binary this runtime runs: relaxed SIMD,
 * else SIMD, else scalar; `backend.binary` names it), "wasm-simd" and "wasm-scalar" (those binaries
 * whatever else the runtime runs, for benchmarks and comparisons) or "js" (pure TypeScript). Each
 * wasm instance has its own memory; compiled modules are shared.
 */
export async function createBackend(name: BackendName | string = "wasm"): Promise<Backend> {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new OptionError(`createBackend: unknown backend "${name}" (known: ${BACKEND_NAMES.join(", ")})`);
  }
  if (name === "js") return new JsBackend();
  if (name === "wasm-simd" && !wasmFeature("simd")) throw new OptionError("createBackend: this runtime does not run WebAssembly SIMD (backend \"wasm-simd\"); \"wasm\" picks what it runs");
  const variant = name === "wasm" ? chosenBinary() : binaryVariant(name === "wasm-simd" ? "simd" : "scalar");
  return createWasmBackend(name as BackendName, variant.id, await moduleOf(variant));
}

/** Accepts a Backend or a name; used by every public function that takes `backend`. */
export async function resolveBackend(backend: Backend | BackendName | string | undefined): Promise<Backend> {
  if (backend === undefined) return createBackend("wasm");
  if (typeof backend === "string") return createBackend(backend);
  return backend;
}
