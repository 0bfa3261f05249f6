/**
 * Standalone entry of the import benchmark (see import.ts):
 *
 *   npx tsx tools/bench/src/import.main.ts [--quick] [--conversations 2000] [--turns 100] [--rounds 2] [--batch-size 5000]
 *
 * --quick: a smoke run of 200 conversations (20,000 messages instead of 200,000); explicit sizes still win.
 *
 * Database: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/agenthub_bench), which the bench owns:
 * it is migrated and its organizations truncated first. Whatever starts it (tsx, node), it re-runs itself under
 * @swc-node/register with the worker's tsconfig: the importer it measures lives in apps/worker, which
 * tools/bench/tsconfig.json does not include, and tsx (esbuild) would compile its parameter decorators without
 * experimentalDecorators.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseOptions } from './entry';

const USAGE = 'usage: tsx tools/bench/src/import.main.ts [--quick] [--conversations 2000] [--turns 100] [--rounds 2] [--batch-size 5000]';

function parseArgs(argv: string[]) {
  return parseOptions(argv, { '--conversations': 'conversations', '--turns': 'turns', '--rounds': 'rounds', '--batch-size': 'batchSize' }, USAGE);
}

async function main(): Promise<void> {
  const { DEFAULT_URL, prepareDatabase, rawPool, truncateAll } = await import('./db');
  const { runImportBench } = await import('./import');
  const { log } = await import('./report');
  const args = parseArgs(process.argv.slice(2));
  log(`import bench: ${args.quick ? 'quick' : 'full'} run`);
  const url = process.env.BENCH_DATABASE_URL?.trim() || DEFAULT_URL;
  await prepareDatabase(url);
  const pool = rawPool(url, 1);
  await truncateAll(pool);
  await pool.end();
  const result = await runImportBench({
    url,
    conversations: args.conversations ?? (args.quick ? 200 : 2000),
    turnsPerConversation: args.turns ?? 100,
    rounds: args.rounds ?? 2,
    batchSize: args.batchSize ?? 5000,
  });
  log(
    `import: ${result.messages} messages — \\copy ${result.copyRowsPerSec.toFixed(0)} rows/s, importer ${result.importRowsPerSec.toFixed(0)} rows/s, ` +
      `ratio ${result.ratio.toFixed(2)} (goal ≥ ${result.goal}) ${result.met ? 'met' : 'NOT met'}`,
  );
  console.log(JSON.stringify(result, null, 2));
}

if (process.env.AGENTHUB_IMPORT_BENCH_CHILD) {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
} else {
  const root = path.resolve(__dirname, '..', '..', '..');
  const child = spawnSync(process.execPath, ['-r', '@swc-node/register', __filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    cwd: root,
    env: { ...process.env, AGENTHUB_IMPORT_BENCH_CHILD: '1', SWC_NODE_PROJECT: path.join(root, 'apps/worker/tsconfig.json') },
  });
  if (child.error) throw child.error;
  process.exit(child.status ?? 1);
}
