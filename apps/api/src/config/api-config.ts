import { z } from 'zod';

/**
 * The API's configuration: read from the environment once, at boot, and validated here (the only place that
 * reads process.env). A bad value stops the start with a message naming the variable.
 */
const bool = z.enum(['true', 'false', '1', '0', 'on', 'off']).transform((v) => v === 'true' || v === '1' || v === 'on');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const API_ENV_SCHEMA = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** A direct connection for LISTEN when DATABASE_URL goes through a transaction-mode pooler (default DATABASE_URL). */
  DATABASE_DIRECT_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /**
   * Read replicas (streaming hot standbys of DATABASE_URL's primary), comma-separated: read-only requests go to a
   * healthy one that has caught up with every write acknowledged before the request arrived, else to the primary.
   */
  DATABASE_READ_URLS: z
    .string()
    .regex(/^\s*postgres(ql)?:\/\/\S+(\s*,\s*postgres(ql)?:\/\/\S+)*\s*$/, 'must be postgres:// or postgresql:// URLs, comma-separated')
    .optional(),
  /** A replica lagging more than this is skipped until it catches up. */
  DATABASE_READ_MAX_LAG_MS: int(0, 3_600_000).default(1000),
  DATABASE_POOL_SIZE: int(1, 1000).default(10),
  AGENTHUB_DATA_DIR: z.string().min(1).optional(),
  /** The operator's token: manages organizations and backups only. */
  AGENTHUB_ADMIN_TOKEN: z.string().min(24, 'must be at least 24 characters').optional(),
  /**
   * Key of the MAC every audit entry gets at insert (HMAC-SHA256). Unset: derived from AGENTHUB_ADMIN_TOKEN
   * (HKDF-SHA256). Changing it (or the admin token it is derived from) while entries are pending makes those
   * entries fail verification: the API seals everything on SIGTERM, so rotate it between a clean stop and a start.
   */
  AUDIT_MAC_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
  /** Apply pending migrations before serving (default true); with false, /health/ready reports them. */
  AGENTHUB_MIGRATE_ON_START: bool.default(true),
  /** Row-level security on tenant transactions; off only for measuring its cost (tools/bench), never in production. */
  AGENTHUB_ROW_LEVEL_SECURITY: bool.default(true),
  /** Body limit of every route without its own (common/http/body-limit.ts). */
  API_BODY_LIMIT_BYTES: int(1024, 100 * 1024 * 1024).default(5 * 1024 * 1024),
  /**
   * Body limit of the bulk routes (memory batch, document create). Unset: 1,000 embeddings of EMBEDDING_DIMENSIONS
   * full-precision JSON numbers plus 16 KiB of text each (57 MiB at 1536 dimensions).
   */
  API_BULK_BODY_LIMIT_BYTES: int(1024, 512 * 1024 * 1024).optional(),
  /**
   * Threads that parse large bulk bodies (common/http/json-body.ts). Unset: one fewer than the cores, 1 to 4;
   * 0 parses them on the main thread (to measure what the threads save).
   */
  API_JSON_PARSE_THREADS: int(0, 16).optional(),
  RATE_LIMIT_MAX: int(1, 10_000_000).default(6000),
  RATE_LIMIT_WINDOW_SECONDS: int(1, 86_400).default(60),
  /**
   * Redis for the rate-limit counters, shared by every replica (redis:// or rediss://). Unset: each replica counts
   * on its own, so N replicas admit up to N× RATE_LIMIT_MAX (common/rate-limit).
   */
  RATE_LIMIT_REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional(),
  /** Prefix of the counters' Redis keys (deployments sharing one Redis keep apart by it). */
  RATE_LIMIT_REDIS_PREFIX: z.string().min(1).max(100).default('agenthub:rate:'),
  /** How long a request may take before the server gives up on it (and the shutdown grace period). */
  REQUEST_TIMEOUT_MS: int(1000, 600_000).default(30_000),
  SHUTDOWN_GRACE_MS: int(0, 600_000).default(10_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** auto: one short line per event on a terminal outside production, JSON lines otherwise (common/logging). */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  /**
   * Length of every embedding (memories, document chunks). Must equal the dimension of the vector(…) columns:
   * the API reads it from the database at start-up and refuses to start when they differ.
   */
  EMBEDDING_DIMENSIONS: int(1, 16_000).default(1536),
});

export type ApiEnv = z.infer<typeof API_ENV_SCHEMA>;

export interface ApiConfig extends ApiEnv {
  production: boolean;
}

export class ConfigError extends Error {}

export function loadApiConfig(env: NodeJS.ProcessEnv = process.env): ApiConfig {
  // Empty strings count as unset, as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = API_ENV_SCHEMA.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const config = { ...parsed.data, production: parsed.data.NODE_ENV === 'production' };
  if (config.production && !config.AGENTHUB_ROW_LEVEL_SECURITY) {
    throw new ConfigError('invalid configuration:\n  AGENTHUB_ROW_LEVEL_SECURITY: must not be off in production');
  }
  return config;
}

export const API_CONFIG = Symbol('API_CONFIG');
