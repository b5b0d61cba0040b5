// The workerd (Cloudflare Workers) and Vercel Edge entry: the edge API, with each kernel binary
// imported as a compiled WebAssembly.Module from a .wasm file beside the bundle, because those
// runtimes forbid compiling WebAssembly from bytes at run time. The Vercel build is this file with
// the imports spelled "./x.wasm?module" (scripts/build-bundles.mjs rewrites them).
import relaxed from "./cnn-purify-relaxed.wasm";
import scalar from "./cnn-purify-scalar.wasm";
import simd from "./cnn-purify-simd.wasm";
import { setWasmSource } from "./backend/index.js";

setWasmSource({ relaxed, simd, scalar });

export * from "./edge.js";
