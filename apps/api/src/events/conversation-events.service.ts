import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import {
  CONVERSATION_EVENTS_CHANNEL,
  ConversationEventRepository,
  PgListener,
  type ConversationEventRow,
  type ConversationEventType,
  type Db,
  type Prisma,
} from '@agenthub/db';
import { RequestContext } from '../common/tenancy/request-context';
import { TenantTransactions } from '../common/tenancy/tenant-transactions';

/** How often feeds check for events whose announcement was lost (see checkFeeds). */
const CHECK_FEEDS_MS = 2000;

export interface Subscriber {
  /** seq of the last event this subscriber has been sent */
  cursor: number;
  send(event: ConversationEventRow): void;
}

interface Feed {
  organizationId: string;
  subscribers: Set<Subscriber>;
  fetching: boolean;
  again: boolean;
}

/**
 * Live events of conversations (SSE). Writers record events in their request's transaction; at commit
 * PostgreSQL NOTIFYs every replica, and this replica also pokes its own feeds directly. A feed (one per
 * conversation with subscribers on this replica) then reads the events after the lowest subscriber cursor from
 * the table — one query however many subscribers — and hands each subscriber the events after its own cursor, in
 * seq order. Because delivery always reads the table, a missed NOTIFY (reconnecting listener) or a client's
 * Last-Event-ID is caught up the same way.
 */
@Injectable()
export class ConversationEventsService implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ConversationEventsService.name);
  private readonly feeds = new Map<string, Feed>();
  private readonly closers = new Set<() => void>();
  private readonly unannounced = new Map<string, number>();
  private announcing = false;
  private checkTimer?: NodeJS.Timeout;

  constructor(
    private readonly events: ConversationEventRepository,
    private readonly tenants: TenantTransactions,
    private readonly listener: PgListener,
    private readonly context: RequestContext,
  ) {}

  onModuleInit(): void {
    this.checkTimer = setInterval(() => void this.checkFeeds(), CHECK_FEEDS_MS);
    this.checkTimer.unref();
    this.listener.on(CONVERSATION_EVENTS_CHANNEL, (payload) => {
      if (!payload) for (const id of this.feeds.keys()) this.poke(id);
      else this.poke(payload.split(':', 1)[0]);
    });
  }

  /** Records events of the current request (in its transaction) and delivers them locally after commit. */
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
   * `recordCreatedEvents`): delivered here and announced to the other replicas once the transaction commits.
   */
  recorded(conversationId: string, lastSeq: number): void {
    this.deliverAfterCommit(conversationId, lastSeq);
  }

  private deliverAfterCommit(conversationId: string, lastSeq: number): void {
    this.context.afterCommit(() => {
      this.poke(conversationId);
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
        // The events are committed; other replicas find them at their next periodic check (CHECK_FEEDS_MS).
        this.logger.warn(`announcing events of ${batch.length} conversation(s) failed: ${(error as Error).message}`);
      }
    }
    this.announcing = false;
  }

  /**
   * Every CHECK_FEEDS_MS, one query per organization with feeds here compares each feed's position with its
   * conversation's last event seq: catches what an announcement lost to a crash between commit and NOTIFY.
   */
  private async checkFeeds(): Promise<void> {
    const byOrganization = new Map<string, string[]>();
    for (const [id, feed] of this.feeds) {
      const ids = byOrganization.get(feed.organizationId);
      if (ids) ids.push(id);
      else byOrganization.set(feed.organizationId, [id]);
    }
    for (const [organizationId, ids] of byOrganization) {
      try {
        const last = await this.read(organizationId, (tx) => this.events.lastSeqs(organizationId, ids, tx));
        for (const id of ids) {
          const feed = this.feeds.get(id);
          if (feed && [...feed.subscribers].some((s) => s.cursor < (last.get(id) ?? 0))) this.poke(id);
        }
      } catch (error) {
        this.logger.warn(`checking live-event feeds failed: ${(error as Error).message}`);
      }
    }
  }

  /**
   * Subscribes to a conversation of the organization. Starts after `lastEventId` when given (replaying what was
   * written since), else after the newest event. Returns null when the conversation does not exist for the org.
   */
  async subscribe(organizationId: string, conversationId: string, lastEventId: number | undefined, subscriber: Omit<Subscriber, 'cursor'>): Promise<(() => void) | null> {
    const latest = await this.read(organizationId, (tx) => this.events.lastSeq(organizationId, conversationId, tx));
    if (latest === null) return null;
    const sub: Subscriber = { ...subscriber, cursor: lastEventId !== undefined ? Math.min(lastEventId, latest) : latest };
    let feed = this.feeds.get(conversationId);
    if (!feed) {
      feed = { organizationId, subscribers: new Set(), fetching: false, again: false };
      this.feeds.set(conversationId, feed);
    }
    feed.subscribers.add(sub);
    if (sub.cursor < latest) this.poke(conversationId);
    return () => {
      feed!.subscribers.delete(sub);
      if (!feed!.subscribers.size && this.feeds.get(conversationId) === feed) this.feeds.delete(conversationId);
    };
  }

  /** Registers a stream to end on shutdown (so that the server can close). */
  onShutdown(close: () => void): () => void {
    this.closers.add(close);
    return () => this.closers.delete(close);
  }

  private poke(conversationId: string): void {
    const feed = this.feeds.get(conversationId);
    if (!feed) return;
    if (feed.fetching) {
      feed.again = true;
      return;
    }
    feed.fetching = true;
    void this.drain(conversationId, feed).finally(() => {
      feed.fetching = false;
    });
  }

  private async drain(conversationId: string, feed: Feed): Promise<void> {
    do {
      feed.again = false;
      try {
        for (;;) {
          if (!feed.subscribers.size) return;
          const from = Math.min(...[...feed.subscribers].map((s) => s.cursor));
          const rows = await this.read(feed.organizationId, (tx) =>
            this.events.listAfter(feed.organizationId, conversationId, from, 500, tx),
          );
          for (const sub of feed.subscribers) {
            for (const row of rows) {
              if (row.seq <= sub.cursor) continue;
              sub.cursor = row.seq;
              sub.send(row);
            }
          }
          if (rows.length < 500) break;
        }
      } catch (error) {
        this.logger.warn(`reading events of ${conversationId} failed: ${(error as Error).message}`);
        setTimeout(() => this.poke(conversationId), 1000).unref();
        return;
      }
    } while (feed.again);
  }

  /** A short read transaction of the organization (row-level security), outside any request transaction. */
  private read<T>(organizationId: string, fn: (tx: Db) => Promise<T>): Promise<T> {
    return this.tenants.run(organizationId, fn);
  }

  /** Resolves when the announcements queued so far have been sent (graceful shutdown, before the pool closes). */
  async flushAnnouncements(): Promise<void> {
    while (this.announcing) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /** Ends every open stream (graceful shutdown: the server cannot close while they are open). */
  closeStreams(): void {
    for (const close of [...this.closers]) close();
  }

  onApplicationShutdown(): void {
    clearInterval(this.checkTimer);
    this.closeStreams();
  }
}
