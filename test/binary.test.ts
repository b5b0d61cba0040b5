// The SIMD build really contains SIMD instructions, and the scalar build none: checked on the
// binaries themselves (opcode prefix 0xfd inside code bodies) and on their text form. The choice
// among binaries (a validated probe) and the loader's input forms.
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { BINARIES, bestBinary, createBackend, setWasmSource, wasmBinary, wasmFeature } from "../src/backend/index.js";
import { Rng } from "../src/random.js";

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

describe("binary choice and loading", () => {
  afterEach(() => setWasmSource((v) => wasmBinary(v.id)));

  it("the probe decides like the binaries: a runtime without SIMD refuses the SIMD binary and gets the scalar one", () => {
    expect(wasmFeature("simd")).toBe(true);
    expect(bestBinary().id).toBe("simd");
    // What an engine without SIMD answers: any module with a v128 instruction does not validate.
    const noSimd = (bytes: Uint8Array<ArrayBuffer>) => !codeSectionHasSimd(bytes) && WebAssembly.validate(bytes);
    expect(noSimd(wasmBinary("simd") as Uint8Array<ArrayBuffer>)).toBe(false);
    expect(noSimd(wasmBinary("scalar") as Uint8Array<ArrayBuffer>)).toBe(true);
    expect(wasmFeature("simd", noSimd)).toBe(false);
    expect(bestBinary(noSimd).id).toBe("scalar");
    expect(BINARIES.map((b) => b.id)).toEqual(["simd", "scalar"]);
  });

  it("bytes, an ArrayBuffer, a data: URL and a compiled module give the same kernels, bit for bit", async () => {
    const bytes = wasmBinary("simd");
    const x = new Rng(3).normals(1001), y = new Rng(4).normals(1001);
    const results: number[] = [];
    for (const input of [bytes, bytes.slice().buffer, new URL(`data:application/wasm;base64,${Buffer.from(bytes).toString("base64")}`),
      new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>)]) {
      setWasmSource({ simd: input, scalar: wasmBinary("scalar") });
      const be = await createBackend("wasm");
      expect(be.binary).toBe("simd");
      results.push(be.dot(be.upload(be.alloc(x.length), x), be.upload(be.alloc(y.length), y)));
    }
    expect(new Set(results).size).toBe(1);
    expect(results[0]).toBeCloseTo(x.reduce((s, v, i) => s + v * y[i], 0), 9);
  });

  it("a source that offers only the scalar binary runs it, and one that offers none says so", async () => {
    setWasmSource({ scalar: wasmBinary("scalar") });
    const be = await createBackend("wasm");
    expect(be.binary).toBe("scalar");
    expect(be.simd).toBe(false);
    setWasmSource({});
    await expect(createBackend("wasm")).rejects.toThrow(/no kernel binary this runtime can run was given/);
    expect(() => setWasmSource(42 as never)).toThrow(/expected a function of the binary or an object/);
  });
});
