import { Inject, Injectable, Logger } from '@nestjs/common';
import { AnalyticsRepository, ConversationEventRepository, ConversationRepository, LangGraphRepository, LangGraphStoreRepository, MemoryRepository } from '@agenthub/db';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';

const MEMORY_BATCH = 10_000;

/**
 * Data retention: expired memories (AgentHub's and LangGraph stores' items past their TTL), conversations deleted
 * longer ago than CONVERSATION_PURGE_AFTER_DAYS, live events older than EVENT_RETENTION_HOURS, and — when
 * LANGGRAPH_THREAD_RETENTION_DAYS is set — LangGraph threads idle for longer.
 */
@Injectable()
export class RetentionService {
  private readonly logger = new Logger(RetentionService.name);

  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(MemoryRepository) private readonly memories: MemoryRepository,
    @Inject(ConversationRepository) private readonly conversations: ConversationRepository,
    @Inject(ConversationEventRepository) private readonly events: ConversationEventRepository,
    @Inject(AnalyticsRepository) private readonly analytics: AnalyticsRepository,
    @Inject(LangGraphStoreRepository) private readonly storeItems: LangGraphStoreRepository,
    @Inject(LangGraphRepository) private readonly threads: LangGraphRepository,
  ) {}

  /** Folds every organization's pending usage deltas into the hourly rollup, so that usage reads stay cheap. */
  async foldUsage(): Promise<number> {
    const n = await this.analytics.foldUsage();
    if (n) this.logger.debug(`folded ${n} usage deltas`);
    return n;
  }

  /** Drops live events older than EVENT_RETENTION_HOURS: SSE clients reconnecting later than that start fresh. */
  async purgeOldEvents(now = new Date()): Promise<number> {
    const before = new Date(now.getTime() - this.config.retention.eventRetentionHours * 3_600_000);
    const n = await this.events.purgeOlderThan(before);
    if (n) this.logger.log(`purged ${n} live events older than ${before.toISOString()}`);
    return n;
  }

  /** Deletes memories whose expires_at has passed, in batches (short transactions, no long row locks). */
  async purgeExpiredMemories(now = new Date()): Promise<number> {
    const total = await inBatches(() => this.memories.purgeExpired(now, MEMORY_BATCH));
    if (total) this.logger.log(`purged ${total} expired memories`);
    return total;
  }

  /** Deletes LangGraph store items whose TTL has run out (expires_at passed), in batches. */
  async purgeExpiredStoreItems(now = new Date()): Promise<number> {
    const total = await inBatches(() => this.storeItems.purgeExpired(now, MEMORY_BATCH));
    if (total) this.logger.log(`purged ${total} expired LangGraph store items`);
    return total;
  }

  /** Deletes LangGraph threads with no checkpoint for LANGGRAPH_THREAD_RETENTION_DAYS (nothing when it is unset). */
  async purgeIdleThreads(now = new Date()): Promise<number> {
    const days = this.config.retention.threadRetentionDays;
    if (days === null) return 0;
    const before = new Date(now.getTime() - days * 86_400_000);
    const total = await inBatches(() => this.threads.purgeIdleThreads(before, MEMORY_BATCH));
    if (total) this.logger.log(`purged ${total} LangGraph threads idle since before ${before.toISOString()}`);
    return total;
  }

  /** Hard-deletes conversations (and their messages) soft-deleted more than the configured days ago. */
  async purgeDeletedConversations(now = new Date()): Promise<number> {
    const before = new Date(now.getTime() - this.config.retention.conversationPurgeAfterDays * 86_400_000);
    const n = await this.conversations.purgeDeleted(before);
    if (n) this.logger.log(`purged ${n} conversations deleted before ${before.toISOString()}`);
    return n;
  }
}

/** Runs a purge of at most MEMORY_BATCH rows until one removes fewer (short transactions, no long row locks). */
async function inBatches(purge: () => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await purge();
    total += n;
    if (n < MEMORY_BATCH) return total;
  }
}
