// Deno Deploy as the README shows it: Deno.serve with the edge build's handler. The test runs it
// with `deno run --allow-net=127.0.0.1 --allow-read deno-server.js PORT`.
import { createPurifyHandler, RUNTIME_LIMITS } from "../../dist/bundle/edge/cnn-purify.js";

Deno.serve({ hostname: "127.0.0.1", port: Number(Deno.args[0] ?? 8000) }, createPurifyHandler(RUNTIME_LIMITS.deno));
