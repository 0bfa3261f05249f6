import { validateCronExpression } from 'cron';
import { z } from 'zod';

/**
 * The worker's and the command line's configuration: validated once, here, from the environment. This is the
 * only file of the worker that reads process.env. A bad value names the variable; secrets are never echoed.
 */
const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(blankToUndefined, z.string().trim().optional());
const positiveInt = (fallback: number) => z.preprocess(blankToUndefined, z.coerce.number().int().positive().default(fallback));
const bool = (fallback: boolean) =>
  z.preprocess(
    blankToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(fallback ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );
const cron = (fallback: string) =>
  z.preprocess(
    blankToUndefined,
    z
      .string()
      .default(fallback)
      .refine((v) => v.trim() === 'off' || validateCronExpression(v.trim()).valid, 'a cron expression (5 or 6 fields) or "off"'),
  );

export const workerEnvSchema = z
  .object({
    DATABASE_URL: optionalString,
    AGENTHUB_DATA_DIR: optionalString,
    DATABASE_POOL_SIZE: optionalString,
    DATABASE_DIRECT_URL: optionalString,
    /** Where backups go when no bucket is configured (default <AGENTHUB_DATA_DIR>/backups). */
    BACKUP_DIR: optionalString,
    BACKUP_BUCKET: z.preprocess(
      blankToUndefined,
      z
        .string()
        .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3-63 lower-case letters, digits, dots, hyphens)')
        .optional(),
    ),
    /** Key prefix inside the bucket. */
    BACKUP_PREFIX: z.preprocess(blankToUndefined, z.string().regex(/^[A-Za-z0-9._\-/]*$/, 'letters, digits, . _ - /').default('backups')),
    S3_ENDPOINT: z.preprocess(blankToUndefined, z.url().optional()),
    S3_REGION: z.preprocess(blankToUndefined, z.string().default('us-east-1')),
    S3_ACCESS_KEY_ID: optionalString,
    S3_SECRET_ACCESS_KEY: optionalString,
    S3_FORCE_PATH_STYLE: bool(false),
    /** Multipart part size in MiB (S3's minimum is 5). */
    S3_PART_SIZE_MB: positiveInt(8).pipe(z.number().min(5, 'at least 5 (S3 minimum part size)')),
    BACKUP_CRON: cron('0 3 * * *'),
    BACKUP_RETENTION_COUNT: positiveInt(7),
    BACKUP_RETENTION_DAYS: positiveInt(30),
    BACKUP_ENCRYPTION_KEY: z.preprocess(
      blankToUndefined,
      z
        .string()
        .refine((v) => /^[A-Za-z0-9+/]{43}=$/.test(v) && Buffer.from(v, 'base64').length === 32, 'base64 of exactly 32 bytes')
        .optional(),
    ),
    /** gzip level 1-9 (6 = zlib's default, what pg_dump -Fc uses). */
    BACKUP_COMPRESSION_LEVEL: positiveInt(6).pipe(z.number().max(9, 'at most 9')),
    /** How often the worker looks for queued backups when it missed a notification. */
    BACKUP_POLL_SECONDS: positiveInt(30),
    MEMORY_PURGE_CRON: cron('*/15 * * * *'),
    CONVERSATION_PURGE_CRON: cron('30 4 * * *'),
    CONVERSATION_PURGE_AFTER_DAYS: positiveInt(30),
    /** Live events (SSE replay log) older than this are dropped; messages themselves are the history. */
    EVENT_PURGE_CRON: cron('0 * * * *'),
    EVENT_RETENTION_HOURS: positiveInt(24),
    /** LangGraph threads whose newest checkpoint is older than this many days are deleted (unset: kept forever). */
    LANGGRAPH_THREAD_RETENTION_DAYS: z.preprocess(blankToUndefined, z.coerce.number().int().positive().optional()),
    /** Folds pending usage deltas into the hourly rollup behind GET /analytics/usage (reads fold their own org too). */
    USAGE_FOLD_CRON: cron('* * * * *'),
    LOG_LEVEL: z.preprocess(blankToUndefined, z.enum(['error', 'warn', 'log', 'debug', 'verbose']).default('log')),
  })
  .superRefine((env, ctx) => {
    if (env.BACKUP_BUCKET && (!env.S3_ACCESS_KEY_ID) !== (!env.S3_SECRET_ACCESS_KEY)) {
      ctx.addIssue({ code: 'custom', path: ['S3_SECRET_ACCESS_KEY'], message: 'set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither' });
    }
  });

