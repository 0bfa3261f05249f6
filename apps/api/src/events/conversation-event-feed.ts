import { Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { CONVERSATION_EVENTS_CHANNEL, ConversationEventRepository, PgListener, type ConversationEventRow, type Db } from '@agenthub/db';
import { TenantTransactions } from '../common/tenancy/tenant-transactions';
import { ConversationEventRecorder } from './conversation-event-recorder';

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
 * Live events of conversations (SSE), the readers' side. Writers record events in their request's transaction
 * (ConversationEventRecorder); after commit the recorder NOTIFYs every replica and pokes this replica's feeds
 * directly. A feed (one per
 * conversation with subscribers on this replica) then reads the events after the lowest subscriber cursor from
 * the table — one query however many subscribers — and hands each subscriber the events after its own cursor, in
 * seq order. Because delivery always reads the table, a missed NOTIFY (reconnecting listener) or a client's
 * Last-Event-ID is caught up the same way.
 */
@Injectable()
export class ConversationEventFeed implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ConversationEventFeed.name);
  private readonly feeds = new Map<string, Feed>();
  private readonly closers = new Set<() => void>();
  private checkTimer?: NodeJS.Timeout;
  private stopListening?: () => void;

  constructor(
    private readonly events: ConversationEventRepository,
    private readonly tenants: TenantTransactions,
    private readonly listener: PgListener,
    private readonly recorder: ConversationEventRecorder,
  ) {}

  onModuleInit(): void {
    this.checkTimer = setInterval(() => void this.checkFeeds(), CHECK_FEEDS_MS);
    this.checkTimer.unref();
    this.listener.on(CONVERSATION_EVENTS_CHANNEL, (payload) => {
      if (!payload) for (const id of this.feeds.keys()) this.poke(id);
      else this.poke(payload.split(':', 1)[0]);
    });
    this.stopListening = this.recorder.onCommitted((conversationId) => this.poke(conversationId));
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
   * written since), else after the newest event; `after` says which. Returns null when the conversation does not
   * exist for the org.
   */
  async subscribe(
    organizationId: string,
    conversationId: string,
    lastEventId: number | undefined,
    subscriber: Omit<Subscriber, 'cursor'>,
  ): Promise<{ close: () => void; after: number } | null> {
    const latest = await this.read(organizationId, (tx) => this.events.lastSeq(organizationId, conversationId, tx));
    if (latest === null) return null;
    const sub: Subscriber = { ...subscriber, cursor: lastEventId !== undefined ? Math.min(lastEventId, latest) : latest };
    let feed = this.feeds.get(conversationId);
    if (!feed) {
      feed = { organizationId, subscribers: new Set(), fetching: false, again: false };
      this.feeds.set(conversationId, feed);
    }
    feed.subscribers.add(sub);
    const after = sub.cursor;
    if (sub.cursor < latest) this.poke(conversationId);
    const close = () => {
      feed!.subscribers.delete(sub);
      if (!feed!.subscribers.size && this.feeds.get(conversationId) === feed) this.feeds.delete(conversationId);
    };
    return { close, after };
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

  /** Ends every open stream (graceful shutdown: the server cannot close while they are open). */
  closeStreams(): void {
    for (const close of [...this.closers]) close();
  }

  onApplicationShutdown(): void {
    clearInterval(this.checkTimer);
    this.stopListening?.();
    this.closeStreams();
  }
}
