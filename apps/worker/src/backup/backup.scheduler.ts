import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { BACKUP_REQUESTED_CHANNEL, PgListener } from '@agenthub/db';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { BackupJobsService } from './backup-jobs.service';

/**
 * Timers of the backup feature: BACKUP_CRON, and requests from the API (LISTEN on the request channel, plus a
 * poll every BACKUP_POLL_SECONDS for notifications missed while disconnected; the poll also sweeps runs left by
 * dead workers). Each timer is one call into BackupJobsService.
 */
@Injectable()
export class BackupScheduler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(BackupScheduler.name);
  private stopListening: (() => void) | null = null;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(SchedulerRegistry) private readonly registry: SchedulerRegistry,
    @Inject(PgListener) private readonly listener: PgListener,
    @Inject(BackupJobsService) private readonly jobs: BackupJobsService,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const { cron, pollSeconds } = this.config.backup;
    if (cron) {
      const job = CronJob.from({ cronTime: cron, onTick: () => this.jobs.scheduledBackup(), waitForCompletion: true });
      this.registry.addCronJob('backup', job);
      job.start();
      this.logger.log(`backups scheduled: ${cron}`);
    }
    this.registry.addInterval('backup-queue', setInterval(() => void this.jobs.drainQueue(), pollSeconds * 1000));
    // An empty payload (the listener reconnected) also drains: requests may have come while it was away.
    this.stopListening = this.listener.on(BACKUP_REQUESTED_CHANNEL, () => void this.jobs.drainQueue());
    void this.jobs.drainQueue();
  }

  onApplicationShutdown(): void {
    this.stopListening?.();
  }
}
