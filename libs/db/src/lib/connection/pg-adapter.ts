import { PrismaPg } from '@prisma/adapter-pg';
import pg, { type PoolConfig } from 'pg';
import { CatalogTypesAsTextClient } from './catalog-types.shim';
import { WholeScriptPrismaPg } from './whole-script.shim';
import { isTransactionPooler } from './database-config';
import { withMultiHost } from './multi-host';

export interface PgAdapterOptions {
  /** Pool size; the embedded database serialises everything anyway, so callers pass 1–4 there. */
  max?: number;
  /** Extra server settings sent at connection start-up (`-c name=value`). */
  settings?: Record<string, string | number>;
  applicationName?: string;
  /** Let the process exit while connections sit idle (CLI use). */
  allowExitOnIdle?: boolean;
  /** multi-host URLs: how long one host may take before the next is tried (multi-host.ts; default 5 s) */
  attemptTimeoutMillis?: number;
}

/**
 * pgvector search settings applied to every connection. `iterative_scan` lets a filtered HNSW scan keep going
 * until it has k rows that pass the filter (pgvector ≥ 0.8); ef_search trades speed for recall.
 * Placeholder GUCs are accepted before the extension is loaded, so this is safe on any connection.
 */
export const DEFAULT_VECTOR_SETTINGS = {
  'hnsw.ef_search': 100,
  'hnsw.iterative_scan': 'strict_order',
} as const;

/**
 * The same settings for one transaction (`SET LOCAL`), where start-up settings cannot go: a transaction-mode pooler
 * (PgBouncer 1.18 refuses the `options` start-up parameter, and a server connection serves many clients anyway).
 */
export const VECTOR_SETTINGS_SQL = Object.entries(DEFAULT_VECTOR_SETTINGS)
  .map(([k, v]) => `SET LOCAL ${k} = ${typeof v === 'number' ? v : `'${v}'`}`)
  .join('; ');

/**
 * The pool of a database URL. A libpq-style multi-host URL (`postgresql://h1:5432,h2:5432/db?target_session_attrs=
 * read-write`, what a failover setup hands out) connects to the first listed host that qualifies, every time a
 * connection is opened (multi-host.ts): after a failover, new connections find the new primary by themselves.
 */
export function pgPoolConfig(connectionString: string, options: PgAdapterOptions = {}): PoolConfig {
  const settings = isTransactionPooler(connectionString) ? {} : { ...DEFAULT_VECTOR_SETTINGS, ...options.settings };
  return withMultiHost({
    connectionString,
    max: options.max ?? 10,
    allowExitOnIdle: options.allowExitOnIdle ?? false,
    application_name: options.applicationName ?? 'agenthub',
    options:
      Object.entries(settings)
        .map(([k, v]) => `-c ${k}=${v}`)
        .join(' ') || undefined,
    Client: CatalogTypesAsTextClient,
  } as PoolConfig, { attemptTimeoutMillis: options.attemptTimeoutMillis });
}

/**
 * One connection of its own (LISTEN, a lock held for a job, a whole-database session) to a database URL, multi-host
 * URLs included (see pgPoolConfig).
 */
export function pgSessionClient(connectionString: string, config: Omit<pg.ClientConfig, 'connectionString'> = {}): pg.Client {
  const resolved = withMultiHost({ ...config, connectionString });
  const Client = (resolved.Client ?? pg.Client) as typeof pg.Client;
  return new Client(resolved);
}

/** The one place a Prisma driver adapter is made: for the application client and for the Prisma CLI. */
export function createPgAdapter(connectionString: string, options: PgAdapterOptions = {}): PrismaPg {
  return new WholeScriptPrismaPg(pgPoolConfig(connectionString, options));
}

/**
 * Listens for 'error' on a client checked out of a pg pool until `done()`, which returns the error if one came. pg
 * emits 'error' on a connection lost mid-query (the server stopped: a failover, a restart), and the pool listens only
 * to idle clients: without this, that error is an unhandled event that ends the process. Release the client with
 * what `done()` returns, so that a lost connection is not handed out again.
 */
export function guardCheckedOut(client: pg.PoolClient): { done(): Error | undefined } {
  let lost: Error | undefined;
  const onError = (error: Error) => (lost ??= error);
  client.on('error', onError);
  return {
    done() {
      client.off('error', onError);
      return lost;
    },
  };
}
