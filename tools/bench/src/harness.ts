/**
 * Side-by-side timing: both sides run in alternating slices (A B, B A, A B, …) so warm caches, table growth,
 * autovacuum and CPU frequency drift hit both equally. A slice runs `concurrency` workers, each looping its
 * operation until the slice's deadline; the rate is units done / wall time of the slice.
 */
export interface Side {
  name: string;
  /** one operation of worker `w`; returns the units it did (rows, queries) */
  op(worker: number): Promise<number>;
}

export interface CompareOptions {
  rounds: number;
  sliceMs: number;
  warmupMs: number;
  concurrency: number;
  onRound?: (round: number, baselineRate: number, subjectRate: number) => void;
}

export interface SideResult {
  units: number;
  seconds: number;
  ops: number;
  rate: number;
  /** per-operation latency percentiles in ms */
  p50: number;
  p95: number;
}

export interface CompareResult {
  baseline: SideResult;
  subject: SideResult;
  /** median of the per-round ratios: each round pairs two adjacent slices, so bursts of outside load cancel */
  ratio: number;
  /** units/s over all rounds, per side */
  overallRatio: number;
  roundRatios: number[];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

async function slice(side: Side, ms: number, concurrency: number, latencies?: number[]) {
  const start = nowMs();
  const deadline = start + ms;
  let units = 0;
  let ops = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (nowMs() < deadline) {
        const t0 = nowMs();
        // Not `units += await …`: that reads `units` before the await and loses the other workers' additions.
        const done = await side.op(w);
        units += done;
        latencies?.push(nowMs() - t0);
        ops++;
      }
    }),
  );
  return { units, ops, seconds: (nowMs() - start) / 1000 };
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export async function compare(baseline: Side, subject: Side, o: CompareOptions): Promise<CompareResult> {
  // Warm-up: both sides, twice each, not counted.
  for (const side of [baseline, subject, baseline, subject]) await slice(side, o.warmupMs / 2, o.concurrency);
  const acc = new Map<Side, { units: number; seconds: number; ops: number; lat: number[] }>([
    [baseline, { units: 0, seconds: 0, ops: 0, lat: [] }],
    [subject, { units: 0, seconds: 0, ops: 0, lat: [] }],
  ]);
  const roundRatios: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const order = r % 2 === 0 ? [baseline, subject] : [subject, baseline];
    const rates = new Map<Side, number>();
    for (const side of order) {
      const a = acc.get(side)!;
      const s = await slice(side, o.sliceMs, o.concurrency, a.lat);
      a.units += s.units;
      a.seconds += s.seconds;
      a.ops += s.ops;
      rates.set(side, s.units / s.seconds);
    }
    roundRatios.push(rates.get(subject)! / rates.get(baseline)!);
    o.onRound?.(r, rates.get(baseline)!, rates.get(subject)!);
  }
  const result = (side: Side): SideResult => {
    const a = acc.get(side)!;
    const lat = a.lat.sort((x, y) => x - y);
    return { units: a.units, seconds: a.seconds, ops: a.ops, rate: a.units / a.seconds, p50: percentile(lat, 50), p95: percentile(lat, 95) };
  };
  const b = result(baseline);
  const s = result(subject);
  return { baseline: b, subject: s, ratio: median(roundRatios), overallRatio: s.rate / b.rate, roundRatios };
}
