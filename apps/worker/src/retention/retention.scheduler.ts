import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';
import { CronJob } from 'cron';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { RetentionService } from './retention.service';

/** MEMORY_PURGE_CRON, CONVERSATION_PURGE_CRON, EVENT_PURGE_CRON and USAGE_FOLD_CRON: one call into RetentionService each. */
@Injectable()
export class RetentionScheduler implements OnApplicationBootstrap {
  private readonly logger = new Logger(RetentionScheduler.name);

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(SchedulerRegistry) private readonly registry: SchedulerRegistry,
    @Inject(RetentionService) private readonly retention: RetentionService,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule('purge-expired-memories', this.config.retention.memoryPurgeCron, () => this.retention.purgeExpiredMemories());
    this.schedule('purge-expired-store-items', this.config.retention.memoryPurgeCron, () => this.retention.purgeExpiredStoreItems());
    this.schedule('purge-idle-langgraph-threads', this.config.retention.conversationPurgeCron, () => this.retention.purgeIdleThreads());
    this.schedule('purge-deleted-conversations', this.config.retention.conversationPurgeCron, () => this.retention.purgeDeletedConversations());
    this.schedule('purge-old-events', this.config.retention.eventPurgeCron, () => this.retention.purgeOldEvents());
    this.schedule('fold-usage', this.config.retention.usageFoldCron, () => this.retention.foldUsage());
  }

  private schedule(name: string, cron: string | null, run: () => Promise<number>): void {
    if (!cron) return;
    const job = CronJob.from({
      cronTime: cron,
      onTick: () => run().then(() => undefined, (e: Error) => this.logger.error(`${name} failed: ${e.message}`)),
      waitForCompletion: true,
    });
    this.registry.addCronJob(name, job);
    job.start();
    this.logger.log(`${name} scheduled: ${cron}`);
  }
}
