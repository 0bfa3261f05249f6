import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import pg from 'pg';
import type { DatabaseTarget } from '../connection/database-config';
import { DATABASE_TARGET } from '../prisma.service';

type Handler = (payload: string) => void;

/**
 * One LISTEN connection per process for signals between processes (the API's live events and key revocations,
 * the worker's backup requests). It connects when the first channel is registered, reconnects with backoff and,
 * after a reconnect, calls every handler with an empty payload so that subscribers re-read what they may have
 * missed. On the embedded database NOTIFY does not reach other processes (one backend), so it listens to nothing
 * there: the API delivers to its own subscribers after commit, the worker polls.
 */
@Injectable()
export class PgListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(PgListener.name);
  private readonly handlers = new Map<string, Set<Handler>>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private stopped = false;
  private attempt = 0;

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

  /** Channels registered during start-up are listened to before the application serves. */
  async onApplicationBootstrap(): Promise<void> {
    await this.connecting;
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.target.url, application_name: 'agenthub-listen' });
    client.on('notification', (msg) => this.dispatch(msg.channel, msg.payload ?? ''));
    client.on('error', (error) => {
      this.logger.warn(`LISTEN connection lost: ${error.message}`);
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      // Set first, so that a channel registered meanwhile is listened to by on() itself (pg queues the queries).
      this.client = client;
      for (const channel of [...this.handlers.keys()]) await client.query(`listen ${client.escapeIdentifier(channel)}`);
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

  private scheduleReconnect(): void {
    this.client = null;
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
    await this.client?.end().catch(() => undefined);
  }
}
