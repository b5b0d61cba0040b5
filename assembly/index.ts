// The one WASM module: every kernel family, exported flat for src/backend/wasm.ts.
export { heapBase, simdEnabled } from "./memory";
export { fill, copy, scale, axpy, axpby, sub, mul, dot, asum, amax, softThreshold, admmUpdate, admmUpdateBatch, momentumStep, adamStep, scaleColumns } from "./vector";
export { gemm, gemmF32, gemv, gemmWorkspaceBytes, packedLength, prepack, prepackF32, gemmPrepacked, gemmPrepackedF32 } from "./gemm";
export { extractPatches, sumBlocks, broadcastBlocks } from "./patches";
export { relu, reluMask, reluBackward } from "./relu";
export { choleskyFactor, choleskySolve, solveLowerTransposed, choleskyFactorF32, choleskySolveF32, solveLowerTransposedF32, choleskyMultiplyF32 } from "./cholesky";
export { peakF64, peakFlopsPerIteration, peakF32, peakFlopsPerIterationF32 } from "./peak";
export { im2col, col2im } from "./im2col";
export { blockTranspose, copyRows, maxPool, avgPool, scatterAdd, gather, avgPoolBackward } from "./layout";
export { channelAffine, channelSums } from "./channels";
export { demote, promote, admmRhsF32, l1DiffF32, admmUpdateBatchF32, scaleF32, accumulateF32 } from "./single";
