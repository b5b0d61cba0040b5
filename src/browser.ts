// The browser entry point: the whole API; the .wasm binaries are fetched from beside this bundle
// (dist/browser/), and purify({ workers }) uses Web Workers running dist/browser/worker.js.
import { setWasmSource } from "./backend/index.js";
import { setWorkerFactory } from "./parallel/pool.js";
import type { FilterShareRequest, FilterShareResponse } from "./parallel/protocol.js";

export * from "./index.js";

// Binaries are fetched (and compiled once) from beside this bundle; the table names the files.
setWasmSource((variant) => new URL(`./${variant.file}`, import.meta.url));

setWorkerFactory(() => {
  const w = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  return {
    run: (req: FilterShareRequest) => new Promise<FilterShareResponse>((resolve, reject) => {
      w.onmessage = (e: MessageEvent<FilterShareResponse>) => resolve(e.data);
      w.onerror = (e) => reject(new Error(e.message));
      w.postMessage(req);
    }),
    idle: () => {},
    terminate: () => w.terminate(),
  };
});
