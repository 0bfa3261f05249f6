import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import type { BackupStatus } from '../../generated/prisma/enums';
import { PrismaService, type Db } from '../prisma.service';
import { InvalidInputError } from '../errors';
import { cursorDate, decodeCursor, isUuid, pageSize, toPage, type Page } from '../pagination';

export const BACKUP_SELECT = {
  id: true,
  status: true,
  target: true,
  location: true,
  schemaVersion: true,
  sizeBytes: true,
  encrypted: true,
  manifest: true,
  error: true,
  startedAt: true,
  finishedAt: true,
} satisfies Prisma.BackupSelect;
type BackupRecord = Prisma.BackupGetPayload<{ select: typeof BACKUP_SELECT }>;
/** sizeBytes is bigint in the table; a number here (exact up to 8 PiB) so rows serialise as JSON. */
export type BackupRow = Omit<BackupRecord, 'sizeBytes'> & { sizeBytes: number | null };
export type { BackupStatus };

export const BACKUP_STATUSES = ['queued', 'running', 'completed', 'failed'] as const satisfies readonly BackupStatus[];

/** The channel `requestBackup` notifies; the worker LISTENs on it (and polls, in case it missed one). */
export const BACKUP_REQUESTED_CHANNEL = 'agenthub_backup_requested';

export interface BackupCompletion {
  location: string;
  schemaVersion: string;
  sizeBytes: number;
  encrypted: boolean;
  manifest: Prisma.InputJsonObject;
}

function toRow(r: BackupRecord): BackupRow {
  return { ...r, sizeBytes: r.sizeBytes === null ? null : Number(r.sizeBytes) };
}

/**
 * The catalog row of a restored backup, in the restored database: the snapshot was taken while the backup's own
 * row said `running`; there it is the backup the data came from, so it says so. A statement (not a method) because
 * it runs on the restore's own connection, in its load transaction (WholeDatabase.load → LoadSession.run).
 */
export function restoredBackupStatement(manifest: {
  id: string;
  schemaVersion: string;
  finishedAt: string;
  encryption: unknown;
  object: { location: string; sizeBytes: number };
}): { text: string; values: unknown[] } {
  return {
    text: `update backups set status = 'completed', location = $2, schema_version = $3, size_bytes = $4, encrypted = $5,
                  manifest = $6::jsonb, error = null, finished_at = $7
            where id = $1::uuid and status <> 'completed'`,
    values: [
      manifest.id,
      manifest.object.location,
      manifest.schemaVersion,
      manifest.object.sizeBytes,
      manifest.encryption !== null,
      JSON.stringify(manifest),
      manifest.finishedAt,
    ],
  };
}

/**
 * The catalog of backups (operator-level, not tenant-owned). The API requests backups and reads the catalog;
 * the worker claims requests, records runs and applies retention. A row only says `completed` once the backup
 * object and its manifest are both stored.
 */
