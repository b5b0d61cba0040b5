// Shared test fixtures: seeded random arrays, relative-error measures, the CLI run in process.
import { main } from "../src/cli/run.js";
import { Rng } from "../src/random.js";

export function randn(n: number, seed: number, std = 1): Float64Array {
  return new Rng(seed).normals(n, std);
}

/** max |a - b| / max(max |b|, tiny). */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return num / Math.max(den, 1e-300);
}

/** Runs `cnn-purify ARGS` in this process: exit code, stdout lines and stderr text. */
export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => { err += s; return true; }) as typeof process.stderr.write;
  try {
    return { code: await main(args, (s) => { out += s + "\n"; }), out, err };
  } finally {
    process.stderr.write = write;
  }
}
