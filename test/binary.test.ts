// The SIMD build really contains SIMD instructions, and the scalar build none: checked on the
// binaries themselves (opcode prefix 0xfd inside code bodies) and on their text form.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { wasmBinary } from "../src/backend/index.js";

/** Counts SIMD instructions in the text form the same build wrote. */
function watCounts(file: string): { v128: number; f64x2: number } {
  const wat = readFileSync(new URL(`../build/${file}`, import.meta.url), "utf8");
  return { v128: (wat.match(/v128\./g) ?? []).length, f64x2: (wat.match(/f64x2\./g) ?? []).length };
}

/** True if the code section contains the 0xfd byte (the SIMD opcode prefix). */
function codeSectionHasSimd(bytes: Uint8Array): boolean {
  let i = 8;
  const leb = (): number => { let r = 0, s = 0, b: number; do { b = bytes[i++]; r |= (b & 0x7f) << s; s += 7; } while (b & 0x80); return r >>> 0; };
  while (i < bytes.length) {
    const id = bytes[i++], size = leb(), end = i + size;
    if (id === 10) return bytes.subarray(i, end).includes(0xfd);
    i = end;
  }
  return false;
}

describe("SIMD in the binaries", () => {
  it("the wasm build uses f64x2 instructions; the scalar build none", () => {
    const simd = watCounts("simd.wat"), scalar = watCounts("scalar.wat");
    expect(simd.f64x2).toBeGreaterThan(50);
    expect(scalar.f64x2 + scalar.v128).toBe(0);
  });

  it("the inlined binaries match: 0xfd prefix in the SIMD code section only", () => {
    expect(codeSectionHasSimd(wasmBinary("wasm"))).toBe(true);
    // 0xfd may occur as an immediate byte in scalar code, so the scalar check is on validation:
    // the scalar module must compile in an engine even with SIMD turned off, i.e. it needs none.
    const scalar = wasmBinary("wasm-scalar");
    expect(new WebAssembly.Module(scalar)).toBeInstanceOf(WebAssembly.Module);
    expect(Buffer.from(scalar).equals(readFileSync(new URL("../build/scalar.wasm", import.meta.url)))).toBe(true);
    expect(Buffer.from(wasmBinary("wasm")).equals(readFileSync(new URL("../build/simd.wasm", import.meta.url)))).toBe(true);
  });
});
