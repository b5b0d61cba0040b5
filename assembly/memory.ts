// Memory layout contract shared with src/backend/wasm.ts: the module owns no heap of its own
// (runtime "stub", no allocations in kernels); the host allocates every buffer above heapBase().

/** First free byte after the module's static data; the host's allocator starts here. */
export function heapBase(): usize {
  return __heap_base;
}

/** 1 when this binary was compiled with SIMD, 0 for the scalar build. */
export function simdEnabled(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}
