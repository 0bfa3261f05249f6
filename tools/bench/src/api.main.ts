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
  // --cases takes a list, which the shared parser (integers only) does not: taken out first.
  const at = argv.findIndex((a) => a === '--cases' || a.startsWith('--cases='));
  let cases: Set<ApiCase> | undefined;
  if (at >= 0) {
    const list = argv[at].includes('=') ? argv[at].slice('--cases='.length) : argv[at + 1];
    const names = (list ?? '').split(',').filter(Boolean);
    const unknown = names.filter((n) => !(API_CASES as readonly string[]).includes(n));
    if (!names.length || unknown.length) throw new Error(`--cases takes a comma-separated list of ${API_CASES.join(', ')}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}\n${USAGE}`);
    cases = new Set(names as ApiCase[]);
    argv = argv.filter((_, i) => i !== at && (argv[at].includes('=') || i !== at + 1));
  }
  return { ...parseOptions(argv, { '--concurrency': 'concurrency', '--conversations': 'conversations', '--connections': 'connections', '--hold-seconds': 'holdSeconds' }, USAGE), cases };
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
