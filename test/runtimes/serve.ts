// Starting a real runtime on 127.0.0.1 for a test and stopping it, on failure too.
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { createServer } from "node:net";

/** A port free on 127.0.0.1 at the time of asking. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Served {
  url: string;
  /** Everything the process printed, for failure messages. */
  log: () => string;
  stop: () => Promise<void>;
}

/**
 * Runs `command args` and waits (at most `timeoutMs`) until `url` answers any HTTP request.
 * The process is killed by stop(), and by the time limit if it never answers.
 */
export async function serve(command: string, args: string[], url: string, o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Served> {
  const child: ChildProcess = spawn(command, args, { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => { out += d; });
  child.stderr!.on("data", (d) => { out += d; });
  let exited = false;
  child.once("exit", () => { exited = true; });
  const stop = () => new Promise<void>((resolve) => {
    if (exited) return resolve();
    const hard = setTimeout(() => child.kill("SIGKILL"), 3000);
    child.once("exit", () => { clearTimeout(hard); resolve(); });
    child.kill("SIGTERM");
  });
  const deadline = Date.now() + (o.timeoutMs ?? 30_000);
  for (;;) {
    if (exited) throw new Error(`${command} exited before answering:\n${out}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return { url, log: () => out, stop };
    } catch {
      if (Date.now() > deadline) { await stop(); throw new Error(`${command} did not answer ${url} in time:\n${out}`); }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
