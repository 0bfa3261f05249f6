import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import {
  appliedMigrations,
  applyMigrations,
  connectWholeDatabase,
  copyLoader,
  copyOut,
  copyOutSql,
  deferIndexesAndForeignKeys,
  insertLoader,
  listTables,
  migrationNames,
  PrismaService,
  quoteIdent,
  redactUrl,
  resetSequences,
  serverInfo,
  setUserTriggers,
  tablesWithUserTriggers,
  type TableInfo,
  type TableLoader,
} from '@agenthub/db';
import type pg from 'pg';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { BACKUP_STORAGE, type BackupStorage } from '../storage/backup-storage';
import type { ProgressListener } from './backup-events';
import { RowDigest } from './backup-format';
import { BackupIntegrityError, checkKey, loadManifest, readBackup } from './backup-reader';
import type { BackupManifest } from './backup-manifest';

export interface RestoreOptions {
  /** Restore into this database instead of the configured one. */
  targetUrl?: string;
  /** Replace the data of a non-empty database (every table is emptied first, in the same transaction). */
  force?: boolean;
  onProgress?: ProgressListener;
}

export interface RestoreResult {
  id: string;
  target: string;
  schemaVersion: string;
  tables: number;
  rows: number;
  /** tables whose row count and sha256 were re-read from the restored database and matched the manifest */
  verifiedTables: number;
  replacedExisting: boolean;
  loader: 'copy' | 'insert';
  ms: number;
}

/** The target holds data and --force was not given: nothing was changed. */
export class RestoreRefusedError extends Error {}

/**
 * Restores a backup into an empty database: migrations first (to the schema this build knows, which must include
 * the backup's schema version), then in ONE transaction every table in foreign-key order with COPY FROM STDIN
 * (batched INSERTs on the embedded database), sequence fix-ups, and a verification that re-reads every table and
 * compares its row count and sha256 with the manifest. The transaction commits only when the stored object's
 * checksum, the GCM tag (encrypted backups) and every table matched; otherwise nothing is changed.
 */
