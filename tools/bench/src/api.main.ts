/**
 * On-demand benchmark of the HTTP API (not a test): the API as child processes vs raw pg, side by side in one run
 * on the bench database. See tools/bench/src/api.ts for what is measured.
 *
 *   npx tsx tools/bench/src/api.main.ts [--quick] [--cases append,bare,page,orgs,rls,hold] [--concurrency 16] [--conversations 8] [--connections 1000] [--hold-seconds 30]
 *
 * Like main.ts, it re-runs itself with tsx pointed at tools/bench/tsconfig.json (decorator support for the data
 * layer it imports); the API processes themselves run under @swc-node/register, as `nx run api:serve` does.
 */
import { parseOptions, runUnderBenchTsconfig } from './entry';
import { API_CASES, type ApiCase } from './api-cases';


const USAGE = 'usage: tsx tools/bench/src/api.main.ts [--quick] [--cases append,bare,page,orgs,rls,hold] [--concurrency 16] [--conversations 8] [--connections 1000] [--hold-seconds 30]';

function parseArgs(argv: string[]) {
  const args = parseOptions(
    argv,
    { '--concurrency': 'concurrency', '--conversations': 'conversations', '--connections': 'connections', '--hold-seconds': 'holdSeconds' },
    USAGE,
    { '--cases': { key: 'cases', values: API_CASES } },
  );
  return { ...args, cases: args.cases && new Set(args.cases as ApiCase[]) };
}

export async function main(): Promise<void> {
  const { runApiBench, apiBenchReport } = await import('./api');
  const { DEFAULT_URL, workspaceRoot } = await import('./db');
  const { log, writeJson } = await import('./report');
  const args = parseArgs(process.argv.slice(2));
  const root = workspaceRoot(__dirname);
  const timing = args.quick ? { rounds: 3, sliceMs: 1500, warmupMs: 1000 } : { rounds: 6, sliceMs: 3000, warmupMs: 2000 };
  log(`api bench: ${args.quick ? 'quick' : 'full'} run`);
  const result = await runApiBench({
    url: process.env.BENCH_DATABASE_URL?.trim() || DEFAULT_URL,
    root,
    poolSize: Number(process.env.DATABASE_POOL_SIZE || 10),
    concurrency: args.concurrency ?? 16,
    conversations: args.conversations ?? 8,
    holdConnections: args.connections ?? 1000,
    holdSeconds: args.holdSeconds ?? 30,
    cases: args.cases,
    ...timing,
  });
  console.log(apiBenchReport(result));
  const file = writeJson(root, { startedAt: new Date().toISOString(), args, ...result }, 'api');
  log(`results written to ${file}`);
}

if (require.main === module) runUnderBenchTsconfig(__filename, main);
