import path from 'node:path';
import { EMBEDDED_LIMITATIONS, startEmbeddedDatabase, type EmbeddedOptions } from './embedded-database';

export type DatabaseMode = 'postgres' | 'embedded';

export interface DatabaseTarget {
  mode: DatabaseMode;
  url: string;
  /** embedded only: where the files live */
  dataDir?: string;
  /** connections per process (DATABASE_POOL_SIZE, PostgreSQL only; default 10) */
  poolSize?: number;
  /**
   * PostgreSQL only: a direct connection for what needs a session of its own (LISTEN, the worker's job locks,
   * migrations, whole-database backups and restores), when `url` goes through a pooler in transaction mode
   * (DATABASE_DIRECT_URL; default `url`). `sessionUrl(target)` picks it.
   */
  directUrl?: string;
  /**
   * PostgreSQL only: `url` is a transaction-mode pooler (PgBouncer; `?pgbouncer=true` in DATABASE_URL, Prisma's
   * convention). Then nothing relies on session state between transactions: no server-side prepared statements,
   * no start-up settings (the pgvector settings are entered per transaction instead), and `directUrl` is required.
   */
  pooled?: boolean;
  /** PostgreSQL only: read replicas (DATABASE_READ_URLS, comma-separated) for read-only requests (read-replicas.ts). */
  readUrls?: string[];
  /** skip a replica lagging more than this many ms (DATABASE_READ_MAX_LAG_MS, default 1000) */
  readMaxLagMs?: number;
  /** Stops the embedded server when this process owns it; a no-op for PostgreSQL. */
  close(): Promise<void>;
}

export interface DatabaseEnv {
  DATABASE_URL?: string;
  DATABASE_DIRECT_URL?: string;
  DATABASE_READ_URLS?: string;
  DATABASE_READ_MAX_LAG_MS?: string;
  AGENTHUB_DATA_DIR?: string;
  DATABASE_POOL_SIZE?: string;
}

/** `.agenthub/` under the working directory unless AGENTHUB_DATA_DIR says otherwise. */
export function dataDirFrom(env: DatabaseEnv): string {
  return path.resolve(env.AGENTHUB_DATA_DIR || '.agenthub');
}

/** A postgres:// or postgresql:// URL (what every DATABASE_*URL setting takes). */
const isPostgresUrl = (url: string) => /^postgres(ql)?:\/\//.test(url);

/**
 * Where the data lives: PostgreSQL at DATABASE_URL when it is set, else the embedded database under
 * AGENTHUB_DATA_DIR. This is the only place the data layer reads those variables.
 */
export async function resolveDatabase(
  env: DatabaseEnv = process.env,
  embeddedOptions: EmbeddedOptions = {},
): Promise<DatabaseTarget> {
  const url = env.DATABASE_URL?.trim();
  if (url) {
    if (!isPostgresUrl(url)) {
      throw new Error('DATABASE_URL must be a postgres:// or postgresql:// URL');
    }
    const poolSize = env.DATABASE_POOL_SIZE ? Number(env.DATABASE_POOL_SIZE) : 10;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) {
      throw new Error('DATABASE_POOL_SIZE must be an integer from 1 to 1000');
    }
    const directUrl = env.DATABASE_DIRECT_URL?.trim() || undefined;
    if (directUrl && !isPostgresUrl(directUrl)) {
      throw new Error('DATABASE_DIRECT_URL must be a postgres:// or postgresql:// URL');
    }
    const pooled = isTransactionPooler(url);
    if (pooled && !directUrl) {
      throw new Error(
        'DATABASE_URL goes through a transaction pooler (pgbouncer=true): set DATABASE_DIRECT_URL to a direct connection ' +
          'for what needs a session of its own (LISTEN for live events and key revocations, job locks, migrations)',
      );
    }
    if (directUrl && isTransactionPooler(directUrl)) throw new Error('DATABASE_DIRECT_URL must be a direct connection, not a pooler (pgbouncer=true)');
    // Split where a URL begins: a multi-host URL has commas of its own (`postgresql://r1,r2/db?target_session_attrs=standby`).
    const readUrls = (env.DATABASE_READ_URLS ?? '')
      .split(/,\s*(?=postgres(?:ql)?:\/\/)/)
      .map((u) => u.trim())
      .filter(Boolean);
    for (const u of readUrls) {
      if (!isPostgresUrl(u)) throw new Error('DATABASE_READ_URLS must be postgres:// or postgresql:// URLs, comma-separated');
    }
    const readMaxLagMs = env.DATABASE_READ_MAX_LAG_MS ? Number(env.DATABASE_READ_MAX_LAG_MS) : 1000;
    if (!Number.isInteger(readMaxLagMs) || readMaxLagMs < 0 || readMaxLagMs > 3_600_000) {
      throw new Error('DATABASE_READ_MAX_LAG_MS must be an integer from 0 to 3600000');
    }
    return { mode: 'postgres', url, poolSize, directUrl, pooled, readUrls, readMaxLagMs, close: async () => undefined };
  }
  const embedded = await startEmbeddedDatabase(path.join(dataDirFrom(env), 'db'), embeddedOptions);
  return { mode: 'embedded', url: embedded.url, dataDir: embedded.dataDir, close: embedded.close };
}

/**
 * A transaction-mode pooler by Prisma's convention: `pgbouncer=true` in the URL's query (node-postgres ignores the
 * parameter). PgBouncer cannot be recognised from the connection itself, so the operator says so.
 */
export function isTransactionPooler(url: string): boolean {
  // Not `new URL`: a multi-host URL (`postgresql://pgb1:6432,pgb2:6432/db?pgbouncer=true`) is not one it parses.
  const query = url.split('?')[1] ?? '';
  return query.split('&').some((pair) => pair === 'pgbouncer=true');
}

/** Where a session of its own goes (LISTEN, advisory locks, migrations): the direct URL when there is one. */
export function sessionUrl(target: Pick<DatabaseTarget, 'url' | 'directUrl'>): string {
  return target.directUrl ?? target.url;
}

/** One line that says which database is in use, without credentials. */
export function describeDatabase(target: DatabaseTarget): string {
  if (target.mode === 'embedded') {
    return `embedded PostgreSQL (PGlite + pgvector) in ${target.dataDir} — ${EMBEDDED_LIMITATIONS}`;
  }
  if (target.pooled) return `PostgreSQL through a transaction pooler at ${redactUrl(target.url)} (sessions at ${redactUrl(sessionUrl(target))})`;
  return `PostgreSQL at ${redactUrl(target.url)}`;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const key of [...u.searchParams.keys()]) {
      if (/pass|secret|key|token/i.test(key)) u.searchParams.set(key, '***');
    }
    return u.toString();
  } catch {
    // A multi-host URL: hide the password (and every secret-looking parameter) by hand.
    if (!isPostgresUrl(url)) return '<unparseable DATABASE_URL>';
    return url
      .replace(/^(postgres(?:ql)?:\/\/[^:@/]*):[^@]*@/, '$1:***@')
      .replace(/([?&][^=&]*(?:pass|secret|key|token)[^=&]*=)[^&]*/gi, '$1***');
  }
}
