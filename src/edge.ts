// The edge entry point (Cloudflare Workers, Vercel Edge, Deno Deploy, any fetch-style runtime):
// the whole API with the .wasm inlined, no fs, no node: imports, one thread; plus the handler.
export * from "./index.js";
export { createPurifyHandler, RUNTIME_LIMITS } from "./edge/handler.js";
export type { HandlerLimits } from "./edge/handler.js";
