import { Inject, Injectable, Logger } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackupRepository, JobLockService, WholeDatabase, type BackupRow, type DatabaseSnapshot, type TableInfo } from '@agenthub/db';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { BACKUP_STORAGE, type BackupStorage, type ObjectWriter } from '../storage/backup-storage';
import { BackupBusyError, type ProgressListener } from './backup-events';
import {
  DATA_FRAME_BYTES,
  DigestStream,
  encryptStream,
  FORMAT_NAME,
  FORMAT_VERSION,
  FrameType,
  encodeFrame,
  jsonFrame,
  keyFingerprint,
  parallelGzip,
  RowDigest,
  type TableEndFrame,
} from './backup-format';
import { manifestKey, objectKey, type BackupManifest } from './backup-manifest';

export const BACKUP_LOCK = 'backup';

export interface BackupRunOptions {
  /** Run this queued request (from the API) instead of starting a new backup. */
  requestId?: string;
  onProgress?: ProgressListener;
}

export interface BackupResult {
  id: string;
  location: string;
  manifest: BackupManifest;
}

/**
 * Logical backups: every table of schema public (except Prisma's migration log) from one REPEATABLE READ
 * snapshot, as COPY text, framed, gzip-compressed, optionally AES-256-GCM encrypted, streamed to storage (memory
 * stays bounded by a few frames and the S3 part size). The catalog row goes running → completed only after the
 * object and its manifest are stored; any failure marks it failed and removes what was written.
 */
@Injectable()
export class BackupService {
  private readonly logger = new Logger(BackupService.name);

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(WholeDatabase) private readonly database: WholeDatabase,
    @Inject(BackupRepository) private readonly backups: BackupRepository,
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
    @Inject(JobLockService) private readonly locks: JobLockService,
  ) {}

  /** Runs one backup now. Throws BackupBusyError when another one holds the lock. */
  async run(options: BackupRunOptions = {}): Promise<BackupResult> {
    const lock = await this.locks.tryAcquire(BACKUP_LOCK);
    if (!lock) throw new BackupBusyError();
    try {
      await this.sweepAbandoned();
      const row = await this.startRow(options.requestId);
      const location = this.storage.location(objectKey(row.id));
      this.logger.log(`backup ${row.id} started → ${location}`);
      try {
        const manifest = await this.write(row, options.onProgress);
        if (!lock.held) throw new Error('lost the backup lock during the run');
        const completed = await this.backups.markCompleted(row.id, {
          location,
          schemaVersion: manifest.schemaVersion,
          sizeBytes: manifest.object.sizeBytes,
          encrypted: manifest.encryption !== null,
          manifest: manifest as unknown as Record<string, never>,
        });
        if (!completed) throw new Error('the catalog row was no longer running (failed by a sweeper)');
        this.logger.log(
          `backup ${row.id} completed: ${manifest.tables.length} tables, ${manifest.totals.rows} rows, ` +
            `${manifest.object.sizeBytes} bytes in ${manifest.timings.totalMs} ms`,
        );
        return { id: row.id, location, manifest };
      } catch (error) {
        const message = (error as Error).message;
        await this.storage.deleteBackup(row.id).catch((e: Error) => this.logger.warn(`cleanup of ${row.id}: ${e.message}`));
        await this.backups.markFailed(row.id, message).catch((e: Error) => this.logger.error(`marking ${row.id} failed: ${e.message}`));
        this.logger.error(`backup ${row.id} failed: ${message}`);
        throw error;
      }
    } finally {
      await lock.release();
    }
  }

  /** Runs the oldest queued request, if any (false when there was none or another worker holds the lock). */
  async runNextQueued(onProgress?: ProgressListener): Promise<BackupResult | null> {
    const next = await this.backups.nextQueued();
    if (!next) return null;
    try {
      return await this.run({ requestId: next.id, onProgress });
    } catch (e) {
      if (e instanceof BackupBusyError) return null;
      throw e;
    }
  }

  /**
   * Fails the runs left by dead workers when no backup is running (the lock is free; [] when it is not): what
   * `run` does before each backup, for a worker with nothing queued.
   */
  async sweepIfIdle(): Promise<BackupRow[]> {
    const lock = await this.locks.tryAcquire(BACKUP_LOCK);
    if (!lock) return [];
    try {
      return await this.sweepAbandoned();
    } finally {
      await lock.release();
    }
  }

  /**
   * With the lock held no backup can be in progress, so any row still `running` was left by a worker that died
   * (kill -9, lost machine): fail it and remove its partial objects.
   */
  private async sweepAbandoned(): Promise<BackupRow[]> {
    const abandoned = await this.backups.failAbandoned('abandoned: the process running it stopped before it finished');
    for (const row of abandoned) {
      this.logger.warn(`backup ${row.id} was left running by a stopped worker: marked failed`);
      await this.storage.deleteBackup(row.id).catch((e: Error) => this.logger.warn(`cleanup of ${row.id}: ${e.message}`));
    }
    return abandoned;
  }

  private async startRow(requestId?: string): Promise<BackupRow> {
    const target = this.storage.kind;
    if (!requestId) {
      const id = randomUUID();
      return this.backups.createRunning({ id, target, location: this.storage.location(objectKey(id)) });
    }
    const claimed = await this.backups.claimQueued(requestId, { target, location: this.storage.location(objectKey(requestId)) });
    if (!claimed) throw new Error(`backup request ${requestId} is not queued (already taken or unknown)`);
    return claimed;
  }

  private async write(row: BackupRow, onProgress?: ProgressListener): Promise<BackupManifest> {
    const started = Date.now();
    const startedAt = new Date(started).toISOString();
    const key = objectKey(row.id);
    const encryptionKey = this.config.backup.encryptionKey;
    const level = this.config.backup.compressionLevel;
    // One snapshot for every table: the backup is consistent even while the application writes.
    const snapshot = await this.database.snapshot('agenthub-backup');
    let writer: ObjectWriter | null = null;
    try {
      const migrations = await snapshot.migrations();
      if (!migrations.length) throw new Error('the database has no applied migrations: nothing to back up (run `npx nx run migrate`)');
      const schemaVersion = migrations[migrations.length - 1];
      const server = await snapshot.server();
      const tables = await snapshot.tables();
      onProgress?.({ phase: 'start', backupId: row.id, tables: tables.length });

      const results: BackupManifest['tables'] = [];
      const source = Readable.from(
        frames(snapshot, tables, { backupId: row.id, schemaVersion, startedAt }, (end, ms, index) => {
          const table = tables[index];
          results.push({
            name: end.table,
            columns: table.columns.map((c) => c.name),
            rows: end.rows,
            bytes: end.bytes,
            sha256: end.sha256,
            rowDigest: end.rowDigest,
            ms,
          });
          onProgress?.({ phase: 'table', table: end.table, index: index + 1, tables: tables.length, rows: end.rows, bytes: end.bytes });
        }),
        { objectMode: false },
      );
      const digest = new DigestStream();
      writer = this.storage.createWriter(key);
      const stages = [source, parallelGzip(level), ...(encryptionKey ? [encryptStream(encryptionKey)] : []), digest, writer.stream] as const;
      await pipeline(stages as unknown as [Readable, NodeJS.WritableStream]);
      const snapshotMs = Date.now() - started;
      await snapshot.commit();
      const storeStarted = Date.now();
      await writer.done();
      const sizeBytes = digest.bytes;
      const manifest: BackupManifest = {
        format: FORMAT_NAME,
        formatVersion: FORMAT_VERSION,
        id: row.id,
        schemaVersion,
        migrations,
        database: { mode: this.database.mode, serverVersion: server.version },
        startedAt,
        finishedAt: new Date().toISOString(),
        compression: { algorithm: 'gzip', level },
        encryption: encryptionKey ? { algorithm: 'aes-256-gcm', keyFingerprint: keyFingerprint(encryptionKey) } : null,
        object: { key, location: this.storage.location(key), sizeBytes, sha256: digest.digest() },
        tables: results,
        totals: { rows: results.reduce((n, t) => n + t.rows, 0), bytes: results.reduce((n, t) => n + t.bytes, 0) },
        timings: { totalMs: 0, snapshotMs, storeMs: 0 },
      };
      manifest.timings.storeMs = Date.now() - storeStarted;
      manifest.timings.totalMs = Date.now() - started;
      // The manifest goes last: its presence is what makes the backup complete in storage.
      await this.storage.put(manifestKey(row.id), Buffer.from(JSON.stringify(manifest, null, 2)));
      onProgress?.({ phase: 'finish' });
      return manifest;
    } catch (error) {
      const leftover = writer ? await writer.abort() : null;
      if (leftover) (error as Error).message += ` (cleanup: ${leftover})`;
      throw error;
    } finally {
      // No ROLLBACK: after a failure mid-table the COPY TO is still open (its reader stopped), pg would queue a
      // ROLLBACK behind it forever. Ending the session discards the read-only snapshot just as well.
      await snapshot.end();
    }
  }
}

