# workerd serving the workerd build two ways, on two sockets (the test sets their addresses with
# --socket-addr NAME=127.0.0.1:PORT):
# - "bundle": the build's own files and nothing else: its Worker entry (worker.js) as the main
#   module, the library it imports, and each binary as a wasm module;
# - "worker": the README's Worker (worker.js) importing the build, as a user deploys it.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "bundle", worker = .bundleOnly),
    (name = "worker", worker = .userWorker),
  ],
  sockets = [
    (name = "bundle", address = "127.0.0.1:8787", http = (), service = "bundle"),
    (name = "worker", address = "127.0.0.1:8788", http = (), service = "worker"),
  ],
);

const bundleOnly :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "../../dist/bundle/workerd/worker.js"),
    (name = "cnn-purify.js", esModule = embed "../../dist/bundle/workerd/cnn-purify.js"),
    (name = "cnn-purify-relaxed.wasm", wasm = embed "../../dist/bundle/workerd/cnn-purify-relaxed.wasm"),
    (name = "cnn-purify-simd.wasm", wasm = embed "../../dist/bundle/workerd/cnn-purify-simd.wasm"),
    (name = "cnn-purify-scalar.wasm", wasm = embed "../../dist/bundle/workerd/cnn-purify-scalar.wasm"),
  ],
  compatibilityDate = "2026-11-01",
);

const userWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "cnn-purify.js", esModule = embed "../../dist/bundle/workerd/cnn-purify.js"),
    (name = "cnn-purify-relaxed.wasm", wasm = embed "../../dist/bundle/workerd/cnn-purify-relaxed.wasm"),
    (name = "cnn-purify-simd.wasm", wasm = embed "../../dist/bundle/workerd/cnn-purify-simd.wasm"),
    (name = "cnn-purify-scalar.wasm", wasm = embed "../../dist/bundle/workerd/cnn-purify-scalar.wasm"),
  ],
  compatibilityDate = "2026-11-01",
);
