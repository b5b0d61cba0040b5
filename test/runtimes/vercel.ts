// How Vercel runs an edge function, reproduced for edge-runtime (Vercel's own local runtime): the
// bundler makes one script with the handler on "fetch", and each "./x.wasm?module" import becomes
// a compiled module the platform binds into the context (compiled outside it: the context itself
// may not compile WebAssembly from bytes).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = fileURLToPath(new URL("../..", import.meta.url));

/** The edge build (root: the package folder; bundled callers pass it) ("edge": binaries inlined) or the Vercel build as one edge-function script. */
export async function edgeScript(entry: "edge" | "vercel", root = here): Promise<string> {
  const lib = join(root, `dist/bundle/${entry}/cnn-purify.js`);
  const r = await build({
    stdin: {
      contents: `import { createPurifyHandler, RUNTIME_LIMITS } from ${JSON.stringify(lib)};
        const purify = createPurifyHandler(RUNTIME_LIMITS.vercel);
        addEventListener("fetch", (event) => event.respondWith(purify(event.request)));`,
      resolveDir: root, loader: "js",
    },
    bundle: true, format: "iife", write: false, logLevel: "silent", platform: "neutral", external: ["highs"],
    plugins: [{
      name: "vercel-wasm-bindings",
      setup(b) {
        b.onResolve({ filter: /\.wasm\?module$/ }, (a) => ({ path: a.path.replace(/^.*\/|\?module$/g, ""), namespace: "wasm-binding" }));
        b.onLoad({ filter: /.*/, namespace: "wasm-binding" }, (a) => ({ contents: `export default globalThis[${JSON.stringify("wasm:" + a.path)}];`, loader: "js" }));
      },
    }],
  });
  return r.outputFiles[0].text;
}

/** The compiled binaries of the Vercel build, as the globals edgeScript("vercel") reads. */
export function vercelBindings(root = here): Record<string, WebAssembly.Module> {
  return Object.fromEntries(["cnn-purify-simd.wasm", "cnn-purify-scalar.wasm"].map((f) =>
    ["wasm:" + f, new WebAssembly.Module(readFileSync(join(root, "dist/bundle/vercel", f)))]));
}
