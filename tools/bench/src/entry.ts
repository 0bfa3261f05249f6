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

/** An option taking names from a fixed set (`--cases append,page`): at most `max` of them (default any number). */
export interface ListOption<L extends string> {
  key: L;
  values: readonly string[];
  max?: number;
}

/**
 * `--quick` plus the entry's integer options (`--name 5` or `--name=5`) and list options (`--name a,b`), `--help`
 * printing `usage`; anything else is a usage error. `flags` and `lists` map each option to its key in the result.
 */
export function parseOptions<K extends string, L extends string = never>(
  argv: string[],
  flags: Record<string, K>,
  usage: string,
  lists: Record<string, ListOption<L>> = {},
): { quick: boolean } & Partial<Record<K, number>> & Partial<Record<L, string[]>> {
  const args = { quick: false } as { quick: boolean } & Partial<Record<K, number>> & Partial<Record<L, string[]>>;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    if (flag === '--quick') args.quick = true;
    else if (flag in flags) (args as Record<K, number>)[flags[flag]] = intOption(flag, inline ?? argv[++i]);
    else if (flag in lists) (args as Record<L, string[]>)[lists[flag].key] = listOption(flag, inline ?? argv[++i], lists[flag], usage);
    else if (flag === '--help' || flag === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  return args;
}

function listOption<L extends string>(flag: string, value: string | undefined, option: ListOption<L>, usage: string): string[] {
  const names = (value ?? '').split(',').filter(Boolean);
  const unknown = names.filter((n) => !option.values.includes(n));
  const max = option.max ?? Infinity;
  if (!names.length || unknown.length || names.length > max) {
    const what = max === 1 ? `one of ${option.values.join(', ')}` : `a comma-separated list of ${option.values.join(', ')}`;
    throw new Error(`${flag} takes ${what}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}\n${usage}`);
  }
  return names;
}
