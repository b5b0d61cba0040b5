// worker_threads entry: answers FilterShareRequests (started by node.ts's factory).
import { parentPort } from "node:worker_threads";
import type { FilterShareRequest } from "./protocol.js";
import { handleRequest } from "./protocol.js";

parentPort!.on("message", async (req: FilterShareRequest) => {
  parentPort!.postMessage(await handleRequest(req));
});
