import path from 'node:path';
import { EMBEDDED_LIMITATIONS, startEmbeddedDatabase, type EmbeddedOptions } from './embedded-database';

export type DatabaseMode = 'postgres' | 'embedded';

export interface DatabaseTarget {
  mode: DatabaseMode;
  url: string;
  /** embedded only: where the files live */
  dataDir?: string;
  /** Stops the embedded server when this process owns it; a no-op for PostgreSQL. */
  close(): Promise<void>;
}

export interface DatabaseEnv {
  DATABASE_URL?: string;
  AGENTHUB_DATA_DIR?: string;
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
    return { mode: 'postgres', url, close: async () => undefined };
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
    return u.toString();
  } catch {
    return '<unparseable DATABASE_URL>';
  }
}
