// cnn-purify: the public API. Everything here runs unchanged in Node, browsers, workers and edge
// runtimes (the WASM kernels are inlined; nothing touches fs or the network).
export { createBackend, resolveBackend, wasmBinary, setWasmSource, BACKEND_NAMES } from "./backend/index.js";
export type { WasmSource } from "./backend/index.js";
export type { Backend, BackendName, Buf } from "./backend/index.js";
export { CnnPurifyError, ShapeError, ValueError, OptionError, NumericalError } from "./errors.js";
export { Rng } from "./random.js";
export type { ModelShape, Readout, Layout, ImageShape } from "./model/shape.js";
export { layoutOf, patchGeometry } from "./model/shape.js";
export type { PatchData } from "./model/data.js";
export { patchesFromImages } from "./model/data.js";
export { initParams } from "./model/init.js";
export type { InitOptions } from "./model/init.js";
export { flipRate } from "./model/patterns.js";
export { train, evaluate } from "./train/train.js";
export type { TrainOptions, TrainResult, Evaluation, OptimizerName } from "./train/train.js";
export { sparseOutliers, denseNoiseAndOutliers, bitFlips, targetedRows } from "./contaminate.js";
export type { Contamination, OutlierOptions, BitFlipOptions, BitClass } from "./contaminate.js";
export { purify, createPurifier, Purifier, SUBSPACE_NAMES } from "./recover/purify.js";
export type { PurifyOptions, PurifyReport, PurifyResult, PurifyProgress, PurifyRunOptions, SubspaceName } from "./recover/purify.js";
export type { SolverName } from "./recover/solve.js";
export { recoveryErrors } from "./recover/report.js";
export { runSynthetic } from "./experiments/synthetic.js";
export { runPhase } from "./experiments/phase.js";
export { encodeNpy, decodeNpy } from "./io/npy.js";
export { heatMap, linePlot, scatterPlot } from "./plot/svg.js";
export { setWorkerFactory, closeWorkers } from "./parallel/pool.js";
export type { WorkerFactory, PoolWorker } from "./parallel/pool.js";
