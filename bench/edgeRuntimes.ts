// `npm run bench:edge`: the purify handler in each real runtime, on 127.0.0.1, against the same
// handler in Node, one run: median wall time of a request (3 timed after 1 warm-up) and WebAssembly
// memory, for the README's per-runtime limits table. Writes bench/results/edge.json and
// docs/bench/edge.md; `--json` prints the summary as one line on stdout.
import { join } from "node:path";
import { EdgeRuntime, runServer } from "edge-runtime";
import { writeFileAtomic } from "../src/cli/files.js";
import { createPurifyHandler } from "../src/edge/handler.js";
import { runSynthetic } from "../src/experiments/synthetic.js";
import { LARGEST_SAMPLES, largestRequest } from "../test/runtimes/requests.js";
import type { Served } from "../test/runtimes/serve.js";
import { freePort, serve } from "../test/runtimes/serve.js";
import { edgeScript, vercelBindings } from "../test/runtimes/vercel.js";

const args = process.argv.slice(2);
for (const a of args) if (a !== "--json") { process.stderr.write(`bench:edge: unknown option "${a}" (known: --json)\n`); process.exit(2); }
const root = process.cwd(); // npm runs scripts from the package folder
const log = (s: string) => process.stderr.write(s + "\n");

const run = await runSynthetic({ seed: 1 });
const problems = [
  {
    label: "synthetic default: patch span, K 8, p 256, n k 32",
    body: JSON.stringify({
      shape: run.shape, init: Array.from(run.init), contaminated: Array.from(run.contaminated, (v) => (Number.isFinite(v) ? v : null)),
      data: { samples: run.data.samples, patches: run.data.patches, patchDim: run.data.patchDim, values: Array.from(run.data.values) },
      options: { trainedReadout: false },
    }),
  },
  { label: `largest promised: linearized, P 6,720, n ${LARGEST_SAMPLES} (n O = ${LARGEST_SAMPLES * 10})`, body: largestRequest(LARGEST_SAMPLES).body },
];

interface Row { runtime: string; problem: string; seconds: number; wasmBytes: number; bodyBytes: number; binary: string }
const rows: Row[] = [];

async function time(runtime: string, send: (body: string) => Promise<Response>): Promise<void> {
  for (const p of problems) {
    const samples: number[] = [];
    let memory = { wasmBytes: 0, binary: "" };
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      const res = await send(p.body);
      const out = await res.json();
      if (res.status !== 200) throw new Error(`${runtime}: ${res.status} ${JSON.stringify(out).slice(0, 200)}`);
      if (i > 0) samples.push((performance.now() - t0) / 1000);
      memory = out.memory;
    }
    samples.sort((a, b) => a - b);
    rows.push({ runtime, problem: p.label, seconds: samples[1], wasmBytes: memory.wasmBytes, bodyBytes: p.body.length, binary: memory.binary });
    log(`${runtime}: ${p.label}: ${samples[1].toFixed(3)} s`);
  }
}
const post = (url: string) => (body: string) => fetch(url, { method: "POST", body, headers: { "content-type": "application/json" } });

const node = createPurifyHandler();
await time("node (in process)", (body) => node(new Request("http://node/", { method: "POST", body, headers: { "content-type": "application/json" } })));

const stops: Array<() => Promise<void>> = [];
try {
  const port = await freePort();
  const workerd: Served = await serve(join(root, "node_modules/.bin/workerd"), ["serve", "test/runtimes/workerd.capnp", `--socket-addr=bundle=127.0.0.1:${port}`, `--socket-addr=worker=127.0.0.1:${await freePort()}`], `http://127.0.0.1:${port}/`, { cwd: root });
  stops.push(workerd.stop);
  await time("workerd", post(workerd.url));

  const dport = await freePort();
  const deno = await serve(join(root, "node_modules/.bin/deno"), ["run", "--no-config", "--allow-net=127.0.0.1", `--allow-read=${root}`, "deno-server.js", String(dport)],
    `http://127.0.0.1:${dport}/`, { cwd: join(root, "test/runtimes"), env: { DENO_DIR: join(root, "build", "deno"), DENO_NO_UPDATE_CHECK: "1" } });
  stops.push(deno.stop);
  await time("deno", post(deno.url));

  const vercel = await runServer({
    runtime: new EdgeRuntime({ initialCode: await edgeScript("vercel", root), codeGeneration: { strings: false, wasm: false }, extend: (c) => Object.assign(c, vercelBindings(root)) }),
    host: "127.0.0.1", port: 0,
  });
  stops.push(() => vercel.close());
  await time("edge-runtime (Vercel build)", post(vercel.url));
} finally {
  for (const stop of stops) await stop();
}

const nodeOf = (problem: string) => rows.find((r) => r.runtime.startsWith("node") && r.problem === problem)!.seconds;
const MiB = 1024 * 1024;
const md = ["# The purify handler in edge runtimes", "",
  "`npm run bench:edge`, one run on this machine: median of 3 requests after a warm-up, wall time seen by the client on 127.0.0.1.", "",
  "| runtime | problem | seconds | vs Node | WebAssembly MiB | body MiB | binary |", "|---|---|---|---|---|---|---|",
  ...rows.map((r) => `| ${r.runtime} | ${r.problem} | ${r.seconds.toFixed(3)} | ${(r.seconds / nodeOf(r.problem)).toFixed(2)}x | ${(r.wasmBytes / MiB).toFixed(1)} | ${(r.bodyBytes / MiB).toFixed(2)} | ${r.binary} |`), ""].join("\n");
writeFileAtomic(join(root, "docs/bench/edge.md"), md);
writeFileAtomic(join(root, "bench/results/edge.json"), JSON.stringify({ date: new Date().toISOString(), rows }, null, 2) + "\n");
if (args.includes("--json")) process.stdout.write(JSON.stringify({ rows }) + "\n");
else log(md);
