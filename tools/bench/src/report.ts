import fs from 'node:fs';
import path from 'node:path';

const started = performance.now();

/** Progress line on stderr-free stdout, prefixed with seconds since start. */
export function log(message: string): void {
  const t = ((performance.now() - started) / 1000).toFixed(1).padStart(6);
  process.stdout.write(`[${t}s] ${message}\n`);
}

/** One compared case: baseline and subject in the same unit (higher is better), ratio = subject / baseline. */
export interface Comparison {
  section: 'messages' | 'vectors' | 'diagnostics';
  case: string;
  unit: string;
  baseline: number;
  subject: number;
  /** median of the per-round subject/baseline ratios */
  ratio: number;
  goal: number;
  met: boolean;
  /** per-round subject/baseline ratios, to show spread */
  roundRatios: number[];
  details?: Record<string, unknown>;
}

export interface RecallRow {
  case: string;
  queries: number;
  annMsPerQuery: number;
  exactMsPerQuery: number;
  speedup: number;
  recallAt10: number;
  minRecall: number;
  goal: number;
  met: boolean;
}

export function fmtNum(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  if (n >= 1000) return Math.round(n).toLocaleString('en-US');
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(headers), sep, ...rows.map(line)].join('\n');
}

export function comparisonTable(rows: Comparison[]): string {
  return table(
    ['case', 'baseline (raw pg)', 'subject (repository / Prisma)', 'ratio', 'goal', 'met?'],
    rows.map((r) => {
      const spread = r.roundRatios.length
        ? ` [${Math.min(...r.roundRatios).toFixed(2)}–${Math.max(...r.roundRatios).toFixed(2)}]`
        : '';
      return [
        r.case,
        `${fmtNum(r.baseline)} ${r.unit}`,
        `${fmtNum(r.subject)} ${r.unit}`,
        `${r.ratio.toFixed(2)}×${spread}`,
        Number.isNaN(r.goal) ? '—' : `≥ ${r.goal.toFixed(2)}×`,
        Number.isNaN(r.goal) ? '—' : r.met ? 'yes' : 'NO',
      ];
    }),
  );
}

export function recallTable(rows: RecallRow[]): string {
  return table(
    ['case', 'queries', 'exact ms/q', 'HNSW ms/q', 'speed-up', 'recall@10 (min)', 'goal', 'met?'],
    rows.map((r) => [
      r.case,
      String(r.queries),
      r.exactMsPerQuery.toFixed(2),
      r.annMsPerQuery.toFixed(2),
      `${r.speedup.toFixed(1)}×`,
      `${r.recallAt10.toFixed(3)} (${r.minRecall.toFixed(1)})`,
      `≥ ${r.goal.toFixed(2)}`,
      r.met ? 'yes' : 'NO',
    ]),
  );
}

export function writeJson(root: string, data: unknown, name = 'results'): string {
  const dir = path.join(root, 'tmp', 'bench');
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = path.join(dir, `${name}-${stamp}.json`);
  fs.writeFileSync(file, JSON.stringify(data, null, 2));
  return file;
}
