// esbuild bundles beside tsc's dist/: dist/bundle/edge/cnn-purify.js (one file, .wasm inlined, no node:
// imports) and dist/bundle/browser/ (ESM bundle + Web Worker script, .wasm files fetched by URL).
import { build } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const common = { bundle: true, format: "esm", target: "es2022", logLevel: "warning", external: ["highs"], absWorkingDir: root };

await build({ ...common, entryPoints: ["src/edge.ts"], outfile: "dist/bundle/edge/cnn-purify.js", platform: "neutral", mainFields: ["module", "main"] });

// The browser bundle fetches the binaries, so the inlined copies are swapped for empty strings.
const noInline = {
  name: "no-inline-wasm",
  setup(b) {
    b.onResolve({ filter: /generated\/wasmBinaries\.js$/ }, () => ({ path: "wasmBinaries", namespace: "no-inline" }));
    b.onLoad({ filter: /.*/, namespace: "no-inline" }, () => ({ contents: 'export const simdWasmBase64 = ""; export const scalarWasmBase64 = "";', loader: "js" }));
  },
};
await build({ ...common, entryPoints: { "cnn-purify": "src/browser.ts", worker: "src/parallel/webWorker.ts" }, outdir: "dist/bundle/browser", platform: "browser", plugins: [noInline] });
mkdirSync(join(root, "dist/bundle/browser"), { recursive: true });
copyFileSync(join(root, "build/simd.wasm"), join(root, "dist/bundle/browser/cnn-purify-simd.wasm"));
copyFileSync(join(root, "build/scalar.wasm"), join(root, "dist/bundle/browser/cnn-purify-scalar.wasm"));

// The demo page: static files in dist/demo, the worker fetching the .wasm beside it.
await build({ ...common, entryPoints: { main: "demo/main.ts", worker: "demo/worker.ts" }, outdir: "dist/demo", platform: "browser", plugins: [noInline] });
copyFileSync(join(root, "demo/index.html"), join(root, "dist/demo/index.html"));
copyFileSync(join(root, "build/simd.wasm"), join(root, "dist/demo/cnn-purify-simd.wasm"));
copyFileSync(join(root, "build/scalar.wasm"), join(root, "dist/demo/cnn-purify-scalar.wasm"));

const edge = readFileSync(join(root, "dist/bundle/edge/cnn-purify.js"), "utf8");
for (const banned of ['"node:', "'node:", "require("]) {
  if (edge.includes(banned)) throw new Error(`edge bundle contains ${banned}: it must run without Node APIs`);
}
console.log("bundles: dist/bundle/edge/cnn-purify.js, dist/bundle/browser/{cnn-purify,worker}.js + .wasm, dist/demo/");
