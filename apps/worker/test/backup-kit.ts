import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { AnalyticsRepository, BackupRepository, ConversationEventRepository, ConversationRepository, JobLockService, LangGraphRepository, LangGraphStoreRepository, MemoryRepository, PrismaService, WholeDatabase, workspaceRoot } from '@agenthub/db';
import { createTestPrisma, ensureSiblingDatabase, testDatabaseMode } from '@agenthub/db/testing';
import { BackupJobsService } from '../src/backup/backup-jobs.service';
import { BackupRetentionService } from '../src/backup/backup-retention.service';
import { BackupVerifyService } from '../src/backup/backup-verify.service';
import { BackupService } from '../src/backup/backup.service';
import { RestoreService } from '../src/backup/restore.service';
import { loadWorkerConfig, type WorkerConfig } from '../src/config/worker.config';
import { RetentionService } from '../src/retention/retention.service';
import type { BackupStorage } from '../src/storage/backup-storage';
import { LocalBackupStorage } from '../src/storage/local.storage';
import { BackupBusyError } from '../src/backup/backup-events';

/**
 * The worker's services wired by hand on the test database (what CoreModule + BackupModule do in the app), with
 * a configuration parsed by the real schema from the given variables.
 */
export function makeKit(options: { env?: Record<string, string>; storage?: BackupStorage; prisma?: PrismaService } = {}) {
  const prisma = options.prisma ?? createTestPrisma();
  const backupDir = options.env?.BACKUP_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-backups-'));
  const config: WorkerConfig = loadWorkerConfig({ BACKUP_CRON: 'off', ...options.env, BACKUP_DIR: backupDir });
  const storage = options.storage ?? new LocalBackupStorage(backupDir);
  const repo = new BackupRepository(prisma);
  const locks = new JobLockService(prisma);
  const database = new WholeDatabase(prisma);
  const backups = new BackupService(config, database, repo, storage, locks);
  const retention = new BackupRetentionService(config, repo, storage, locks);
  return {
    prisma,
    config,
    storage,
    backupDir,
    repo,
    locks,
    backups,
    retention,
    jobs: new BackupJobsService(backups, retention),
    verifier: new BackupVerifyService(config, storage),
    restorer: new RestoreService(config, database, storage),
    dataRetention: new RetentionService(
      config,
      new MemoryRepository(prisma),
      new ConversationRepository(prisma),
      new ConversationEventRepository(prisma),
      new AnalyticsRepository(prisma),
      new LangGraphStoreRepository(prisma),
      new LangGraphRepository(prisma),
    ),
    async close() {
      if (!options.prisma) await prisma.$disconnect();
      fs.rmSync(backupDir, { recursive: true, force: true });
    },
  };
}

export const testEncryptionKey = () => randomBytes(32).toString('base64');

/**
 * A fresh, empty database to restore into: a new database on the test PostgreSQL server, or (embedded mode) a
 * new embedded server in a child process (PGlite cannot start inside Jest's VM).
 */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (testDatabaseMode() === 'postgres') {
    const suffix = `restore_${randomUUID().slice(0, 8)}`;
    const url = await ensureSiblingDatabase(process.env.TEST_DATABASE_URL!, suffix);
    return {
      url,
      drop: async () => {
        const admin = new URL(url);
        const name = admin.pathname.slice(1);
        admin.pathname = '/postgres';
        const c = new pg.Client({ connectionString: admin.toString() });
        await c.connect();
        try {
          // A pg pool that was just ended (e.g. a PrismaService's $disconnect) may still have sockets closing:
          // `with (force)` would send those a FATAL that pg-pool re-emits as an unhandled 'error' event. Give
          // the sessions time to go, and force only what is still there after that.
          for (let i = 0; i < 100; i++) {
            const { rows } = await c.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
              [name],
            );
            if (!rows[0].n) break;
            await new Promise((r) => setTimeout(r, 50));
          }
          await c.query(`drop database if exists "${name}" with (force)`);
        } finally {
          await c.end();
        }
      },
    };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-restore-'));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `const { startEmbeddedDatabase } = require('./libs/db/src/lib/connection/embedded-database');
       (async () => { const db = await startEmbeddedDatabase(${JSON.stringify(dir)});
         console.log(db.url); process.stdin.resume();
         process.stdin.on('end', async () => { await db.close(); process.exit(0); }); })();`,
    ],
    { cwd: workspaceRoot(), stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`embedded server exited with ${code}`)));
  });
  return {
    url,
    drop: async () => {
      await new Promise((resolve) => (child.once('exit', resolve), child.stdin!.end()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function query<T = Record<string, unknown>>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Other suites of this project back up the same database in parallel: wait for the lock instead of failing. */
export async function whenFree<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof BackupBusyError) || i > 600) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

