import { Injectable, Logger } from '@nestjs/common';
import { ConversationEventRepository, type ConversationEventType, type Prisma } from '@agenthub/db';
import { RequestContext } from '../common/tenancy/request-context';

/**
 * The writers' side of live events: records a request's events in its transaction and, once it has committed,
 * tells this replica's feeds (ConversationEventFeed registers through `onCommitted`) and the other replicas
 * (NOTIFY, off the request's path). Writers depend on this alone, never on the SSE machinery.
 */
@Injectable()
export class ConversationEventRecorder {
  private readonly logger = new Logger(ConversationEventRecorder.name);
  private readonly committedListeners = new Set<(conversationId: string) => void>();
  private readonly unannounced = new Map<string, number>();
  private announcing = false;

  constructor(
    private readonly events: ConversationEventRepository,
    private readonly context: RequestContext,
  ) {}

  /** Records events of the current request (in its transaction) and delivers them after commit. */
  async record(conversationId: string, events: Array<{ type: ConversationEventType; payload: unknown }>): Promise<void> {
    if (!events.length) return;
    const seqs = await this.events.record(
      this.context.organizationId,
      conversationId,
      events.map((e) => ({ type: e.type, payload: e.payload as Prisma.InputJsonValue })),
      this.context.db,
    );
    this.deliverAfterCommit(conversationId, seqs[seqs.length - 1]);
  }

  /**
   * Events the request's own statement wrote, up to `lastSeq` (MessageRepository.appendWithOutcome's
   * `recordCreatedEvents`): delivered once the transaction commits, like recorded ones.
   */
  recorded(conversationId: string, lastSeq: number): void {
    this.deliverAfterCommit(conversationId, lastSeq);
  }

  /** Called with a conversation's id each time events of it have committed on this replica. */
  onCommitted(listener: (conversationId: string) => void): () => void {
    this.committedListeners.add(listener);
    return () => this.committedListeners.delete(listener);
  }

  private deliverAfterCommit(conversationId: string, lastSeq: number): void {
    this.context.afterCommit(() => {
      for (const listener of this.committedListeners) listener(conversationId);
      this.announce(conversationId, lastSeq);
    });
  }

  /**
   * Tells the other replicas, after commit and off the request's path: announcements made while one is being
   * sent go out together in the next (one NOTIFY transaction for many commits; see CONVERSATION_EVENTS_CHANNEL).
   */
  private announce(conversationId: string, seq: number): void {
    this.unannounced.set(conversationId, Math.max(seq, this.unannounced.get(conversationId) ?? 0));
    if (this.announcing) return;
    this.announcing = true;
    setImmediate(() => void this.sendAnnouncements());
  }

  private async sendAnnouncements(): Promise<void> {
    while (this.unannounced.size) {
      const batch = [...this.unannounced].map(([conversationId, seq]) => ({ conversationId, seq }));
      this.unannounced.clear();
      try {
        await this.events.announce(batch);
      } catch (error) {
        // The events are committed; other replicas find them at their feeds' next periodic check.
        this.logger.warn(`announcing events of ${batch.length} conversation(s) failed: ${(error as Error).message}`);
      }
    }
    this.announcing = false;
  }

  /** Resolves when the announcements queued so far have been sent (graceful shutdown, before the pool closes). */
  async flushAnnouncements(): Promise<void> {
    while (this.announcing) await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
