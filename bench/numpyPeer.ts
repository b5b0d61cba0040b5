// The native peer (bench/peers/admm_numpy.py: the same ADMM and polish in numpy + scipy over
// OpenBLAS) run on the same patch-span problems as ours, when python3 with numpy and scipy is here.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeNpy, encodeNpy } from "../src/io/npy.js";

/** The peer script: beside this file in bench/, or two levels up from the bundled build/bench/. */
const SCRIPT = ["./peers/admm_numpy.py", "../../bench/peers/admm_numpy.py"].map((p) => new URL(p, import.meta.url).pathname).find((p) => existsSync(p))
  ?? "bench/peers/admm_numpy.py";

/** The first of $PYTHON, python3 on the PATH and Debian's /usr/bin/python3 that imports numpy and scipy. */
function findPython(): { python: string | null; why: string } {
  const tried: string[] = [];
  for (const python of [process.env.PYTHON, "python3", "/usr/bin/python3"].filter((p): p is string => !!p)) {
    const r = spawnSync(python, ["-c", "import numpy, scipy"], { encoding: "utf8" });
    if (!r.error && r.status === 0) return { python, why: "" };
    tried.push(`${python}: ${r.error ? "not found" : r.stderr.trim().split("\n").pop()}`);
  }
  return { python: null, why: tried.join("; ") };
}
let found: ReturnType<typeof findPython> | null = null;
const python = () => (found ??= findPython());

/** Why the peer cannot run here (null: it can): a python3 that imports numpy and scipy. */
export function numpyPeerMissing(): string | null {
  const f = python();
  return f.python ? null : `no python3 with numpy and scipy (${f.why})`;
}

export interface PeerRun { seconds: number; times: number[]; iterations: number; dtype: string; threads: string; numpy: string; u: Float64Array }

/**
 * Solves B problems sharing A^T = xa (m x N): r is B x N. threads: OpenBLAS's thread count;
 * dtype float32: ADMM in f32, polish in f64. Times the solve only (median of `rounds`), not Python.
 */
export function runNumpyPeer(xa: Float64Array, m: number, N: number, r: Float64Array, B: number, o: { threads: number; dtype: "float64" | "float32"; rounds: number; script?: string }): PeerRun {
  const dir = mkdtempSync(join(tmpdir(), "cnnp-peer-"));
  try {
    writeFileSync(join(dir, "xa.npy"), encodeNpy(xa, [m, N]));
    writeFileSync(join(dir, "r.npy"), encodeNpy(r, [B, N]));
    const env = { ...process.env, OPENBLAS_NUM_THREADS: String(o.threads), OMP_NUM_THREADS: String(o.threads) };
    const interpreter = python().python;
    if (!interpreter) throw new Error(numpyPeerMissing()!);
    const res = spawnSync(interpreter, [o.script ?? SCRIPT, dir, "--dtype", o.dtype, "--rounds", String(o.rounds)], { encoding: "utf8", env, maxBuffer: 1 << 20 });
    if (res.status !== 0) throw new Error(`numpy peer failed: ${res.stderr || res.error?.message}`);
    const out = JSON.parse(res.stdout.trim().split("\n").pop()!);
    return { ...out, u: decodeNpy(readFileSync(join(dir, "u.npy"))).values };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
