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
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const tsconfig = path.resolve(__dirname, '..', 'tsconfig.json');

function parseArgs(argv: string[]) {
  const args: { messages?: number; memories?: number; chunks?: number; rounds?: number; level?: number; reuse: boolean } = { reuse: false };
  const int = (flag: string, v: string | undefined, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} must be an integer in [${min}, ${max}], got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    if (flag === '--messages') args.messages = int(flag, value(), 1);
    else if (flag === '--memories') args.memories = int(flag, value(), 0);
    else if (flag === '--chunks') args.chunks = int(flag, value(), 0);
    else if (flag === '--rounds') args.rounds = int(flag, value(), 1);
    else if (flag === '--level') args.level = int(flag, value(), 0, 9);
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
  const { DEFAULT_URL } = await import('./db');
  const { log } = await import('./report');
  const { workspaceRoot } = await import('./db');
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
  const dir = path.join(root, 'tmp', 'bench');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `backup-restore-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, JSON.stringify({ startedAt: new Date().toISOString(), args, ...result }, null, 2));
  log(`results written to ${file}`);
}

if (require.main === module) {
  if (process.env.TSX_TSCONFIG_PATH) {
    main().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  } else {
    const child = spawnSync(process.execPath, [...process.execArgv, __filename, ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, TSX_TSCONFIG_PATH: tsconfig },
    });
    if (child.error) throw child.error;
    process.exit(child.status ?? 1);
  }
}
