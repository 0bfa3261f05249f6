import { Inject, Injectable, Logger } from '@nestjs/common';
import { BackupRepository, JobLockService, type BackupRow } from '@agenthub/db';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { BACKUP_STORAGE, type BackupStorage } from '../storage/backup-storage';
import { BackupBusyError } from './backup-events';
import { BACKUP_LOCK } from './backup.service';

export interface PruneResult {
  deleted: Array<{ id: string; status: string; startedAt: string; reason: 'count' | 'age' }>;
  kept: number;
}

/**
 * Backup retention: keeps the newest BACKUP_RETENTION_COUNT completed backups and none older than
 * BACKUP_RETENTION_DAYS, except that the newest completed backup is never deleted (age alone must not leave a
 * deployment whose backups stopped with none). Failed rows older than the age limit go too. Objects are deleted
 * before the catalog row, so a crash in between leaves a row pointing at nothing rather than an orphan object.
 */
@Injectable()
export class BackupRetentionService {
  private readonly logger = new Logger(BackupRetentionService.name);

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(BackupRepository) private readonly backups: BackupRepository,
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
    @Inject(JobLockService) private readonly locks: JobLockService,
  ) {}

  /** The rows retention would delete at `now` (newest first input). */
  plan(completed: BackupRow[], failed: BackupRow[], now = new Date()): PruneResult['deleted'] {
    const { retentionCount, retentionDays } = this.config.backup;
    const cutoff = now.getTime() - retentionDays * 86_400_000;
    const out: PruneResult['deleted'] = [];
    completed.forEach((row, i) => {
      const reason = i >= retentionCount ? 'count' : i > 0 && row.startedAt.getTime() < cutoff ? 'age' : null;
      if (reason) out.push({ id: row.id, status: row.status, startedAt: row.startedAt.toISOString(), reason });
    });
    for (const row of failed) {
      if (row.startedAt.getTime() < cutoff) out.push({ id: row.id, status: row.status, startedAt: row.startedAt.toISOString(), reason: 'age' });
    }
    return out;
  }

  async prune(now = new Date()): Promise<PruneResult> {
    const lock = await this.locks.tryAcquire(BACKUP_LOCK);
    if (!lock) throw new BackupBusyError();
    try {
      const completed = await this.backups.listByStatus(['completed']);
      const failed = await this.backups.listByStatus(['failed']);
      const deleted = this.plan(completed, failed, now);
      for (const d of deleted) {
        await this.storage.deleteBackup(d.id);
        await this.backups.delete(d.id);
        this.logger.log(`retention: deleted backup ${d.id} (${d.status}, ${d.startedAt}, by ${d.reason})`);
      }
      return { deleted, kept: completed.length - deleted.filter((d) => d.status === 'completed').length };
    } finally {
      await lock.release();
    }
  }
}
