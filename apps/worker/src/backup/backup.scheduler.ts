import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import pg from 'pg';
import { BACKUP_REQUESTED_CHANNEL, PrismaService } from '@agenthub/db';
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
  private listener: pg.Client | null = null;
  private stopped = false;

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(SchedulerRegistry) private readonly registry: SchedulerRegistry,
    @Inject(PrismaService) private readonly prisma: PrismaService,
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
    await this.listen();
    void this.jobs.drainQueue();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.listener?.end().catch(() => undefined);
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.prisma.target.url, application_name: 'agenthub-worker-listen' });
    client.on('notification', () => void this.jobs.drainQueue());
    client.on('error', (e) => {
      this.logger.warn(`backup request listener lost its connection (${e.message}); polling until it reconnects`);
      this.listener = null;
      if (!this.stopped) setTimeout(() => void this.listen().catch(() => undefined), 5000).unref();
    });
    await client.connect();
    await client.query(`listen ${BACKUP_REQUESTED_CHANNEL}`);
    this.listener = client;
  }
}
