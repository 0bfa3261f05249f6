import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { migrationNames, redactUrl, restoredBackupStatement, WholeDatabase, type LoadSession, type TableInfo, type TableLoader } from '@agenthub/db';
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
    @Inject(WholeDatabase) private readonly database: WholeDatabase,
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
    const url = options.targetUrl ?? this.database.url;
    const target = redactUrl(url);

    // Refuse before changing anything, migrations included.
    const probe = await this.database.load(url, 'agenthub-restore');
    let nonEmpty: string[];
    try {
      nonEmpty = await probe.tablesWithRows((await probe.tables()).map((t) => t.name));
    } finally {
      await probe.end();
    }
    if (nonEmpty.length && !options.force) {
      throw new RestoreRefusedError(
        `the target database is not empty (${nonEmpty.slice(0, 5).join(', ')}${nonEmpty.length > 5 ? ', …' : ''} hold rows): ` +
          `restore into an empty database (--target-url) or pass --force to replace its data`,
      );
    }

    await this.database.migrate(url);
    const session = await this.database.load(url, 'agenthub-restore');
    let loader: TableLoader | null = null;
    try {
      const applied = await session.migrations();
      const pending = known.filter((m) => !applied.includes(m));
      if (pending.length) throw new Error(`the target still has pending migrations after migrating: ${pending.join(', ')}`);
      const server = await session.server();
      const tables = new Map((await session.tables()).map((t) => [t.name, t]));
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
      // Every table emptied, even when empty: besides --force's emptying, a table truncated in this transaction
      // can be loaded with COPY … FREEZE (rows written frozen, so the verification pass that re-reads them right
      // after does not rewrite every page to set hint bits). Triggers off: they would re-derive rows the backup
      // already holds. All of it is rolled back with everything else on failure.
      const load = await session.beginLoad([...tables.keys()]);
      options.onProgress?.({ phase: 'start', backupId: id, tables: manifest.tables.length });
      let index = 0;
      const read = await readBackup(this.storage, manifest, this.config.backup.encryptionKey, {
        start: async (entry) => {
          loader = await session.loader(tables.get(entry.name)!, entry.columns);
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
      await load.finish();
      const verified = await verifyTables(session, manifest, tables);
      // The snapshot was taken while this backup's own catalog row said `running`; in the restored database it
      // is the backup the data came from, so it says so (after verification, which compared the row as it was).
      await session.run(restoredBackupStatement(manifest));
      await session.commit();
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
      await session.rollback();
      throw error;
    } finally {
      await session.end();
    }
  }
}

/**
 * Re-reads every restored table (COPY, same session settings as the backup) and compares it with the manifest:
 * row count and the order-independent row digest (a restored table's physical order may differ from the
 * backup's), or the sha256 for manifests written before row digests existed.
 */
export async function verifyTables(session: LoadSession, manifest: BackupManifest, tables: Map<string, TableInfo>): Promise<number> {
  let verified = 0;
  for (const entry of manifest.tables) {
    const hash = createHash('sha256');
    const digest = new RowDigest();
    for await (const chunk of session.copyOut({ name: entry.name, columns: entry.columns })) {
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
  const extra = [...tables.keys()].filter((name) => !manifest.tables.some((t) => t.name === name));
  const [holding] = await session.tablesWithRows(extra);
  if (holding) throw new BackupIntegrityError(`table ${holding} is not in the backup but holds rows`);
  return verified;
}