@Injectable()
export class RestoreService {
  private readonly logger = new Logger(RestoreService.name);

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
  ) {}

  async restore(id: string, options: RestoreOptions = {}): Promise<RestoreResult> {
    const started = Date.now();
    const manifest = await loadManifest(this.storage, id);
    checkKey(manifest, this.config.backup.encryptionKey);
    const known = migrationNames();
    if (!known.includes(manifest.schemaVersion)) {
      throw new RestoreRefusedError(
        `backup ${id} was made with schema ${manifest.schemaVersion}, which this build does not know: restore it with a newer agenthub`,
      );
    }
    const url = options.targetUrl ?? this.prisma.target.url;
    const target = redactUrl(url);

    // Refuse before changing anything, migrations included.
    const probe = await connectWholeDatabase(url, 'agenthub-restore');
    let nonEmpty: string[];
    try {
      nonEmpty = await tablesWithRows(probe, await listTables(probe));
    } finally {
      await probe.end().catch(() => undefined);
    }
    if (nonEmpty.length && !options.force) {
      throw new RestoreRefusedError(
        `the target database is not empty (${nonEmpty.slice(0, 5).join(', ')}${nonEmpty.length > 5 ? ', …' : ''} hold rows): ` +
          `restore into an empty database (--target-url) or pass --force to replace its data`,
      );
    }

    await applyMigrations({ url }, { quiet: true });
    const client = await connectWholeDatabase(url, 'agenthub-restore');
    let loader: TableLoader | null = null;
    try {
      const applied = await appliedMigrations(client);
      const pending = known.filter((m) => !applied.includes(m));
      if (pending.length) throw new Error(`the target still has pending migrations after migrating: ${pending.join(', ')}`);
      const server = await serverInfo(client);
      const tables = new Map((await listTables(client)).map((t) => [t.name, t]));
      for (const t of manifest.tables) {
        const have = tables.get(t.name);
        const missing = t.columns.filter((c) => !have?.columns.some((h) => h.name === c));
        if (!have || missing.length) {
          throw new RestoreRefusedError(`the target schema has no ${have ? `column(s) ${missing.join(', ')} in ` : 'table '}${t.name}`);
        }
      }

      if (server.pglite) {
        // The embedded database did not reliably undo a failed restore's rows on rollback in our tests (PGlite
        // 0.5 over its socket server), so there the whole object (checksums, GCM tag) is verified before loading.
        await readBackup(this.storage, manifest, this.config.backup.encryptionKey);
      }
      await client.query('begin');
      // Always, even when empty: besides --force's emptying, a table truncated in this transaction can be loaded
      // with COPY … FREEZE (rows written frozen, so the verification pass that re-reads them right after does
      // not rewrite every page to set hint bits).
      if (tables.size) await client.query(`truncate ${[...tables.keys()].map(quoteIdent).join(', ')} restart identity cascade`);
      // Triggers would re-derive rows the backup already holds (rolled back with everything else on failure).
      const triggered = await tablesWithUserTriggers(client);
      await setUserTriggers(client, triggered, false);
      const deferred = await deferIndexesAndForeignKeys(client);
      options.onProgress?.({ phase: 'start', backupId: id, tables: manifest.tables.length });
      let index = 0;
      const read = await readBackup(this.storage, manifest, this.config.backup.encryptionKey, {
        start: async (entry) => {
          const info = tables.get(entry.name)!;
          const columns = entry.columns.map((c) => info.columns.find((h) => h.name === c)!);
          loader = server.pglite ? insertLoader(client, entry.name, columns) : copyLoader(client, entry.name, entry.columns, { freeze: true });
        },
        data: (chunk) => loader!.write(chunk),
        end: async (entry) => {
          const loaded = await loader!.end();
          loader = null;
          if (loaded !== entry.rows) throw new BackupIntegrityError(`table ${entry.name}: loaded ${loaded} rows, the manifest says ${entry.rows}`);
          options.onProgress?.({ phase: 'table', table: entry.name, index: ++index, tables: manifest.tables.length, rows: entry.rows, bytes: entry.bytes });
        },
        // The object failed a check while a table was loading (a bad GCM tag only shows at the very end): end
        // that COPY with CopyFail so the connection is free for the ROLLBACK below.
        abort: async (error) => {
          const current = loader as TableLoader | null;
          loader = null;
          await current?.abort(error);
        },
      });
      await deferred.recreate();
      await setUserTriggers(client, triggered, true);
      await resetSequences(client);
      const verified = await verifyTables(client, manifest, tables);
      await this.markRestoredBackup(client, manifest);
      await client.query('commit');
      options.onProgress?.({ phase: 'finish' });
      const result: RestoreResult = {
        id,
        target,
        schemaVersion: manifest.schemaVersion,
        tables: read.tables,
        rows: read.rows,
        verifiedTables: verified,
        replacedExisting: nonEmpty.length > 0,
        loader: server.pglite ? 'insert' : 'copy',
        ms: Date.now() - started,
      };
      this.logger.log(`restored backup ${id} into ${target}: ${result.tables} tables, ${result.rows} rows in ${result.ms} ms`);
      return result;
    } catch (error) {
      // Whatever failed, a COPY still open would hold the ROLLBACK in pg's queue forever.
      await (loader as TableLoader | null)?.abort(error as Error).catch(() => undefined);
      await client.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /**
   * The snapshot was taken while this backup's own catalog row said `running`; in the restored database it
   * is the backup the data came from, so it says so (after verification, which compared the row as it was).
   */
  private async markRestoredBackup(client: pg.Client, manifest: BackupManifest): Promise<void> {
    await client.query(
      `update backups set status = 'completed', location = $2, schema_version = $3, size_bytes = $4, encrypted = $5,
              manifest = $6::jsonb, error = null, finished_at = $7
        where id = $1::uuid and status <> 'completed'`,
      [
        manifest.id,
        manifest.object.location,
        manifest.schemaVersion,
        manifest.object.sizeBytes,
        manifest.encryption !== null,
        JSON.stringify(manifest),
        manifest.finishedAt,
      ],
    );
  }
}

async function tablesWithRows(client: pg.Client, tables: TableInfo[]): Promise<string[]> {
  const found: string[] = [];
  for (const t of tables) {
    const { rowCount } = await client.query(`select 1 from ${quoteIdent(t.name)} limit 1`);
    if (rowCount) found.push(t.name);
  }
  return found;
}

/**
 * Re-reads every restored table (COPY, same session settings as the backup) and compares it with the manifest:
 * row count and the order-independent row digest (a restored table's physical order may differ from the
 * backup's), or the sha256 for manifests written before row digests existed.
 */
export async function verifyTables(client: pg.Client, manifest: BackupManifest, tables: Map<string, TableInfo>): Promise<number> {
  let verified = 0;
  for (const entry of manifest.tables) {
    const hash = createHash('sha256');
    const digest = new RowDigest();
    for await (const chunk of copyOut(client, copyOutSql({ name: entry.name, columns: entry.columns })) as AsyncIterable<Buffer>) {
      if (entry.rowDigest) digest.update(chunk);
      else hash.update(chunk);
    }
    const rows = digest.rows;
    const [got, want] = entry.rowDigest ? [digest.digest(), entry.rowDigest] : [hash.digest('hex'), entry.sha256];
    if ((entry.rowDigest && rows !== entry.rows) || got !== want) {
      throw new BackupIntegrityError(
        `verification failed for ${entry.name}: restored ${entry.rowDigest ? `${rows} rows, digest` : 'sha256'} ${got.slice(0, 12)}…, ` +
          `the manifest says ${entry.rows} rows, ${want.slice(0, 12)}…`,
      );
    }
    verified++;
  }
  // Tables the target has but the backup did not (a newer schema) must be empty, or the restore is not the backup.
  for (const name of tables.keys()) {
    if (manifest.tables.some((t) => t.name === name)) continue;
    const { rowCount } = await client.query(`select 1 from ${quoteIdent(name)} limit 1`);
    if (rowCount) throw new BackupIntegrityError(`table ${name} is not in the backup but holds rows`);
  }
  return verified;
}
