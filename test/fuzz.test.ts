// Fuzzing (fast-check) the file parsers and the CLI's arguments: 17,000 cases in all. Every input
// either parses or fails with one of our typed errors (a message, never a crash), and the CLI always
// ends with a documented exit code and a one-line "cnn-purify: ..." message, never a stack trace.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { tempDir } from "./helpers.js";
import { main } from "../src/cli/run.js";
import { CnnPurifyError } from "../src/errors.js";
import { modelToTensors, tensorsToModel } from "../src/io/modelFile.js";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";
import { decodeNpz, encodeNpz } from "../src/io/npz.js";
import { decodeSafetensors, encodeSafetensors } from "../src/io/safetensors.js";
import { initParams } from "../src/model/init.js";
import { openModel } from "../src/io/modelSource.js";

const spec = {
  shape: { patchDim: 16, patches: 4, filters: 2, outputs: 2, readout: "dense" as const },
  image: { channels: 1, height: 8, width: 8, patchHeight: 4, patchWidth: 4 },
};
const goodModel = (() => { const f = modelToTensors(spec, initParams(spec.shape, { seed: 1 })); return encodeSafetensors(f.tensors, f.metadata); })();
const goodNpy = encodeNpy(new Float64Array(2 * 64).map((_, i) => i / 7), [2, 1, 8, 8]);

/** Runs f; passes if it returns or throws a CnnPurifyError, fails on anything else. */
function parsesOrRefuses(f: () => unknown): boolean {
  try {
    f();
    return true;
  } catch (e) {
    if (e instanceof CnnPurifyError && e.message.length > 0) return true;
    throw e;
  }
}

/** A valid file with some bytes overwritten, then possibly cut short. */
const mutated = (good: Uint8Array) => fc.tuple(
  fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
  fc.option(fc.nat(good.length), { nil: undefined }),
).map(([edits, cut]) => {
  const b = good.slice();
  for (const [i, v] of edits) b[i] = v;
  return cut === undefined ? b : b.subarray(0, cut);
});

const fixture = (f: string) => new Uint8Array(readFileSync(new URL(`./fixtures/pytorch/one-hidden/${f}`, import.meta.url)));

describe("fuzz: parsers", () => {
  it("model files as opened for write-back (PyTorch .pt, ONNX with its wire scan, safetensors): 3,000 mutated files from PyTorch", () => {
    for (const [format, file] of [["pt", "model.pt"], ["onnx", "model.onnx"], ["safetensors", "model.safetensors"]] as const) {
      const good = fixture(file);
      fc.assert(fc.property(mutated(good), (bytes) => parsesOrRefuses(() => {
        const m = openModel(bytes, format, "fuzz", { height: 28, width: 28 });
        m.write(m.theta.map((v) => v + 1)); // writing back: in place or a clear refusal
      })), { numRuns: 1000, seed: 2 });
    }
  });

  it("decodeSafetensors + tensorsToModel: 4,000 mutated and random files", () => {
    fc.assert(fc.property(fc.oneof(mutated(goodModel), fc.uint8Array({ maxLength: 300 })), (bytes) =>
      parsesOrRefuses(() => tensorsToModel(decodeSafetensors(bytes), "fuzz"))), { numRuns: 4000, seed: 1 });
  });

  it("decodeSafetensors: 2,000 headers of random JSON values, shapes and offsets", () => {
    const tensor = fc.record({
      dtype: fc.oneof(fc.constantFrom("F64", "F32", "F16", "BF16", "I64", "I32", "U8", "C64"), fc.anything()),
      shape: fc.oneof(fc.array(fc.integer({ min: -2, max: 6 }), { maxLength: 4 }), fc.anything()),
      data_offsets: fc.oneof(fc.tuple(fc.integer({ min: -4, max: 300 }), fc.integer({ min: -4, max: 300 })), fc.anything()),
    });
    const header = fc.dictionary(fc.oneof(fc.constantFrom("conv.weight", "conv.bias", "fc.weight", "__metadata__"), fc.string()), fc.oneof(tensor, fc.anything()));
    fc.assert(fc.property(header, fc.nat(300), (h, dataLen) => {
      const head = new TextEncoder().encode(JSON.stringify(h));
      const bytes = new Uint8Array(8 + head.length + dataLen);
      new DataView(bytes.buffer).setBigUint64(0, BigInt(head.length), true);
      bytes.set(head, 8);
      return parsesOrRefuses(() => tensorsToModel(decodeSafetensors(bytes), "fuzz", { height: 8, width: 8 }));
    }), { numRuns: 2000, seed: 2 });
  });

  it("decodeNpy: 4,000 mutated and random files", () => {
    fc.assert(fc.property(fc.oneof(mutated(goodNpy), fc.uint8Array({ maxLength: 200 })), (bytes) => parsesOrRefuses(() => decodeNpy(bytes))), { numRuns: 4000, seed: 3 });
  });


  it("decodeNpz: 1,000 mutated and random archives", () => {
    const goodNpz = encodeNpz({ data: { values: new Float64Array([1, 2, 3]), shape: [3] }, labels: { values: new Float64Array([0]), shape: [1] } });
    fc.assert(fc.property(fc.oneof(mutated(goodNpz), fc.uint8Array({ maxLength: 200 })), (bytes) => parsesOrRefuses(() => decodeNpz(bytes))), { numRuns: 1000, seed: 5 });
  });
});

describe("fuzz: CLI arguments", () => {
  it("3,000 argument lists: documented exit codes, one clear message, no stack traces", async () => {
    const dir = tempDir("cnnp-fuzz-");
    const model = join(dir, "m.safetensors"), data = join(dir, "d.npy");
    writeFileSync(model, goodModel);
    writeFileSync(data, goodNpy);
    const token = fc.constantFrom(
      "purify", "mnist", "demo", "phase", "synthetic", "--model", "--init", "--data", "--labels", "--out", "--report",
      "--subspace", "--solver", "--backend", "--dataset", "--regimes", "--seed", "--test", "--trained-readout", "--help", "--json", "--quick", "--rho", "--p",
      model, data, join(dir, "out.safetensors"), join(dir, "missing.npy"), join(dir, "r.json"), dir, "", "-", "--", "-x", "x=1",
      "patch", "linearized", "cifar", "js", "gpu", "NaN", "-1", "1e309", "0", "0:0:0", "1:1", "yes", "no", "\u0000", "é",
    );
    // purify gets any arguments; the experiment commands would run for minutes on valid ones, so
    // they get random arguments plus one unknown option (their parsing and messages still fuzzed).
    const argvs = fc.oneof(
      fc.array(token, { maxLength: 10 }).map((a) => ["purify", ...a]),
      fc.tuple(fc.constantFrom("mnist", "demo", "phase", "synthetic"), fc.array(token, { maxLength: 6 })).map(([c, a]) => [c, ...a, "--no-such-option"]),
      fc.array(token, { maxLength: 4 }).filter((a) => !["mnist", "demo", "phase", "synthetic", "purify"].includes(a[0])),
    );
    await fc.assert(fc.asyncProperty(argvs, async (argv) => {
      let err = "";
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
      let code: number;
      try {
        code = await main(argv, () => {});
      } finally {
        process.stderr.write = write;
      }
      expect([0, 1, 2, 3]).toContain(code);
      if (code !== 0) {
        expect(err).toMatch(/^cnn-purify: \S/);
        expect(err).not.toMatch(/\n\s+at /);
      }
      return true;
    }), { numRuns: 3000, seed: 4 });
  }, 300_000);
});
