// dist/bundle/workerd/worker.js: a ready Worker main module, importing the library beside it
// (./cnn-purify.js). workerd takes every named export of a main module as an entrypoint, so the
// library cannot be the main module itself; this entry exports only the handler.
import { RUNTIME_LIMITS, createPurifyHandler } from "./workerd.js";

export default { fetch: createPurifyHandler(RUNTIME_LIMITS.cloudflare) };
