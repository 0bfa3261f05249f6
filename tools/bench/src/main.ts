/**
 * On-demand benchmarks (not tests): each measures AgentHub against a raw baseline side by side in one run on one
 * database. See tools/bench/README.md.
 *
 *   npx tsx tools/bench/src/main.ts [--only messages|vectors] [--rows 20000] [--queries 100] [--quick]
 *   npx tsx tools/bench/src/main.ts --only api|api-data|scale|backup|import|langgraph [that suite's options]
 *
 * The other suites have entries of their own (api.main.ts, api-data.main.ts, scale.main.ts, backup-restore.main.ts,
 * import.main.ts, langgraph.main.ts: they start API processes or load the worker's code); --only hands over to them.
 *
 * The workspace has no root tsconfig.json, so tsx would compile the NestJS parameter decorators of the data
 * layer without `experimentalDecorators`. This launcher therefore re-runs itself with tsx pointed at
 * tools/bench/tsconfig.json (TSX_TSCONFIG_PATH, read by tsx's loader at start-up) and only then loads run.ts.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { runUnderBenchTsconfig } from './entry';

const SUITES: Record<string, string> = {
  api: 'api.main.ts',
  'api-data': 'api-data.main.ts',
  scale: 'scale.main.ts',
  backup: 'backup-restore.main.ts',
  import: 'import.main.ts',
  langgraph: 'langgraph.main.ts',
};
const only = process.argv.indexOf('--only');
const suite = only >= 0 ? SUITES[process.argv[only + 1]] : undefined;

if (suite) {
  const rest = process.argv.slice(2).filter((_, i) => i !== only - 2 && i !== only - 1);
  const child = spawnSync(process.execPath, [...process.execArgv, path.join(__dirname, suite), ...rest], { stdio: 'inherit' });
  if (child.error) throw child.error;
  process.exit(child.status ?? 1);
} else {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  runUnderBenchTsconfig(__filename, () => (require('./run') as typeof import('./run')).main());
}
