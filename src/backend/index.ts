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

/** The kernel binary of a wasm backend, e.g. for workers or to inspect it. */
export function wasmBinary(name: "wasm" | "wasm-scalar"): Uint8Array {
  return decodeBase64(name === "wasm" ? simdWasmBase64 : scalarWasmBase64);
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
  return createWasmBackend(name as BackendName, wasmBinary(name as "wasm" | "wasm-scalar"));
}

/** Accepts a Backend or a name; used by every public function that takes `backend`. */
export async function resolveBackend(backend: Backend | BackendName | string | undefined): Promise<Backend> {
  if (backend === undefined) return createBackend("wasm");
  if (typeof backend === "string") return createBackend(backend);
  return backend;
}
