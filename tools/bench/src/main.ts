/**
 * On-demand benchmark of the data layer (not a test): repository vs raw pg, measured side by side in one run
 * on one database. See tools/bench/README.md.
 *
 *   npx tsx tools/bench/src/main.ts [--only messages|vectors] [--rows 20000] [--queries 100] [--quick]
 *
 * The workspace has no root tsconfig.json, so tsx would compile the NestJS parameter decorators of the data
 * layer without `experimentalDecorators`. This launcher therefore re-runs itself with tsx pointed at
 * tools/bench/tsconfig.json (TSX_TSCONFIG_PATH, read by tsx's loader at start-up) and only then loads run.ts.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const tsconfig = path.resolve(__dirname, '..', 'tsconfig.json');

if (process.env.TSX_TSCONFIG_PATH) {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  (require('./run') as typeof import('./run')).main().then(
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
