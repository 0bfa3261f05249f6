import os from 'node:os';
import pg from 'pg';
import { log } from './report';
import { applyMigrations, pgPoolConfig, PrismaService, redactUrl } from '@agenthub/db';

export const DEFAULT_URL = 'postgresql://postgres@127.0.0.1:5432/agenthub_bench';

/** Creates the bench database if missing, the vector extension, and applies the migrations. */
export async function prepareDatabase(url: string): Promise<void> {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    // Not the URL itself: a TypeError from URL carries it (password included) in its `input`.
    throw new Error(`BENCH_DATABASE_URL is not a valid URL: ${redactUrl(url)}`);
  }
  const dbName = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!dbName) throw new Error(`BENCH_DATABASE_URL has no database name: ${redactUrl(url)}`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = await client.query('select 1 from pg_database where datname = $1', [dbName]);
    if (exists.rowCount === 0) {
      log(`creating database ${dbName}`);
      await client.query(`create database ${pg.escapeIdentifier(dbName)}`);
    }
  } finally {
    await client.end();
  }
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    await db.query('create extension if not exists vector');
  } finally {
    await db.end();
  }
  log('applying migrations (prisma migrate deploy)');
  await applyMigrations({ url }, { quiet: true });
}

/**
 * The raw-pg baseline pool: plain `pg.Pool` with the same per-connection settings the application's adapter
 * sends (hnsw.ef_search, hnsw.iterative_scan), so both sides run under identical planner/index settings.
 */
export function rawPool(url: string, max: number): pg.Pool {
  const config = { ...pgPoolConfig(url, { max, applicationName: 'agenthub-bench-raw' }) } as pg.PoolConfig & { Client?: unknown };
  delete config.Client;
  return new pg.Pool(config);
}

export function prismaService(url: string): PrismaService {
  return new PrismaService({ mode: 'postgres', url, close: async () => undefined });
}

/** The bench owns its database: empty every tenant-owned table (organizations cascade to the rest). */
export async function truncateAll(pool: pg.Pool): Promise<void> {
  await pool.query('truncate table organizations cascade');
}

export interface MachineFacts {
  cpus: number;
  cpuModel: string;
  totalMemGb: number;
  node: string;
  postgres: string;
  pgvector: string;
  efSearch: string;
  iterativeScan: string;
  poolSize: number;
  database: string;
}

export async function machineFacts(pool: pg.Pool, url: string, poolSize: number): Promise<MachineFacts> {
  const q = async (sql: string) => String(Object.values((await pool.query(sql)).rows[0] ?? {})[0] ?? '?');
  return {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? '?',
    totalMemGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: await q('show server_version'),
    pgvector: await q(`select extversion from pg_extension where extname = 'vector'`),
    efSearch: await q('show hnsw.ef_search'),
    iterativeScan: await q('show hnsw.iterative_scan'),
    poolSize,
    database: redactUrl(url),
  };
}

/** For the suites' entries, which load the data layer only after re-running under the right loader. */
export { workspaceRoot } from '@agenthub/db';
