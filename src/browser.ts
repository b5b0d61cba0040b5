// The browser entry point: the whole API; the .wasm binaries are fetched from beside this bundle
// (dist/browser/), and purify({ workers }) uses Web Workers running dist/browser/worker.js.
import { setWasmSource } from "./backend/index.js";
import { setWorkerFactory } from "./parallel/pool.js";
import type { FilterShareRequest, FilterShareResponse } from "./parallel/protocol.js";

export * from "./index.js";

const cache = new Map<string, Promise<Uint8Array>>();
setWasmSource((name) => {
  if (!cache.has(name)) {
    const url = new URL(name === "wasm" ? "./cnn-purify-simd.wasm" : "./cnn-purify-scalar.wasm", import.meta.url);
    cache.set(name, fetch(url).then(async (r) => {
      if (!r.ok) throw new Error(`cnn-purify: cannot load ${url} (HTTP ${r.status})`);
      return new Uint8Array(await r.arrayBuffer());
    }));
  }
  return cache.get(name)!;
});

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