@Injectable()
export class BackupRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /**
   * Queues a backup for the worker and wakes it (pg_notify is delivered when the transaction commits).
   * `target`/`location` are filled in when a worker starts it.
   */
  async requestBackup(db?: Db): Promise<BackupRow> {
    return this.prisma.inTransaction(db, async (tx) => {
      const row = await tx.backup.create({
        data: { status: 'queued', target: 'pending', location: '' },
        select: BACKUP_SELECT,
      });
      await tx.$executeRaw`select pg_notify(${BACKUP_REQUESTED_CHANNEL}, ${row.id})`;
      return toRow(row);
    });
  }

  async findById(id: string, db: Db = this.prisma): Promise<BackupRow | null> {
    if (!isUuid(id)) return null;
    const row = await db.backup.findUnique({ where: { id }, select: BACKUP_SELECT });
    return row ? toRow(row) : null;
  }

  /** Newest first (startedAt desc, id desc); optionally one status. */
  async listPage(
    options: { limit?: number; cursor?: string | null; status?: BackupStatus } = {},
    db: Db = this.prisma,
  ): Promise<Page<BackupRow>> {
    const limit = pageSize(options.limit);
    if (options.status !== undefined && !BACKUP_STATUSES.includes(options.status)) {
      throw new InvalidInputError('status is not valid', [{ path: 'status', message: `one of ${BACKUP_STATUSES.join(', ')}` }]);
    }
    const after = decodeCursor(options.cursor);
    const at = after ? cursorDate(after.sortValue) : null;
    const rows = await db.backup.findMany({
      where: {
        ...(options.status ? { status: options.status } : {}),
        ...(after && at ? { OR: [{ startedAt: { lt: at } }, { startedAt: at, id: { lt: after.id } }] } : {}),
      },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      select: BACKUP_SELECT,
    });
    return toPage(rows.map(toRow), limit, (r) => r.startedAt.toISOString());
  }

  /** A new run the worker starts by itself (schedule, command line). */
  async createRunning(input: { id?: string; target: string; location: string }, db: Db = this.prisma): Promise<BackupRow> {
    if (input.id !== undefined && !isUuid(input.id)) {
      throw new InvalidInputError('id must be a UUID', [{ path: 'id', message: 'not a UUID' }]);
    }
    const row = await db.backup.create({
      data: { id: input.id, status: 'running', target: input.target, location: input.location },
      select: BACKUP_SELECT,
    });
    return toRow(row);
  }

  /** The oldest queued request, if any. */
  async nextQueued(db: Db = this.prisma): Promise<BackupRow | null> {
    const row = await db.backup.findFirst({
      where: { status: 'queued' },
      orderBy: [{ startedAt: 'asc' }, { id: 'asc' }],
      select: BACKUP_SELECT,
    });
    return row ? toRow(row) : null;
  }

  /** queued → running; null when the row is gone or another worker took it first. */
  async claimQueued(id: string, input: { target: string; location: string }, db: Db = this.prisma): Promise<BackupRow | null> {
    if (!isUuid(id)) return null;
    const { count } = await db.backup.updateMany({
      where: { id, status: 'queued' },
      data: { status: 'running', target: input.target, location: input.location, startedAt: new Date() },
    });
    return count ? this.findById(id, db) : null;
  }

  /** running → completed. False when the row is no longer running (a sweeper failed it meanwhile). */
  async markCompleted(id: string, done: BackupCompletion, db: Db = this.prisma): Promise<boolean> {
    const { count } = await db.backup.updateMany({
      where: { id, status: 'running' },
      data: {
        status: 'completed',
        location: done.location,
        schemaVersion: done.schemaVersion,
        sizeBytes: BigInt(done.sizeBytes),
        encrypted: done.encrypted,
        manifest: done.manifest,
        error: null,
        finishedAt: new Date(),
      },
    });
    return count === 1;
  }

  /** queued/running → failed with a reason (never secrets: callers pass messages, not configuration). */
  async markFailed(id: string, error: string, db: Db = this.prisma): Promise<boolean> {
    const { count } = await db.backup.updateMany({
      where: { id, status: { in: ['queued', 'running'] } },
      data: { status: 'failed', error: error.slice(0, 4000), finishedAt: new Date() },
    });
    return count === 1;
  }

  /**
   * Fails every `running` row: only call this while holding the backup lock, when no run can be in progress, so
   * a row still `running` belongs to a worker that died. Returns the rows it failed.
   */
  async failAbandoned(reason: string, db: Db = this.prisma): Promise<BackupRow[]> {
    return this.prisma.inTransaction(db, async (tx) => {
      const rows = await tx.backup.findMany({ where: { status: 'running' }, select: BACKUP_SELECT });
      if (!rows.length) return [];
      await tx.backup.updateMany({
        where: { id: { in: rows.map((r) => r.id) }, status: 'running' },
        data: { status: 'failed', error: reason, finishedAt: new Date() },
      });
      return rows.map(toRow);
    });
  }

  /** Every row of the given statuses, newest first (retention works on these). */
  async listByStatus(statuses: BackupStatus[], db: Db = this.prisma): Promise<BackupRow[]> {
    const rows = await db.backup.findMany({
      where: { status: { in: statuses } },
      orderBy: [{ startedAt: 'desc' }, { id: 'desc' }],
      select: BACKUP_SELECT,
    });
    return rows.map(toRow);
  }

  async delete(id: string, db: Db = this.prisma): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { count } = await db.backup.deleteMany({ where: { id } });
    return count === 1;
  }
}
