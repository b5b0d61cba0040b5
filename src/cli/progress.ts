// A progress bar on stderr: redrawn in place on a terminal, a line every 10% otherwise (CI logs).
export class ProgressBar {
  private lastPct = -1;
  private readonly tty: boolean;
  private readonly t0 = performance.now();

  constructor(private readonly label: string, private readonly enabled = true) {
    this.tty = Boolean(process.stderr.isTTY);
  }

  update(done: number, total: number, note = ""): void {
    if (!this.enabled) return;
    const pct = Math.floor((100 * done) / Math.max(total, 1));
    const secs = ((performance.now() - this.t0) / 1000).toFixed(1);
    if (this.tty) {
      const width = 30, fill = Math.round((width * done) / Math.max(total, 1));
      process.stderr.write(`\r${this.label} [${"#".repeat(fill)}${"-".repeat(width - fill)}] ${done}/${total} ${secs}s ${note}   `);
      if (done >= total) process.stderr.write("\n");
    } else if (Math.floor(pct / 10) !== Math.floor(this.lastPct / 10) || done >= total) {
      process.stderr.write(`${this.label}: ${done}/${total} (${pct}%) ${secs}s ${note}\n`);
    }
    this.lastPct = pct;
  }
}
