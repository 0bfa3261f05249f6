import { Inject, Injectable, Logger } from '@nestjs/common';
import { BackupBusyError } from './backup-events';
import { BackupRetentionService } from './backup-retention.service';
import { BACKUP_LOCK, BackupService } from './backup.service';
import { JobLockService } from '../locks/job-lock.service';

/** What the worker's timers do; the schedulers only call these. Errors are logged, never thrown at a timer. */
@Injectable()
export class BackupJobsService {
  private readonly logger = new Logger(BackupJobsService.name);
  private draining: Promise<number> | null = null;

  constructor(
    @Inject(BackupService) private readonly backups: BackupService,
    @Inject(BackupRetentionService) private readonly retention: BackupRetentionService,
    @Inject(JobLockService) private readonly locks: JobLockService,
  ) {}

  /** The cron job: a backup, then retention. Another worker already running one is not an error. */
  async scheduledBackup(): Promise<void> {
    try {
      await this.backups.run();
      await this.retention.prune();
    } catch (e) {
      if (e instanceof BackupBusyError) this.logger.log('scheduled backup skipped: another backup is running');
      else this.logger.error(`scheduled backup failed: ${(e as Error).message}`);
    }
  }

  /**
   * Runs queued requests (notification or poll) until none is left, and fails runs abandoned by dead workers.
   * Concurrent calls share one drain. Resolves to the number of backups run.
   */
  drainQueue(): Promise<number> {
    this.draining ??= this.drain().finally(() => (this.draining = null));
    return this.draining;
  }

  private async drain(): Promise<number> {
    let ran = 0;
    try {
      await this.sweepWhenIdle();
      for (;;) {
        const result = await this.backups.runNextQueued();
        if (!result) break;
        ran++;
      }
      if (ran) await this.retention.prune();
    } catch (e) {
      if (!(e instanceof BackupBusyError)) this.logger.error(`queued backup failed: ${(e as Error).message}`);
    }
    return ran;
  }

  private async sweepWhenIdle(): Promise<void> {
    const lock = await this.locks.tryAcquire(BACKUP_LOCK);
    if (!lock) return;
    try {
      await this.backups.sweepAbandoned();
    } finally {
      await lock.release();
    }
  }
}
