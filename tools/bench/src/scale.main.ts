/**
 * On-demand scale-out benchmark (issue 16 item 5; not a test): a read-heavy mix (90 % reads, 10 % appends) through
 * 1 API process on the primary vs 2 API processes + PgBouncer + 1 streaming replica, side by side in one run on the
 * bench database, with replica lag and read routing observed and read-your-writes checked. See scale.ts.
 *
 *   npx tsx tools/bench/src/scale.main.ts [--quick] [--concurrency 16] [--seconds N] [--rounds R] [--conversations 8] [--probe 50]
 *
 * --seconds: measured seconds per side, split over the rounds (default 30, --quick 6); --rounds: alternating rounds
 * (default 6, --quick 3); --probe: iterations of each read-your-writes probe (default 50).
 *
 * First it runs tools/scripts/setup-replica.sh and tools/scripts/setup-pgbouncer.sh (both idempotent: ~1 s when
 * everything is up) and prints their summary lines. Database: BENCH_DATABASE_URL (default agenthub_bench on
 * 127.0.0.1:5432), which the bench owns (it truncates it); PgBouncer on PGBOUNCER_PORT (6432) and the replica on
 * REPLICA_PORT (5433) of the same host, the ports the setup scripts use. DATABASE_POOL_SIZE (default 10) per API
 * process on both sides.
 *
 * Like the other entries, it re-runs itself with tsx pointed at tools/bench/tsconfig.json; the API processes run
 * under @swc-node/register as `nx run api:serve` starts them.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { parseOptions, runUnderBenchTsconfig } from './entry';

const USAGE = 'usage: tsx tools/bench/src/scale.main.ts [--quick] [--concurrency 16] [--seconds N] [--rounds R] [--conversations 8] [--probe 50]';

/** Runs one of the setup scripts and returns its summary line ("… ready: …"); throws with its output when it fails. */
function setup(root: string, script: string, env: Record<string, string>): string {
  const file = path.join(root, 'tools', 'scripts', script);
  const res = spawnSync('bash', [file], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 300_000 });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`.trim();
  if (res.error || res.status !== 0) {
    throw new Error(`${script} failed (${res.error?.message ?? `exit ${res.status}`}):\n${output.split('\n').slice(-20).join('\n')}`);
  }
  const lines = output.split('\n');
  return lines.reverse().find((l) => l.includes('ready:')) ?? lines[0] ?? '(no output)';
}

/** The bench database's URL on another port of the same host, optionally with query parameters. */
function onPort(url: string, port: string, params: Record<string, string> = {}): string {
  const u = new URL(url);
  u.port = port;
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

export async function main(): Promise<void> {
  const args = parseOptions(
    process.argv.slice(2),
    { '--concurrency': 'concurrency', '--seconds': 'seconds', '--rounds': 'rounds', '--conversations': 'conversations', '--probe': 'probe' },
    USAGE,
  );
  const scale = await import('./scale');
  const { DEFAULT_URL, workspaceRoot } = await import('./db');
  const { log, writeJson } = await import('./report');
  const root = workspaceRoot(__dirname);
  const url = process.env.BENCH_DATABASE_URL?.trim() || DEFAULT_URL;
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const pgbouncerPort = process.env.PGBOUNCER_PORT?.trim() || '6432';
  const replicaPort = process.env.REPLICA_PORT?.trim() || '5433';
  const pgbouncerDir = process.env.PGBOUNCER_DIR?.trim() || '/tmp/agenthub-pgbouncer';

  const stopOnSignal = (signal: NodeJS.Signals) => {
    log(`${signal}: stopping the API processes`);
    void scale.stopAllApis().finally(() => process.exit(130));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  log(`scale bench: ${args.quick ? 'quick' : 'full'} run`);
  log(`setup-replica.sh: ${setup(root, 'setup-replica.sh', { PRIMARY_PORT: new URL(url).port || '5432', REPLICA_PORT: replicaPort })}`);
  // VERIFY_DB: the script's check query goes through to a database that exists (prepareDatabase creates the bench's
  // later, and the default agenthub_test may not exist on a bench-only machine).
  log(`setup-pgbouncer.sh: ${setup(root, 'setup-pgbouncer.sh', { PGBOUNCER_PORT: pgbouncerPort, PGBOUNCER_DIR: pgbouncerDir, VERIFY_DB: 'postgres' })}`);

  const rounds = args.rounds ?? (args.quick ? 3 : 6);
  const seconds = args.seconds ?? (args.quick ? 6 : 30);
  const result = await scale.runScaleBench({
    url,
    pooledUrl: onPort(url, pgbouncerPort, { pgbouncer: 'true' }),
    replicaUrl: onPort(url, replicaPort),
    root,
    poolSize: Number(process.env.DATABASE_POOL_SIZE || 10),
    concurrency: args.concurrency ?? 16,
    conversations: args.conversations ?? 8,
    messagesPerConversation: 100,
    agents: 5,
    rounds,
    sliceMs: Math.round((seconds * 1000) / rounds),
    warmupMs: args.quick ? 2000 : 6000,
    probeIterations: args.probe ?? 50,
    sampleMs: 200,
    pgbouncerDir,
  });
  console.log(scale.scaleReport(result));
  const file = writeJson(root, { startedAt: new Date().toISOString(), args, database, ...result }, 'scale');
  log(`results written to ${file}`);
  if (!result.correctness.ok || result.probes.some((p) => p.pageViolations || p.countViolations)) {
    throw new Error('correctness check failed: see the Correctness section above');
  }
}

if (require.main === module) runUnderBenchTsconfig(__filename, main);
