import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { PrismaClient, Prisma } from '../generated/prisma/client';
import { createPgAdapter } from './connection/pg-adapter';
import type { DatabaseTarget } from './connection/database-config';
import { isRetryableTransactionError } from './errors';

export const DATABASE_TARGET = Symbol('DATABASE_TARGET');

/** What every repository method accepts: the client itself or the client of a running transaction. */
export type Db = Prisma.TransactionClient;

export interface TransactionOptions {
  isolationLevel?: Prisma.TransactionIsolationLevel;
  /** ms to wait for a connection from the pool */
  maxWait?: number;
  /** ms the transaction may run */
  timeout?: number;
  /** retries on serialization failure / deadlock (default 3) */
  retries?: number;
}

/**
 * The Prisma client of the process, on the pg driver adapter (no query-engine binary). Owns the pool and, when
 * it started it, the embedded database. `transaction()` is the one place transactions are run.
 */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleDestroy {
  private readonly logger = new Logger(PrismaService.name);

  constructor(@Inject(DATABASE_TARGET) readonly target: DatabaseTarget) {
    super({
      adapter: createPgAdapter(target.url, {
        // The embedded database is one backend: more connections only queue inside it.
        max: target.mode === 'embedded' ? 4 : Number(process.env.DATABASE_POOL_SIZE || 10),
      }),
    });
  }

  get mode() {
    return this.target.mode;
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const { retries = 3, ...txOptions } = options;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.$transaction(fn, { maxWait: 10_000, timeout: 30_000, ...txOptions });
      } catch (error) {
        if (attempt >= retries || !isRetryableTransactionError(error)) throw error;
        this.logger.debug(`retrying transaction after ${(error as Error).message}`);
        await new Promise((r) => setTimeout(r, 5 * 2 ** attempt + Math.random() * 10));
      }
    }
  }

  /** Runs `fn` in the given transaction when there is one, else in a new one. */
  inTransaction<T>(db: Db | undefined, fn: (tx: Db) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return db && db !== this ? fn(db) : this.transaction(fn, options);
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
    await this.target.close();
  }
}
