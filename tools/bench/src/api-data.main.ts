/**
 * On-demand benchmark of the memory, search and payment routes of the HTTP API (not a test): the API as a child
 * process vs raw pg, side by side in one run. See tools/bench/src/api-data.ts for what is measured.
 *
 *   npx tsx tools/bench/src/api-data.main.ts [--quick] [--rows 20000] [--queries 50] [--concurrency 8]
 *     [--batch-size 1000] [--batches 2] [--large-batches 4]
 *
 * Database: BENCH_DATA_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/agenthub_bench_data — its own,
 * because the bench empties it (and the other benches empty theirs). Like main.ts, it re-runs itself with tsx
 * pointed at tools/bench/tsconfig.json (decorator support for the data layer it imports).
 */
import { parseOptions, runUnderBenchTsconfig } from './entry';

export const DEFAULT_DATA_URL = 'postgresql://postgres@127.0.0.1:5432/agenthub_bench_data';

function parseArgs(argv: string[]) {
  return parseOptions(
    argv,
    { '--rows': 'rows', '--queries': 'queries', '--concurrency': 'concurrency', '--batch-size': 'batchSize', '--batches': 'batches', '--large-batches': 'largeBatches' },
    'usage: tsx tools/bench/src/api-data.main.ts [--quick] [--rows 20000] [--queries 50] [--concurrency 8] [--batch-size 1000] [--batches 2] [--large-batches 4]',
  );
}

export async function main(): Promise<void> {
  const { runApiDataBench, apiDataBenchReport } = await import('./api-data');
  const { log, writeJson } = await import('./report');
  const { workspaceRoot } = await import('./db');
  const args = parseArgs(process.argv.slice(2));
  const root = workspaceRoot(__dirname);
  const timing = args.quick ? { rounds: 3, sliceMs: 1500, warmupMs: 1000 } : { rounds: 6, sliceMs: 3000, warmupMs: 2000 };
  log(`api data bench: ${args.quick ? 'quick' : 'full'} run`);
  const result = await runApiDataBench({
    url: process.env.BENCH_DATA_DATABASE_URL?.trim() || DEFAULT_DATA_URL,
    root,
    poolSize: Number(process.env.DATABASE_POOL_SIZE || 10),
    rows: args.rows ?? (args.quick ? 20_000 : 50_000),
    queries: args.queries ?? (args.quick ? 20 : 50),
    concurrency: args.concurrency ?? 8,
    batchSize: args.batchSize ?? 1000,
    batches: args.batches ?? (args.quick ? 1 : 2),
    largeBatches: args.largeBatches ?? (args.quick ? 2 : 4),
    ...timing,
  });
  console.log(apiDataBenchReport(result));
  const file = writeJson(root, { startedAt: new Date().toISOString(), args, ...result }, 'api-data');
  log(`results written to ${file}`);
}

if (require.main === module) runUnderBenchTsconfig(__filename, main);
