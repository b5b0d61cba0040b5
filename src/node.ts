// The Node entry point: the whole API, plus worker_threads for `purify({ workers })`.
import { Worker } from "node:worker_threads";
import { setWorkerFactory } from "./parallel/pool.js";
import type { FilterShareRequest, FilterShareResponse } from "./parallel/protocol.js";

export * from "./index.js";

setWorkerFactory(() => {
  const w = new Worker(new URL("./parallel/nodeWorker.js", import.meta.url));
  return {
    run: (req: FilterShareRequest) => new Promise<FilterShareResponse>((resolve, reject) => {
      w.ref();
      w.once("message", resolve);
      w.once("error", reject);
      w.postMessage(req);
    }),
    idle: () => { w.unref(); },
    terminate: () => { void w.terminate(); },
  };
});
