// Web Worker entry (browsers): answers FilterShareRequests. Bundled as dist/browser/worker.js, it
// fetches the .wasm beside it like the main bundle does.
import { setWasmSource } from "../backend/index.js";
import type { FilterShareRequest } from "./protocol.js";
import { handleRequest } from "./protocol.js";

setWasmSource((variant) => new URL(`./${variant.file}`, import.meta.url));

const scope = self as unknown as { onmessage: ((e: MessageEvent<FilterShareRequest>) => void) | null; postMessage(m: unknown): void };
scope.onmessage = async (e) => { scope.postMessage(await handleRequest(e.data)); };
