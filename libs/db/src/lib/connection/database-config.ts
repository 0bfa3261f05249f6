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
   * PostgreSQL only: a direct connection for what needs a session of its own (LISTEN), when `url` goes through a
   * pooler in transaction mode (DATABASE_DIRECT_URL; default `url`).
   */
  directUrl?: string;
  /** Stops the embedded server when this process owns it; a no-op for PostgreSQL. */
  close(): Promise<void>;
}

export interface DatabaseEnv {
  DATABASE_URL?: string;
  DATABASE_DIRECT_URL?: string;
  AGENTHUB_DATA_DIR?: string;
  DATABASE_POOL_SIZE?: string;
}

/** `.agenthub/` under the working directory unless AGENTHUB_DATA_DIR says otherwise. */
export function dataDirFrom(env: DatabaseEnv): string {
  return path.resolve(env.AGENTHUB_DATA_DIR || '.agenthub');
}

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
    if (!/^postgres(ql)?:\/\//.test(url)) {
      throw new Error('DATABASE_URL must be a postgres:// or postgresql:// URL');
    }
    const poolSize = env.DATABASE_POOL_SIZE ? Number(env.DATABASE_POOL_SIZE) : 10;
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) {
      throw new Error('DATABASE_POOL_SIZE must be an integer from 1 to 1000');
    }
    const directUrl = env.DATABASE_DIRECT_URL?.trim() || undefined;
    if (directUrl && !/^postgres(ql)?:\/\//.test(directUrl)) {
      throw new Error('DATABASE_DIRECT_URL must be a postgres:// or postgresql:// URL');
    }
    return { mode: 'postgres', url, poolSize, directUrl, close: async () => undefined };
  }
  const embedded = await startEmbeddedDatabase(path.join(dataDirFrom(env), 'db'), embeddedOptions);
  return { mode: 'embedded', url: embedded.url, dataDir: embedded.dataDir, close: embedded.close };
}

/** One line that says which database is in use, without credentials. */
export function describeDatabase(target: DatabaseTarget): string {
  if (target.mode === 'embedded') {
    return `embedded PostgreSQL (PGlite + pgvector) in ${target.dataDir} — ${EMBEDDED_LIMITATIONS}`;
  }
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
    return '<unparseable DATABASE_URL>';
  }
}
