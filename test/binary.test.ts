// The SIMD build really contains SIMD instructions, and the scalar build none: checked on the
// binaries themselves (opcode prefix 0xfd inside code bodies) and on their text form. The choice
// among binaries (a validated probe) and the loader's input forms.
import { spawnSync } from "node:child_process";
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
    expect(BINARIES.map((b) => b.id)).toEqual(["relaxed", "simd", "scalar"]);
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

describe("the relaxed-SIMD binary", () => {
  it("fuses multiply-add where the others multiply then add, and only it validates the relaxed probe's feature", () => {
    const wat = readFileSync(new URL("../build/relaxed.wat", import.meta.url), "utf8");
    // binaryen's text spells relaxed_madd "relaxed_fma"
    expect((wat.match(/relaxed_fma/g) ?? []).length).toBeGreaterThan(10);
    expect(readFileSync(new URL("../build/simd.wat", import.meta.url), "utf8")).not.toMatch(/relaxed/);
    // a runtime that validates relaxed SIMD gets it first; one that does not (node 20 without its flag) the SIMD binary
    const only = (feature: "relaxed" | "simd") => (bytes: Uint8Array<ArrayBuffer>) => WebAssembly.validate(bytes) || (feature === "relaxed" && bytes.length === 36);
    expect(bestBinary(only("relaxed")).id).toBe("relaxed");
    expect(bestBinary(only("simd")).id).toBe(wasmFeature("relaxed-simd") ? "relaxed" : "simd");
  });

  it("under node --experimental-wasm-relaxed-simd: \"wasm\" picks it, results within 1e-12 of the SIMD binary on an exact problem, bit for bit run to run", () => {
    const script = `
      const api = await import(${JSON.stringify(new URL("../dist/node.js", import.meta.url).href)});
      const { trainInstance } = await import(${JSON.stringify(new URL("../dist/experiments/synthetic.js", import.meta.url).href)});
      const relaxed = await api.createBackend("wasm"), simd = await api.createBackend("wasm-simd");
      const inst = await trainInstance({ p: 64, patches: 4, samples: 4, filters: 64, seed: 5 }, simd);
      const { params } = api.sparseOutliers(inst.trained, { rho: 0.1, seed: 6 });
      const o = { shape: inst.shape, init: inst.init, data: inst.data, trainedReadout: false, arithmetic: "mixed" };
      const a = await api.purify(params, { ...o, backend: relaxed }), b = await api.purify(params, { ...o, backend: simd });
      const again = await api.purify(params, { ...o, backend: await api.createBackend("wasm") });
      // relative as everywhere here: the largest difference over the largest entry
      let num = 0, den = 0, differ = 0;
      for (let i = 0; i < b.params.length; i++) { num = Math.max(num, Math.abs(a.params[i] - b.params[i])); den = Math.max(den, Math.abs(b.params[i])); if (a.params[i] !== b.params[i]) differ++; }
      const worst = num / den;
      const x = relaxed.upload(relaxed.alloc(64 * 64), Float64Array.from({ length: 4096 }, (_, i) => Math.sin(i) / 3)), y = simd.upload(simd.alloc(4096), relaxed.download(x));
      const g1 = relaxed.download(relaxed.gemm(false, true, 64, 64, 64, 1, x, 64, x, 64, 0, relaxed.alloc(4096), 64));
      const g2 = simd.download(simd.gemm(false, true, 64, 64, 64, 1, y, 64, y, 64, 0, simd.alloc(4096), 64));
      console.log(JSON.stringify({ binary: relaxed.binary, other: simd.binary, worst, differ, recovered: a.report.recovered && b.report.recovered,
        repeat: Array.from(again.params).every((v, i) => Object.is(v, a.params[i])), gemmDiffer: g1.some((v, i) => v !== g2[i]), f32: a.report.f32Iterations }));
      api.closeWorkers?.();
    `;
    const r = spawnSync(process.execPath, ["--experimental-wasm-relaxed-simd", "--input-type=module", "-e", script], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    expect(out.binary).toBe("relaxed");
    expect(out.other).toBe("simd");
    expect(out.recovered).toBe(true);
    expect(out.worst).toBeLessThanOrEqual(1e-12);
    expect(out.gemmDiffer).toBe(true); // FMA rounds once: the products do differ in the last bits
    expect(out.repeat).toBe(true);
    expect(out.f32).toBeGreaterThan(0);
  });
});
