import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import pg from 'pg';
import { DATABASE_TARGET, type DatabaseTarget } from '@agenthub/db';

type Handler = (payload: string) => void;

/**
 * One LISTEN connection per process for cross-replica signals (live events, key revocations). It reconnects
 * with backoff and, after a reconnect, calls every handler with an empty payload so that subscribers re-read
 * what they may have missed. On the embedded database there is one replica and nothing to listen to: the
 * services deliver to their local subscribers directly after commit.
 */
@Injectable()
export class PgListener implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(PgListener.name);
  private readonly handlers = new Map<string, Set<Handler>>();
  private client: pg.Client | null = null;
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
      void this.client?.query(`listen ${pg.Client.prototype.escapeIdentifier(channel)}`).catch(() => undefined);
    }
    set.add(handler);
    return () => set!.delete(handler);
  }

  async onModuleInit(): Promise<void> {
    if (this.crossReplica) await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.target.url, application_name: 'agenthub-api-listen' });
    client.on('notification', (msg) => this.dispatch(msg.channel, msg.payload ?? ''));
    client.on('error', (error) => {
      this.logger.warn(`LISTEN connection lost: ${error.message}`);
      void client.end().catch(() => undefined);
      this.scheduleReconnect();
    });
    try {
      await client.connect();
      for (const channel of this.handlers.keys()) await client.query(`listen ${client.escapeIdentifier(channel)}`);
      const reconnected = this.attempt > 0;
      this.client = client;
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
    setTimeout(() => void this.connect(), delay).unref();
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
