import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sessionUrl, type DatabaseTarget } from './connection/database-config';

/** The workspace root: the folder holding prisma.config.ts (also inside the Docker images). */
export function workspaceRoot(from = __dirname): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'prisma.config.ts'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`prisma.config.ts not found above ${from}`);
  }
}

export function migrationNames(root = workspaceRoot()): string[] {
  const dir = path.join(root, 'prisma', 'migrations');
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(dir, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort();
}

export interface MigrationState {
  applied: string[];
  pending: string[];
  /** started but never finished, or rolled back: needs an operator (prisma migrate resolve) */
  failed: string[];
}

type RawQuery = { $queryRawUnsafe<T = unknown>(sql: string): Promise<T> };

/**
 * THE reader of a database's schema version, on any connection (`run` executes one statement and returns its
 * rows): the migrations applied (finished, not rolled back), and the failed ones (started and never finished, or
 * rolled back, and not applied since), each by name in order. The schema version is the last applied one.
 * Backup, restore, tenant transfer and the migration check all read it here.
 */
export async function readMigrations(run: (sql: string) => Promise<unknown[]>): Promise<{ applied: string[]; failed: string[] }> {
  const exists = (await run(`select to_regclass('public._prisma_migrations')::text as t`)) as Array<{ t: string | null }>;
  if (!exists[0]?.t) return { applied: [], failed: [] };
  const rows = (await run(
    `select migration_name as name, finished_at is not null as finished, rolled_back_at is not null as rolled_back
       from _prisma_migrations order by migration_name`,
  )) as Array<{ name: string; finished: boolean; rolled_back: boolean }>;
  const applied = [...new Set(rows.filter((r) => r.finished && !r.rolled_back).map((r) => r.name))];
  const done = new Set(applied);
  const failed = [...new Set(rows.filter((r) => (!r.finished || r.rolled_back) && !done.has(r.name)).map((r) => r.name))];
  return { applied, failed };
}

/** Compares prisma/migrations with the database's _prisma_migrations table. */
export async function migrationState(db: RawQuery, root = workspaceRoot()): Promise<MigrationState> {
  const known = migrationNames(root);
  const { applied, failed } = await readMigrations((sql) => db.$queryRawUnsafe<unknown[]>(sql));
  const done = new Set(applied);
  return { applied: known.filter((n) => done.has(n)), pending: known.filter((n) => !done.has(n)), failed };
}

/**
 * Applies pending migrations with `prisma migrate deploy` (Prisma's JavaScript schema engine, through the same
 * pg adapter) to the given database. The CLI runs as a child process so its output and exit code are its own.
 */
export function applyMigrations(
  target: Pick<DatabaseTarget, 'url' | 'directUrl'>,
  options: { root?: string; quiet?: boolean } = {},
): Promise<void> {
  const root = options.root ?? workspaceRoot();
  const prisma = path.join(root, 'node_modules', 'prisma', 'build', 'index.js');
  return new Promise((resolve, reject) => {
    const preload = path.join(__dirname, 'connection', 'unref-long-timers.cjs');
    const child = spawn(process.execPath, ['-r', preload, prisma, 'migrate', 'deploy'], {
      cwd: root,
      // Migrations take a session-level advisory lock: directly, never through a transaction pooler.
      env: { ...process.env, DATABASE_URL: sessionUrl(target), DATABASE_DIRECT_URL: '', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      stdio: options.quiet ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    });
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`prisma migrate deploy failed (exit ${code})\n${output}`)),
    );
  });
}
