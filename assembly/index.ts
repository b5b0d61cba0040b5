// The one WASM module: every kernel family, exported flat for src/backend/wasm.ts.
export { heapBase, simdEnabled } from "./memory";
export { fill, copy, scale, axpy, axpby, sub, mul, dot, asum, amax, softThreshold, admmUpdate, momentumStep, adamStep, scaleColumns } from "./vector";
export { gemm, gemv, gemmWorkspaceBytes } from "./gemm";
export { extractPatches, sumBlocks, broadcastBlocks } from "./patches";
export { relu, reluMask, reluBackward } from "./relu";
export { choleskyFactor, choleskySolve, solveLowerTransposed } from "./cholesky";
export { peakF64, peakFlopsPerIteration } from "./peak";
export { im2col, col2im } from "./im2col";
export { blockTranspose, copyRows, maxPool, avgPool, scatterAdd, gather, avgPoolBackward } from "./layout";
export { channelAffine, channelSums } from "./channels";
