// Backend selection by name. The WASM binaries are inlined at build time (src/generated), so this
// works unchanged in Node, browsers, workers and edge runtimes.
import { OptionError } from "../errors.js";
import { scalarWasmBase64, simdWasmBase64 } from "../generated/wasmBinaries.js";
import { JsBackend } from "./js.js";
import type { Backend, BackendName } from "./types.js";
import { BACKEND_NAMES } from "./types.js";
import { createWasmBackend } from "./wasm.js";

export type { Backend, BackendName, Buf } from "./types.js";
export { BACKEND_NAMES } from "./types.js";

function decodeBase64(text: string): Uint8Array {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** The kernel binary of a wasm backend (inlined in the package), e.g. to inspect it. */
export function wasmBinary(name: "wasm" | "wasm-scalar"): Uint8Array {
  const text = name === "wasm" ? simdWasmBase64 : scalarWasmBase64;
  if (!text) throw new OptionError(`wasmBinary: this build does not inline the ${name} binary; it loads it with setWasmSource`);
  return decodeBase64(text);
}

/** Where wasm backends get their binary: inlined bytes by default; the browser build fetches a URL. */
export type WasmSource = (name: "wasm" | "wasm-scalar") => Promise<Uint8Array | ArrayBuffer>;
let wasmSource: WasmSource = async (name) => wasmBinary(name);

/** Replaces how binaries are obtained (bytes, a URL fetch, a cache...). */
export function setWasmSource(source: WasmSource): void {
  wasmSource = source;
}

/**
 * A fresh backend instance: "wasm" (SIMD WebAssembly, the default), "wasm-scalar" (same kernels
 * without SIMD, for benchmarks) or "js" (pure TypeScript). Each wasm instance has its own memory.
 */
export async function createBackend(name: BackendName | string = "wasm"): Promise<Backend> {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new OptionError(`createBackend: unknown backend "${name}" (known: ${BACKEND_NAMES.join(", ")})`);
  }
  if (name === "js") return new JsBackend();
  const bytes = await wasmSource(name as "wasm" | "wasm-scalar");
  return createWasmBackend(name as BackendName, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
}

/** Accepts a Backend or a name; used by every public function that takes `backend`. */
export async function resolveBackend(backend: Backend | BackendName | string | undefined): Promise<Backend> {
  if (backend === undefined) return createBackend("wasm");
  if (typeof backend === "string") return createBackend(backend);
  return backend;
}
