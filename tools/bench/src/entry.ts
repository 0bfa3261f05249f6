/**
 * What every benchmark entry (main.ts, api.main.ts, api-data.main.ts, backup-restore.main.ts) does before and
 * around its work. Nothing here imports the data layer, so an entry can load this before it has re-run itself.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const BENCH_TSCONFIG = path.resolve(__dirname, '..', 'tsconfig.json');

/**
 * The workspace has no root tsconfig.json, so tsx would compile the NestJS parameter decorators of the data layer
 * without `experimentalDecorators`. An entry therefore re-runs itself with tsx pointed at tools/bench/tsconfig.json
 * (TSX_TSCONFIG_PATH, read by tsx's loader at start-up) and only then calls `main`, exiting 0 or 1.
 */
export function runUnderBenchTsconfig(filename: string, main: () => Promise<void>): void {
  if (process.env.TSX_TSCONFIG_PATH) {
    main().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
    return;
  }
  const child = spawnSync(process.execPath, [...process.execArgv, filename, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, TSX_TSCONFIG_PATH: BENCH_TSCONFIG },
  });
  if (child.error) throw child.error;
  process.exit(child.status ?? 1);
}

/** An integer option within [min, max], or a usage error naming the flag. */
export function intOption(flag: string, value: string | undefined, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(min === 1 && max === Number.MAX_SAFE_INTEGER ? `${flag} must be a positive integer, got ${value}` : `${flag} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return n;
}

/**
 * `--quick` plus the entry's integer options (`--name 5` or `--name=5`), `--help` printing `usage`; anything else
 * is a usage error. `flags` maps each option to its key in the result.
 */
export function parseOptions<K extends string>(argv: string[], flags: Record<string, K>, usage: string): { quick: boolean } & Partial<Record<K, number>> {
  const args = { quick: false } as { quick: boolean } & Partial<Record<K, number>>;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    if (flag === '--quick') args.quick = true;
    else if (flag in flags) (args as Record<K, number>)[flags[flag]] = intOption(flag, inline ?? argv[++i]);
    else if (flag === '--help' || flag === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}
