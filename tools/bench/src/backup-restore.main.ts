/**
 * Standalone entry of the backup / restore benchmark (see backup-restore.ts):
 *
 *   npx tsx tools/bench/src/backup-restore.main.ts [--messages 200000] [--memories 2000] [--chunks 1000] [--rounds 3] [--level 6] [--reuse]
 *
 * Database: BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/agenthub_bench), which the bench owns:
 * it is migrated, emptied and seeded (--reuse keeps data of the same size from a previous run); restores go into
 * `<that database>_restore`, dropped and re-created before each restore. The worker is driven as the real
 * `agenthub` command line in child processes, timed like pg_dump / pg_restore. Like main.ts, this re-runs itself
 * with tsx pointed at tools/bench/tsconfig.json (decorator support for the data layer it imports).
 */
import { intOption, runUnderBenchTsconfig } from './entry';


function parseArgs(argv: string[]) {
  const args: { messages?: number; memories?: number; chunks?: number; rounds?: number; level?: number; reuse: boolean } = { reuse: false };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--messages') args.messages = intOption(flag, value(), 1);
    else if (flag === '--memories') args.memories = intOption(flag, value(), 0);
    else if (flag === '--chunks') args.chunks = intOption(flag, value(), 0);
    else if (flag === '--rounds') args.rounds = intOption(flag, value(), 1);
    else if (flag === '--level') args.level = intOption(flag, value(), 0, 9);
    else if (flag === '--reuse') args.reuse = true;
    else if (flag === '--help' || flag === '-h') {
      console.log('usage: tsx tools/bench/src/backup-restore.main.ts [--messages 200000] [--memories 2000] [--chunks 1000] [--rounds 3] [--level 6] [--reuse]');
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}

export async function main(): Promise<void> {
  const { runBackupRestoreBench, backupRestoreReport } = await import('./backup-restore');
  const { DEFAULT_URL, workspaceRoot } = await import('./db');
  const { log, writeJson } = await import('./report');
  const args = parseArgs(process.argv.slice(2));
  const root = workspaceRoot(__dirname);
  const result = await runBackupRestoreBench({
    url: process.env.BENCH_DATABASE_URL?.trim() || DEFAULT_URL,
    root,
    messages: args.messages,
    memories: args.memories,
    chunks: args.chunks,
    rounds: args.rounds,
    level: args.level,
    reuseData: args.reuse,
  });
  console.log(backupRestoreReport(result));
  const file = writeJson(root, { startedAt: new Date().toISOString(), args, ...result }, 'backup-restore');
  log(`results written to ${file}`);
}

if (require.main === module) runUnderBenchTsconfig(__filename, main);
