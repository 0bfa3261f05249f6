import { PrismaPg } from '@prisma/adapter-pg';
import type { PoolConfig } from 'pg';
import { CatalogTypesAsTextClient } from './catalog-types.shim';
import { WholeScriptPrismaPg } from './whole-script.shim';

export interface PgAdapterOptions {
  /** Pool size; the embedded database serialises everything anyway, so callers pass 1–4 there. */
  max?: number;
  /** Extra server settings sent at connection start-up (`-c name=value`). */
  settings?: Record<string, string | number>;
  applicationName?: string;
  /** Let the process exit while connections sit idle (CLI use). */
  allowExitOnIdle?: boolean;
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

export function pgPoolConfig(connectionString: string, options: PgAdapterOptions = {}): PoolConfig {
  const settings = { ...DEFAULT_VECTOR_SETTINGS, ...options.settings };
  return {
    connectionString,
    max: options.max ?? 10,
    allowExitOnIdle: options.allowExitOnIdle ?? false,
    application_name: options.applicationName ?? 'agenthub',
    options: Object.entries(settings)
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(' '),
    Client: CatalogTypesAsTextClient,
  } as PoolConfig;
}

/** The one place a Prisma driver adapter is made: for the application client and for the Prisma CLI. */
export function createPgAdapter(connectionString: string, options: PgAdapterOptions = {}): PrismaPg {
  return new WholeScriptPrismaPg(pgPoolConfig(connectionString, options));
}
