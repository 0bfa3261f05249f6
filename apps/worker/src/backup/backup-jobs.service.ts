import { Inject, Injectable, Logger } from '@nestjs/common';
import { BackupBusyError, type ProgressListener } from './backup-events';
import { BackupRetentionService, type PruneResult } from './backup-retention.service';
import { BackupService, type BackupResult } from './backup.service';

/**
 * The backup jobs, whoever starts them: `agenthub backup` (BackupCommand) and the worker's timers
 * (BackupScheduler) call these, so a backup followed by retention is written once.
 */
@Injectable()
export class BackupJobsService {
  private readonly logger = new Logger(BackupJobsService.name);
  private draining: Promise<number> | null = null;

  constructor(
    @Inject(BackupService) private readonly backups: BackupService,
    @Inject(BackupRetentionService) private readonly retention: BackupRetentionService,
  ) {}

  /**
   * A backup now, then retention (unless `prune: false`). Throws what the backup throws (BackupBusyError when
   * another one runs); a failing prune does not undo a completed backup: it is logged and `pruned` is null.
   */
  async backupThenPrune(options: { onProgress?: ProgressListener; prune?: boolean } = {}): Promise<{ backup: BackupResult; pruned: PruneResult | null }> {
    const backup = await this.backups.run({ onProgress: options.onProgress });
    return { backup, pruned: options.prune === false ? null : await this.prune() };
  }

  /** The cron job: backupThenPrune, logged and never thrown at the timer. Another worker's backup is not an error. */
  async scheduledBackup(): Promise<void> {
    try {
      await this.backupThenPrune();
    } catch (e) {
      if (e instanceof BackupBusyError) this.logger.log('scheduled backup skipped: another backup is running');
      else this.logger.error(`scheduled backup failed: ${(e as Error).message}`);
    }
  }

  /**
   * Runs queued requests (notification or poll) until none is left, then retention once, and fails runs
   * abandoned by dead workers. Concurrent calls share one drain. Resolves to the number of backups run.
   */
  drainQueue(): Promise<number> {
    this.draining ??= this.drain().finally(() => (this.draining = null));
    return this.draining;
  }

  private async drain(): Promise<number> {
    let ran = 0;
    try {
      await this.backups.sweepIfIdle();
      while (await this.backups.runNextQueued()) ran++;
    } catch (e) {
      if (!(e instanceof BackupBusyError)) this.logger.error(`queued backup failed: ${(e as Error).message}`);
    }
    if (ran) await this.prune();
    return ran;
  }

  private async prune(): Promise<PruneResult | null> {
    try {
      return await this.retention.prune();
    } catch (e) {
      this.logger.error(`backup retention failed: ${(e as Error).message}`);
      return null;
    }
  }
}