export type WorkerEnv = z.infer<typeof workerEnvSchema>;

export interface S3Settings {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region: string;
  forcePathStyle: boolean;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  partSizeBytes: number;
}

export interface WorkerConfig {
  /** What the data layer reads (DbModule.forRoot / resolveDatabase). */
  database: { DATABASE_URL?: string; DATABASE_DIRECT_URL?: string; AGENTHUB_DATA_DIR?: string; DATABASE_POOL_SIZE?: string };
  backup: {
    /** S3 when a bucket is configured, else a local directory. */
    storage: { kind: 's3'; s3: S3Settings } | { kind: 'local'; dir: string };
    cron: string | null;
    retentionCount: number;
    retentionDays: number;
    encryptionKey: Buffer | null;
    compressionLevel: number;
    pollSeconds: number;
  };
  retention: {
    memoryPurgeCron: string | null;
    conversationPurgeCron: string | null;
    conversationPurgeAfterDays: number;
    eventPurgeCron: string | null;
    eventRetentionHours: number;
    /** null: LangGraph threads are kept however long they are idle */
    threadRetentionDays: number | null;
    usageFoldCron: string | null;
  };
  logLevel: WorkerEnv['LOG_LEVEL'];
}

export const WORKER_CONFIG = Symbol('WORKER_CONFIG');

export class ConfigError extends Error {}

/** Parses the environment; throws ConfigError naming each bad variable (values are not repeated). */
export function loadWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const parsed = workerEnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.') || '(environment)'}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const dataDir = e.AGENTHUB_DATA_DIR ?? '.agenthub';
  const off = (v: string) => (v.trim() === 'off' ? null : v.trim());
  return {
    database: { DATABASE_URL: e.DATABASE_URL, DATABASE_DIRECT_URL: e.DATABASE_DIRECT_URL, AGENTHUB_DATA_DIR: e.AGENTHUB_DATA_DIR, DATABASE_POOL_SIZE: e.DATABASE_POOL_SIZE },
    backup: {
      storage: e.BACKUP_BUCKET
        ? {
            kind: 's3',
            s3: {
              bucket: e.BACKUP_BUCKET,
              prefix: e.BACKUP_PREFIX.replace(/^\/+|\/+$/g, ''),
              endpoint: e.S3_ENDPOINT,
              region: e.S3_REGION,
              forcePathStyle: e.S3_FORCE_PATH_STYLE,
              credentials:
                e.S3_ACCESS_KEY_ID && e.S3_SECRET_ACCESS_KEY
                  ? { accessKeyId: e.S3_ACCESS_KEY_ID, secretAccessKey: e.S3_SECRET_ACCESS_KEY }
                  : undefined,
              partSizeBytes: e.S3_PART_SIZE_MB * 1024 * 1024,
            },
          }
        : { kind: 'local', dir: e.BACKUP_DIR ?? `${dataDir.replace(/\/+$/, '')}/backups` },
      cron: off(e.BACKUP_CRON),
      retentionCount: e.BACKUP_RETENTION_COUNT,
      retentionDays: e.BACKUP_RETENTION_DAYS,
      encryptionKey: e.BACKUP_ENCRYPTION_KEY ? Buffer.from(e.BACKUP_ENCRYPTION_KEY, 'base64') : null,
      compressionLevel: e.BACKUP_COMPRESSION_LEVEL,
      pollSeconds: e.BACKUP_POLL_SECONDS,
    },
    retention: {
      memoryPurgeCron: off(e.MEMORY_PURGE_CRON),
      conversationPurgeCron: off(e.CONVERSATION_PURGE_CRON),
      conversationPurgeAfterDays: e.CONVERSATION_PURGE_AFTER_DAYS,
      eventPurgeCron: off(e.EVENT_PURGE_CRON),
      eventRetentionHours: e.EVENT_RETENTION_HOURS,
      threadRetentionDays: e.LANGGRAPH_THREAD_RETENTION_DAYS ?? null,
      usageFoldCron: off(e.USAGE_FOLD_CRON),
    },
    logLevel: e.LOG_LEVEL,
  };
}