/** The frame stream of one snapshot: header, then per table start / data… / end, then the trailer. */
async function* frames(
  snapshot: DatabaseSnapshot,
  tables: TableInfo[],
  header: { backupId: string; schemaVersion: string; startedAt: string },
  onTable: (end: TableEndFrame, ms: number, index: number) => void,
): AsyncGenerator<Buffer> {
  yield jsonFrame(FrameType.Header, {
    format: FORMAT_NAME,
    formatVersion: FORMAT_VERSION,
    backupId: header.backupId,
    schemaVersion: header.schemaVersion,
    createdAt: header.startedAt,
  });
  for (const [index, table] of tables.entries()) {
    const started = Date.now();
    yield jsonFrame(FrameType.TableStart, { table: table.name, columns: table.columns.map((c) => c.name) });
    const hash = createHash('sha256');
    const rowDigest = new RowDigest();
    let rows = 0;
    let bytes = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    for await (const chunk of snapshot.copyOut(table)) {
      hash.update(chunk);
      rowDigest.update(chunk);
      bytes += chunk.length;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= DATA_FRAME_BYTES) {
        yield encodeFrame(FrameType.Data, Buffer.concat(pending, pendingBytes));
        pending = [];
        pendingBytes = 0;
      }
    }
    if (pendingBytes) yield encodeFrame(FrameType.Data, Buffer.concat(pending, pendingBytes));
    rows = rowDigest.rows;
    const end: TableEndFrame = { table: table.name, rows, bytes, sha256: hash.digest('hex'), rowDigest: rowDigest.digest() };
    yield jsonFrame(FrameType.TableEnd, end);
    onTable(end, Date.now() - started, index);
  }
  yield jsonFrame(FrameType.Trailer, { tables: tables.length });
}
