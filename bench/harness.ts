// Interleaved measurement with tinybench: every round runs each contender once through tinybench
// (warm-up, several samples, median latency), contenders alternate within a round, and the
// result per contender is the median over rounds with its min-max spread. Interleaving spreads
// machine noise (the other core, thermal state) evenly over the contenders.
import { Bench } from "tinybench";

export interface Contender { name: string; fn: () => void | Promise<void> }
export interface Timing { name: string; seconds: number; min: number; max: number; rounds: number }

export async function measure(contenders: Contender[], o: { rounds: number; timeMs: number; iterations?: number }): Promise<Timing[]> {
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < o.rounds; round++) {
    const order = round % 2 === 0 ? contenders : [...contenders].reverse();
    for (const c of order) {
      const bench = new Bench({ time: o.timeMs, iterations: o.iterations ?? 3, warmupTime: round === 0 ? 50 : 5, warmupIterations: round === 0 ? 3 : 1, throws: true });
      bench.add(c.name, c.fn);
      await bench.run();
      const r = bench.tasks[0].result as { latency?: { p50: number } };
      samples.get(c.name)!.push(r.latency!.p50 / 1000);
    }
  }
  return contenders.map((c) => {
    const s = samples.get(c.name)!.sort((a, b) => a - b);
    return { name: c.name, seconds: s[s.length >> 1], min: s[0], max: s[s.length - 1], rounds: s.length };
  });
}

/** Least-squares slope of log y against log x: the scaling exponent. */
export function logLogSlope(points: Array<[number, number]>): number {
  const xs = points.map((p) => Math.log(p[0])), ys = points.map((p) => Math.log(p[1]));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length, my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let sxy = 0, sxx = 0;
  for (let i = 0; i < xs.length; i++) { sxy += (xs[i] - mx) * (ys[i] - my); sxx += (xs[i] - mx) ** 2; }
  return sxy / sxx;
}
