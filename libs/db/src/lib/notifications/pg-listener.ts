import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import type { DatabaseTarget } from '../connection/database-config';
import { DATABASE_TARGET } from '../prisma.service';
import { pgSessionClient } from '../connection/pg-adapter';

type Handler = (payload: string) => void;

/** How often the LISTEN connection proves that it still delivers (deliveredWithin). */
export const LISTENER_HEARTBEAT_MS = 200;
/** A heartbeat not back after this long: the connection is dropped and opened again. */
const HEARTBEAT_GIVE_UP_MS = 2000;

/**
 * One LISTEN connection per process for signals between processes (the API's live events and key revocations,
 * the worker's backup requests). It connects when the first channel is registered, reconnects with backoff and,
 * after a reconnect, calls every handler with an empty payload so that subscribers re-read what they may have
 * missed. On the embedded database NOTIFY does not reach other processes (one backend), so it listens to nothing
 * there: the API delivers to its own subscribers after commit, the worker polls.
 *
 * A connection can also go silent without an error (a network partition, a frozen pooler or host): notifications
 * stop and nothing says so. So, once someone asks (`deliveredWithin`), every LISTENER_HEARTBEAT_MS the connection
 * NOTIFYs a channel only this process listens to and waits for it to come back from its own backend; PostgreSQL
 * queues notifications in commit order and a backend reads the queue in order, so a heartbeat received proves that
 * everything committed before it was sent has been delivered: a cache that NOTIFY invalidates (the API's key
 * cache) trusts itself only that far. A heartbeat not back within HEARTBEAT_GIVE_UP_MS drops the connection (the
 * reconnect tells every handler to re-read). The session commits its heartbeats asynchronously (no WAL flush
 * under NOTIFY's commit lock). It uses DATABASE_DIRECT_URL when set: LISTEN needs a session of its own, which a
 * pooler in transaction mode does not give (heartbeats then come back from another backend and are not counted).
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
  /** heartbeats on their way: number → when it was sent (performance.now(), a monotonic clock) */
  private readonly heartbeats = new Map<number, number>();
  private heartbeatNumber = 0;
  /** when the latest heartbeat that came back was sent (performance.now()); 0: none yet on this connection */
  private confirmedAt = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** someone relies on deliveredWithin: heartbeats go out */
  private heartbeatsWanted = false;
  /** the backend of the LISTEN session (a heartbeat counts only when it comes from there) */
  private backendPid = 0;
  private warnedForeignHeartbeat = false;

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
   * Whether every notification committed more than `ms` ago has been delivered to the handlers: a heartbeat sent
   * within the last `ms` has come back. Always true on the embedded database (nothing crosses processes there).
   * The first call starts the heartbeats.
   */
  deliveredWithin(ms: number): boolean {
    if (!this.crossReplica) return true;
    if (!this.heartbeatsWanted) {
      this.heartbeatsWanted = true;
      if (this.client) this.beat(this.client);
    }
    return this.confirmedAt > 0 && performance.now() - this.confirmedAt <= ms;
  }

  /** Channels registered during start-up are listened to before the application serves. */
  async onApplicationBootstrap(): Promise<void> {
    await this.connecting;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = pgSessionClient(this.target.directUrl ?? this.target.url, { application_name: 'agenthub-listen', keepAlive: true, connectionTimeoutMillis: 10_000 });
    client.on('notification', (msg) => {
      if (msg.channel === this.heartbeatChannel) this.heartbeatReturned(client, Number(msg.payload), msg.processId);
      else this.dispatch(msg.channel, msg.payload ?? '');
    });
    client.on('error', (error) => {
      // A connection already given up (a silent one dropped by beat()) has been replaced.
      if (this.client !== client && this.client !== null) return;
      this.drop(client, `LISTEN connection lost: ${error.message}`);
    });
    try {
      await client.connect();
      if (this.stopped) {
        await client.end().catch(() => undefined);
        return;
      }
      // Set first, so that a channel registered meanwhile is listened to by on() itself (pg queues the queries).
      this.client = client;
      // One message: through a pooler in transaction mode it runs on one backend, whose pid the heartbeats check.
      const setup = [...this.handlers.keys(), this.heartbeatChannel].map((channel) => `listen ${client.escapeIdentifier(channel)}`);
      const results = (await client.query(
        [...setup, 'set synchronous_commit = off', 'select pg_backend_pid() as pid'].join('; '),
      )) as unknown as pg.QueryResult[];
      this.backendPid = Number(results[results.length - 1].rows[0].pid);
      this.startHeartbeat(client);
      const reconnected = this.attempt > 0;
      this.connecting = null;
      this.attempt = 0;
      if (reconnected) for (const channel of this.handlers.keys()) this.dispatch(channel, '');
    } catch (error) {
      this.drop(client, `LISTEN connection failed: ${(error as Error).message}`);
    }
  }

  /** Closes a connection that failed or went silent and opens another (with backoff). */
  private drop(client: pg.Client, why: string): void {
    this.logger.warn(why);
    void client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  /** Forgets the heartbeats of the connection that is going (none of them proves anything about the next one). */
  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeats.clear();
    this.confirmedAt = 0;
  }

  /** Heartbeats on this connection, every LISTENER_HEARTBEAT_MS once wanted (deliveredWithin). */
  private startHeartbeat(client: pg.Client): void {
    this.stopHeartbeat();
    this.heartbeatTimer = setInterval(() => this.beat(client), LISTENER_HEARTBEAT_MS);
    this.heartbeatTimer.unref();
    this.beat(client);
  }

  /**
   * Sends a heartbeat unless one is on its way; one on its way for HEARTBEAT_GIVE_UP_MS means the connection went
   * silent: it is dropped and opened again.
   */
  private beat(client: pg.Client): void {
    if (this.client !== client || !this.heartbeatsWanted) return;
    const now = performance.now();
    for (const sentAt of this.heartbeats.values()) {
      if (now - sentAt > HEARTBEAT_GIVE_UP_MS) this.drop(client, `LISTEN connection silent: no heartbeat back in ${HEARTBEAT_GIVE_UP_MS} ms; reconnecting`);
      return;
    }
    const n = ++this.heartbeatNumber;
    this.heartbeats.set(n, now);
    client.query('select pg_notify($1, $2)', [this.heartbeatChannel, String(n)]).catch((error: Error) => {
      this.heartbeats.delete(n);
      this.logger.warn(`LISTEN heartbeat failed: ${error.message}`);
    });
  }

  private heartbeatReturned(client: pg.Client, n: number, processId: number): void {
    const sentAt = this.heartbeats.get(n);
    if (this.client !== client || sentAt === undefined) return;
    this.heartbeats.delete(n);
    if (processId !== this.backendPid) {
      // Sent from another backend than the one that LISTENs (a pooler in transaction mode): proves nothing.
      if (!this.warnedForeignHeartbeat) this.logger.warn('LISTEN heartbeats come back from another backend: set DATABASE_DIRECT_URL to a direct connection');
      this.warnedForeignHeartbeat = true;
      return;
    }
    this.confirmedAt = Math.max(this.confirmedAt, sentAt);
    // Late (a slow round trip or a busy event loop): the next one goes out now rather than at the next tick.
    if (performance.now() - sentAt >= LISTENER_HEARTBEAT_MS) this.beat(client);
  }

  private scheduleReconnect(): void {
    this.client = null;
    this.stopHeartbeat();
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
    this.stopHeartbeat();
    // A silent connection's end() may never resolve: shutdown does not wait more than a second for it.
    const ended = this.client?.end().catch(() => undefined);
    await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }
}
