import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startEmbeddedDatabase } from '../lib/connection/embedded-database';
import { isTransactionPooler, type DatabaseMode, type DatabaseTarget } from '../lib/connection/database-config';
import { applyMigrations } from '../lib/migrations';
import { assertVectorDimensions } from '../lib/vector';
import { PrismaService } from '../lib/prisma.service';

/**
 * Test databases. With TEST_DATABASE_URL the suites run against that PostgreSQL (its public schema is reset and
 * migrated once per run); without it, against a fresh embedded database in a temporary directory. Jest's global
 * setup calls `setupTestDatabase`, which hands the URL to the test workers through the environment.
 *
 * Through a transaction pooler (issue 16): TEST_DATABASE_URL is PgBouncer's (`?pgbouncer=true`) and
 * TEST_DATABASE_DIRECT_URL the same server directly; the schema is reset and migrated directly, and the suites'
 * APIs run on the pooler with the direct URL for what needs a session (`testDatabaseTarget`).
 */
export interface TestDatabase {
  mode: DatabaseMode;
  url: string;
  /** the direct connection when `url` is a transaction pooler */
  directUrl?: string;
  teardown(): Promise<void>;
}

export interface TestDatabaseOptions {
  /**
   * Projects whose suites run at the same time (Nx runs several test targets in parallel) must not reset each
   * other's schema: with a suffix, the suites use the database `<TEST_DATABASE_URL's database>_<suffix>` on the
   * same server, created on first use.
   */
  suffix?: string;
}

export async function setupTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const started = Date.now();
  let external = process.env.TEST_DATABASE_URL?.trim();
  let db: TestDatabase;
  if (external && process.env.AGENTHUB_TEST_DB_MODE !== 'embedded') {
    let direct = process.env.TEST_DATABASE_DIRECT_URL?.trim() || undefined;
    if (isTransactionPooler(external) && !direct) {
      throw new Error('TEST_DATABASE_URL is a transaction pooler (pgbouncer=true): set TEST_DATABASE_DIRECT_URL to the same server directly');
    }
    if (options.suffix) {
      // The sibling is created directly; the pooler (a wildcard database entry) finds it by name.
      if (direct) direct = await ensureSiblingDatabase(direct, options.suffix);
      external = direct ? siblingUrl(external, options.suffix) : await ensureSiblingDatabase(external, options.suffix);
    }
    await resetSchema(direct ?? external);
    db = { mode: 'postgres', url: external, directUrl: direct, teardown: async () => undefined };
  } else {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-test-'));
    const embedded = await startEmbeddedDatabase(dir);
    db = {
      mode: 'embedded',
      url: embedded.url,
      teardown: async () => {
        await embedded.close();
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  await applyMigrations(db, { quiet: true });
  process.env.TEST_DATABASE_URL = db.url;
  if (db.directUrl) process.env.TEST_DATABASE_DIRECT_URL = db.directUrl;
  process.env.AGENTHUB_TEST_DB_MODE = db.mode;
  process.stderr.write(
    `\n[agenthub tests] ${db.mode === 'postgres' ? 'PostgreSQL + pgvector' : 'embedded PGlite + pgvector'} ` +
      `ready in ${Date.now() - started} ms\n`,
  );
  return db;
}

/** `postgresql://…/agenthub_test` + `api` → `postgresql://…/agenthub_test_api`, created if missing. */
export async function ensureSiblingDatabase(url: string, suffix: string): Promise<string> {
  const sibling = siblingUrl(url, suffix);
  const name = new URL(sibling).pathname.slice(1);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) {
      try {
        await client.query(`create database "${name}"`);
      } catch (error) {
        // Another project's global setup may have created it at the same moment.
        if ((error as { code?: string }).code !== '42P04') throw error;
      }
    }
  } finally {
    await client.end();
  }
  return sibling;
}

/** The URL of `ensureSiblingDatabase`'s database, without creating it. */
function siblingUrl(url: string, suffix: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${`${parsed.pathname.replace(/^\//, '') || 'postgres'}_${suffix}`.replace(/[^a-zA-Z0-9_]/g, '_')}`;
  return parsed.toString();
}

/**
 * A sibling of the PostgreSQL test database (`ensureSiblingDatabase`), emptied, migrated, and with its vector columns
 * (memories.embedding, document_chunks.embedding) migrated to vector(`dimensions`): a deployment on another
 * embedding model. Returns its URL (a direct one when the run goes through a pooler). Each suite passes its own
 * suffix (suites of different projects run at once).
 */
export async function vectorDimensionsDatabase(suffix: string, dimensions: number): Promise<string> {
  const base = process.env.TEST_DATABASE_DIRECT_URL || process.env.TEST_DATABASE_URL;
  if (!base) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (its globalSetup sets it)');
  assertVectorDimensions(dimensions);
  const url = await ensureSiblingDatabase(base, suffix);
  await resetSchema(url);
  await applyMigrations({ url }, { quiet: true });
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    for (const table of ['memories', 'document_chunks']) {
      await client.query(`alter table ${table} alter column embedding type vector(${dimensions})`);
    }
  } finally {
    await client.end();
  }
  return url;
}

async function resetSchema(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('drop schema if exists public cascade');
    await client.query('create schema public');
  } finally {
    await client.end();
  }
}

export function testDatabaseMode(): DatabaseMode {
  const mode = process.env.AGENTHUB_TEST_DB_MODE;
  if (mode !== 'postgres' && mode !== 'embedded') {
    throw new Error('test database not set up: run the tests through jest (its globalSetup prepares it)');
  }
  return mode;
}

/** The test database as the data layer takes it: through the pooler, with its direct URL, when the run uses one. */
export function testDatabaseTarget(): DatabaseTarget {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests through jest (its globalSetup sets it)');
  const mode = testDatabaseMode();
  if (mode === 'embedded') return { mode, url, close: async () => undefined };
  const directUrl = process.env.TEST_DATABASE_DIRECT_URL || undefined;
  return { mode, url, directUrl, pooled: isTransactionPooler(url), close: async () => undefined };
}

/** A direct connection to the test database (a session of its own: LISTEN, a lock held across statements). */
export function testDatabaseDirectUrl(): string {
  return testDatabaseTarget().directUrl ?? testDatabaseTarget().url;
}

/** A PrismaService on the test database; call `$disconnect()` in afterAll. */
export function createTestPrisma(): PrismaService {
  return new PrismaService(testDatabaseTarget());
}

/**
 * For suites that need true concurrency (many backends writing at once): they run on PostgreSQL only.
 * The embedded database has one backend, so such a test would prove nothing there.
 */
export function describeOnPostgres(name: string, fn: () => void): void {
  if (process.env.AGENTHUB_TEST_DB_MODE === 'postgres') describe(name, fn);
  else describe.skip(`${name} [needs PostgreSQL: concurrent writers]`, fn);
}
