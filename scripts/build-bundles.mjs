// esbuild bundles beside tsc's dist/:
// - dist/bundle/edge/cnn-purify.js: one file, binaries inlined as bytes, no node: imports (Deno,
//   Vercel's edge-runtime, any runtime that compiles WebAssembly from bytes);
// - dist/bundle/workerd/ and dist/bundle/vercel/: the same API with each binary imported as a .wasm
//   module beside the entry ("./x.wasm" for workerd, "./x.wasm?module" for Vercel Edge), for
//   runtimes that forbid compiling from bytes; workerd/worker.js is a ready Worker main module;
// - dist/bundle/browser/: ESM bundle + Web Worker script, binaries fetched by URL; dist/demo/ (the
//   demo on generated data, index.html, and the page for the user's own files, files.html).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const common = { bundle: true, format: "esm", target: "es2022", logLevel: "warning", external: ["highs"], absWorkingDir: root };
// The binary files every non-inlining bundle carries, named as src/backend/binaries.ts names them.
const BINARY_FILES = { "cnn-purify-relaxed.wasm": "build/relaxed.wasm", "cnn-purify-simd.wasm": "build/simd.wasm", "cnn-purify-scalar.wasm": "build/scalar.wasm" };
const copyBinaries = (dir, skip = []) => {
  mkdirSync(join(root, dir), { recursive: true });
  for (const [file, from] of Object.entries(BINARY_FILES)) {
    if (skip.includes(file)) rmSync(join(root, dir, file), { force: true });
    else copyFileSync(join(root, from), join(root, dir, file));
  }
};
// The Vercel build leaves the relaxed-SIMD binary out: its .wasm imports are compiled by the host when
// the bundle loads (Vercel's edge-runtime locally runs on Node's V8, which needs a flag for relaxed
// SIMD before Node 22), and one module it cannot compile would stop the whole bundle.
const withoutRelaxed = {
  name: "without-relaxed",
  setup(b) {
    b.onResolve({ filter: /cnn-purify-relaxed\.wasm$/ }, () => ({ path: "relaxed", namespace: "without-relaxed" }));
    b.onLoad({ filter: /.*/, namespace: "without-relaxed" }, () => ({ contents: "export default undefined;", loader: "js" }));
  },
};

// Bundles that load binaries another way get empty strings instead of the inlined copies.
const noInline = {
  name: "no-inline-wasm",
  setup(b) {
    b.onResolve({ filter: /generated\/wasmBinaries\.js$/ }, () => ({ path: "wasmBinaries", namespace: "no-inline" }));
    b.onLoad({ filter: /.*/, namespace: "no-inline" }, () => ({ contents: 'export const relaxedWasmBase64 = ""; export const simdWasmBase64 = ""; export const scalarWasmBase64 = "";', loader: "js" }));
  },
};
// The .wasm imports of src/workerd.ts stay imports, spelled for the runtime that resolves them.
const wasmImports = (suffix) => ({
  name: "wasm-module-imports",
  setup(b) {
    b.onResolve({ filter: /\.wasm$/ }, (a) => ({ path: a.path + suffix, external: true }));
  },
});

await build({ ...common, entryPoints: ["src/edge.ts"], outfile: "dist/bundle/edge/cnn-purify.js", platform: "neutral", mainFields: ["module", "main"] });
for (const [dir, suffix] of [["workerd", ""], ["vercel", "?module"]]) {
  const vercel = dir === "vercel";
  await build({ ...common, entryPoints: ["src/workerd.ts"], outfile: `dist/bundle/${dir}/cnn-purify.js`, platform: "neutral", mainFields: ["module", "main"],
    plugins: [noInline, ...(vercel ? [withoutRelaxed] : []), wasmImports(suffix)] });
  copyBinaries(`dist/bundle/${dir}`, vercel ? ["cnn-purify-relaxed.wasm"] : []);
}
// The workerd folder's Worker entry: only a default export, the library imported beside it.
const libraryBeside = { name: "library-beside", setup(b) { b.onResolve({ filter: /^\.\/workerd\.js$/ }, () => ({ path: "./cnn-purify.js", external: true })); } };
await build({ ...common, entryPoints: ["src/workerdWorker.ts"], outfile: "dist/bundle/workerd/worker.js", platform: "neutral", plugins: [libraryBeside] });

await build({ ...common, entryPoints: { "cnn-purify": "src/browser.ts", worker: "src/parallel/webWorker.ts" }, outdir: "dist/bundle/browser", platform: "browser", plugins: [noInline] });
copyBinaries("dist/bundle/browser");

// The demo page: static files in dist/demo, the worker fetching the .wasm beside it.
await build({ ...common, entryPoints: { main: "demo/main.ts", worker: "demo/worker.ts", files: "demo/files.ts", filesWorker: "demo/filesWorker.ts" }, outdir: "dist/demo", platform: "browser", plugins: [noInline] });
copyFileSync(join(root, "demo/index.html"), join(root, "dist/demo/index.html"));
copyFileSync(join(root, "demo/files.html"), join(root, "dist/demo/files.html"));
copyBinaries("dist/demo");

for (const file of ["edge/cnn-purify.js", "workerd/cnn-purify.js", "workerd/worker.js", "vercel/cnn-purify.js"]) {
  const text = readFileSync(join(root, "dist/bundle", file), "utf8");
  // Module specifiers only: protobufjs's messages ("node: array expected") are not imports.
  for (const banned of [/\bfrom\s*["']node:/, /\bimport\s*\(\s*["']node:/, /\brequire\s*\(/]) {
    if (banned.test(text)) throw new Error(`${file} matches ${banned}: it must run without Node APIs`);
  }
}
console.log("bundles: dist/bundle/{edge,workerd,vercel}/cnn-purify.js, dist/bundle/workerd/worker.js, dist/bundle/browser/{cnn-purify,worker}.js + .wasm, dist/demo/");
