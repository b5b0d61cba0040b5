# workerd serving the workerd build: the worker, the bundle, and each binary as a wasm module, all
# from dist/bundle/workerd/ and nothing else. The test overrides the socket address
# (--socket-addr http=127.0.0.1:PORT).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .purifyWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const purifyWorker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "cnn-purify.js", esModule = embed "../../dist/bundle/workerd/cnn-purify.js"),
    (name = "cnn-purify-simd.wasm", wasm = embed "../../dist/bundle/workerd/cnn-purify-simd.wasm"),
    (name = "cnn-purify-scalar.wasm", wasm = embed "../../dist/bundle/workerd/cnn-purify-scalar.wasm"),
  ],
  compatibilityDate = "2026-11-01",
);
