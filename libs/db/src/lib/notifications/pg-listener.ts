import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import type { DatabaseTarget } from '../connection/database-config';
import { DATABASE_TARGET } from '../prisma.service';

type Handler = (payload: string) => void;

/** How often the LISTEN connection proves that it still delivers (deliveredSince). */
export const LISTENER_HEARTBEAT_MS = 200;

/**
 * One LISTEN connection per process for signals between processes (the API's live events and key revocations,
 * the worker's backup requests). It connects when the first channel is registered, reconnects with backoff and,
 * after a reconnect, calls every handler with an empty payload so that subscribers re-read what they may have
 * missed. On the embedded database NOTIFY does not reach other processes (one backend), so it listens to nothing
 * there: the API delivers to its own subscribers after commit, the worker polls.
 *
 * A connection can also go silent without an error (a network partition, a frozen pooler or host): notifications
 * stop and nothing says so. So every LISTENER_HEARTBEAT_MS the connection NOTIFYs a channel only this process
 * listens to and waits for it to come back; PostgreSQL delivers notifications in commit order, so a heartbeat
 * received proves that everything committed before it was sent has been delivered (`deliveredSince`): a cache
 * that NOTIFY invalidates (the API's key cache) trusts itself only that far. It uses DATABASE_DIRECT_URL when
 * set: LISTEN needs a session of its own, which a pooler in transaction mode does not give.
 */
@Injectable()
export class PgListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PgListener.name);
  private readonly handlers = new Map<string, Set<Handler>>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private stopped = false;
  private attempt = 0;
  /** this process's heartbeat channel */
  private readonly heartbeatChannel = `agenthub_listener_${randomUUID().replace(/-/g, '')}`;
  /** heartbeats on their way: number → when it was sent (ms) */
  private readonly heartbeats = new Map<number, number>();
  private heartbeatNumber = 0;
  /** when the latest heartbeat that came back was sent (ms); 0: none yet on this connection */
  private confirmedAt = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  constructor(@Inject(DATABASE_TARGET) private readonly target: DatabaseTarget) {}

  get crossReplica(): boolean {
    return this.target.mode === 'postgres';
  }

  on(channel: string, handler: Handler): () => void {
    let set = this.handlers.get(channel);
    if (!set) {
      set = new Set();
      this.handlers.set(channel, set);
      if (this.client) void this.client.query(`listen ${this.client.escapeIdentifier(channel)}`).catch(() => undefined);
      else if (this.crossReplica && !this.connecting) this.connecting = this.connect();
    }
    set.add(handler);
    return () => set!.delete(handler);
  }

  /**
   * Whether every notification committed before `since` (ms since the epoch) has been delivered to the handlers:
   * a heartbeat sent at or after it has come back. Always true on the embedded database (nothing crosses
   * processes there).
   */
  deliveredSince(since: number): boolean {
    return !this.crossReplica || this.confirmedAt >= since;
  }

  /** Channels registered during start-up are listened to before the application serves. */
  async onApplicationBootstrap(): Promise<void> {
    await this.connecting;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.target.directUrl ?? this.target.url, application_name: 'agenthub-listen' });
    client.on('notification', (msg) => {
      if (msg.channel === this.heartbeatChannel) this.heartbeatReturned(client, Number(msg.payload));
      else this.dispatch(msg.channel, msg.payload ?? '');
    });
    client.on('error', (error) => {
      this.logger.warn(`LISTEN connection lost: ${error.message}`);
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      // Set first, so that a channel registered meanwhile is listened to by on() itself (pg queues the queries).
      this.client = client;
      for (const channel of [...this.handlers.keys(), this.heartbeatChannel]) await client.query(`listen ${client.escapeIdentifier(channel)}`);
      this.startHeartbeat(client);
      const reconnected = this.attempt > 0;
      this.connecting = null;
      this.attempt = 0;
      if (reconnected) for (const channel of this.handlers.keys()) this.dispatch(channel, '');
    } catch (error) {
      this.logger.warn(`LISTEN connection failed: ${(error as Error).message}`);
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    }
  }

  /**
   * Sends a heartbeat on this connection each LISTENER_HEARTBEAT_MS while none is on its way (a silent connection
   * keeps the one it has, and nothing comes back); the first one goes out at once.
   */
  private startHeartbeat(client: pg.Client): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeats.clear();
    this.confirmedAt = 0;
    const beat = () => {
      if (this.client !== client || this.heartbeats.size > 0) return;
      const n = ++this.heartbeatNumber;
      this.heartbeats.set(n, Date.now());
      client.query('select pg_notify($1, $2)', [this.heartbeatChannel, String(n)]).catch(() => this.heartbeats.delete(n));
    };
    this.heartbeatTimer = setInterval(beat, LISTENER_HEARTBEAT_MS);
    this.heartbeatTimer.unref();
    beat();
  }

  private heartbeatReturned(client: pg.Client, n: number): void {
    const sentAt = this.heartbeats.get(n);
    if (this.client !== client || sentAt === undefined) return;
    this.heartbeats.delete(n);
    this.confirmedAt = Math.max(this.confirmedAt, sentAt);
  }

  private scheduleReconnect(): void {
    this.client = null;
    clearInterval(this.heartbeatTimer);
    this.heartbeats.clear();
    this.confirmedAt = 0;
    if (this.stopped) return;
    const delay = Math.min(5000, 100 * 2 ** this.attempt++);
    // Kept in `connecting`, so that on() does not open a second connection meanwhile.
    this.connecting = new Promise<void>((resolve) => setTimeout(resolve, delay).unref()).then(() => this.connect());
  }

  private dispatch(channel: string, payload: string): void {
    for (const handler of this.handlers.get(channel) ?? []) {
      try {
        handler(payload);
      } catch (error) {
        this.logger.error(`handler for ${channel} failed: ${(error as Error).message}`);
      }
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    await this.client?.end().catch(() => undefined);
  }
}
