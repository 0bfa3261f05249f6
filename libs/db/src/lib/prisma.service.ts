import { Inject, Injectable, Logger, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { LostConnectionPrismaPg } from './connection/lost-connection.shim';
import pg from 'pg';
import { PrismaClient, Prisma } from '../generated/prisma/client';
import { guardCheckedOut, pgPoolConfig, VECTOR_SETTINGS_SQL } from './connection/pg-adapter';
import type { DatabaseTarget } from './connection/database-config';
import { isRetryableTransactionError } from './errors';
import { enterTenant, enterTenantSql } from './tenancy';
import { isUuid } from './pagination';
import { RawSession, isStalePrepared, protocolName } from './raw-session';
import { ReadReplicas, isReplicaBehind, replayCheckSql, replicaCannotServe, type ReplicaStatus } from './replicas/read-replicas';

export const DATABASE_TARGET = Symbol('DATABASE_TARGET');

/** What every repository method accepts: the client itself or the client of a running transaction. */
export type Db = Prisma.TransactionClient;

/** A statement with `$n` placeholders and their values: a Prisma.Sql, or one whose text is kept (queryRows). */
export interface SqlStatement {
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * A hot statement whose values are all placeholders has the same text at every call of a variant: built once and
 * kept, instead of a new 2–4 kB string per call (Prisma.Sql joins it anew at each `.text`) that the raw session
 * then hashes to find its prepared statement. `variant` names the text; give each distinct text its own.
 */
const fixedTexts = new Map<string, string>();
export function fixedText(variant: string, sql: Prisma.Sql): SqlStatement {
  let text = fixedTexts.get(variant);
  if (text === undefined) fixedTexts.set(variant, (text = sql.text));
  return { text, values: sql.values };
}

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
export class PrismaService extends PrismaClient implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(PrismaService.name);
  /** The pool under the Prisma adapter; see `queryRows`. */
  private readonly pool: pg.Pool;
  /** transactions running now, and who waits for that to reach 0 (see whenIdle) */
  private active = 0;
  private readonly idle: Array<() => void> = [];
  /** DATABASE_READ_URLS: where read-only requests may go (read-replicas.ts) */
  private readonly readReplicas: ReadReplicas | null;

  constructor(@Inject(DATABASE_TARGET) readonly target: DatabaseTarget) {
    const pool = new pg.Pool({
      ...pgPoolConfig(target.url, {
        // The embedded database is one backend: more connections only queue inside it.
        max: target.mode === 'embedded' ? 4 : (target.poolSize ?? 10),
      }),
      // A pool that cannot hand out a connection within this (the database gone, every connection stuck) fails the
      // request (503) instead of holding it until the request timeout. Generous: the 1,000-connection bench waits ~1 s.
      connectionTimeoutMillis: target.mode === 'embedded' ? 0 : 15_000,
    });
    // An idle connection lost (a failover, a restart) is an 'error' on the pool: dropped, the next one reconnects.
    pool.on('error', () => undefined);
    super({ adapter: new LostConnectionPrismaPg(pool, { disposeExternalPool: true }) });
    this.pool = pool;
    this.readReplicas =
      target.mode === 'postgres' && target.readUrls?.length
        ? new ReadReplicas(pool, target.readUrls, { poolSize: target.poolSize, maxLagMs: target.readMaxLagMs })
        : null;
  }

  async onModuleInit(): Promise<void> {
    await this.readReplicas?.start();
  }

  /** The read replicas' state (readiness, tests); empty without DATABASE_READ_URLS. */
  replicaStatus(): ReplicaStatus[] {
    return this.readReplicas?.status() ?? [];
  }

  /**
   * Raw SQL on the hot paths (message append, vector search). Outside a transaction it goes straight to the
   * pool under Prisma's adapter: Prisma's raw-query path costs ~0.2 ms a call plus ~0.7 ms to pass a
   * 1536-dimension vector parameter through its query compiler, which is most of the time of a small append or
   * a filtered vector search (tools/bench measures both). Inside a transaction it runs on that transaction.
   * Values come back as `pg` parses them: timestamptz as Date, int4/float8 as number, json parsed, but int8 and
   * numeric as strings — callers select only columns whose types parse the same both ways.
   * `deferUntilCommit` (in a raw transaction; elsewhere it runs at once): queued to go out with COMMIT, prepared
   * unless `prepare: false` (RawSession.defer); it returns no rows.
   * `commit` (in a raw transaction; elsewhere ignored, the caller's transaction commits as usual): the statement goes
   * out with the deferred statements and COMMIT, in one message, and ends the transaction — what is written after
   * it is not atomic with it (a later statement runs in a new transaction). For a request whose last write it is.
   */
  async queryRows<T>(db: Db, sql: SqlStatement, options: { prepare?: boolean; deferUntilCommit?: boolean; commit?: boolean } = {}): Promise<T[]> {
    const session = rawSessionOf(db);
    if (session && options.deferUntilCommit) {
      session.defer({ text: sql.text, values: sql.values as unknown[] }, options.prepare ?? true);
      return [];
    }
    if (session) return (await session.query({ text: sql.text, values: sql.values as unknown[] }, options.prepare, { commit: options.commit })).rows as T[];
    // In a transaction: the Unsafe form with the Sql's own text and bind values (nothing spliced in), which costs
    // ~0.25 ms less CPU per call than the tagged-template form (measured in an interactive transaction).
    if (db !== this) return db.$queryRawUnsafe<T[]>(sql.text, ...sql.values);
    // A named statement is parsed and planned once per connection. For the append CTE, planning costs more
    // than executing (measured: 1.4–1.9 ms unprepared vs 0.7–0.8 ms prepared); the name is derived from the
    // text, so every distinct statement gets its own. Not on the embedded database: its connections share one
    // backend, where one connection's statement name collides with another's.
    return (await this.pool.query({ name: this.statementName(sql, options), text: sql.text, values: sql.values as unknown[] })).rows as T[];
  }

  private statementName(sql: SqlStatement, options: { prepare?: boolean }): string | undefined {
    return options.prepare && this.serverPrepared ? protocolName(sql.text) : undefined;
  }

  /**
   * Statements may be prepared on the server: PostgreSQL, directly. Not through a transaction-mode pooler
   * (PgBouncer 1.18 carries neither protocol-level nor SQL prepared statements from one transaction to the next:
   * the next one may run on another server connection), where every statement is parsed and planned each time.
   */
  private get serverPrepared(): boolean {
    return this.target.mode === 'postgres' && !this.target.pooled;
  }

  /**
   * A transaction on a plain `pg` connection, for the hot routes whose work is raw SQL only (message append and
   * page, conversation create/get, memory create and search): Prisma's interactive transaction costs ~1 ms of CPU
   * per request (its transaction protocol and query compiler; measured in the API benchmark), the statements
   * themselves a fraction of that. With `organizationId`, the transaction runs under row-level security like
   * every tenant transaction (tenancy.ts), entered in the same round trip as BEGIN. The `Db` handed to `fn`
   * answers raw SQL only (`queryRows`, `$queryRaw`, `$queryRawUnsafe`, `$executeRawUnsafe`); a model call throws,
   * so a repository that needs Prisma cannot end up here by accident. Serialization failures, deadlocks and
   * domain errors marked `retryTransaction` run `fn` again on a fresh transaction, as `transaction()` does — unless
   * a statement of `fn` already committed (queryRows `commit`): then the error goes to the caller as it is.
   */
  async rawTransaction<T>(
    organizationId: string | null,
    fn: (db: Db) => Promise<T>,
    options: { readOnly?: boolean; retries?: number; replica?: boolean } = {},
  ): Promise<T> {
    if (organizationId !== null && !isUuid(organizationId)) throw new Error('rawTransaction: not an organization id');
    // Read-only: READ COMMITTED stated, since each statement runs as its own transaction (raw-session.ts).
    // Through a transaction pooler the pgvector settings cannot be start-up settings of the connection: they are
    // entered with the tenant, for this transaction (pg-adapter.ts).
    const begin =
      (options.readOnly ? 'BEGIN ISOLATION LEVEL READ COMMITTED, READ ONLY' : 'BEGIN') + (organizationId === null ? '' : `; ${enterTenantSql(organizationId)}`);
    const settings = (pooled: boolean | undefined) => (pooled ? `; ${VECTOR_SETTINGS_SQL}` : '');
    return this.tracked(async () => {
      const replica = options.readOnly && options.replica ? this.readReplicas?.pick() : null;
      if (replica) {
        try {
          // Each statement of a read-only session begins with `begin`: each checks the replica has caught up.
          // One retry, for a statement prepared on this connection by a failed earlier read (isStalePrepared) or a
          // conflict with recovery; the replica's own unavailability goes to the primary below.
          const check = replayCheckSql(await this.readReplicas!.freshnessTarget());
          const result = await this.runRaw(replica.pool, `${begin}${settings(replica.pooled)}; ${check}`, !replica.pooled, fn, { readOnly: true, retries: 1 });
          replica.served();
          return result;
        } catch (error) {
          if (!replicaCannotServe(error)) throw error;
          if (isReplicaBehind(error)) replica.fellBehind();
          else this.logger.debug(`read replica failed, the primary serves: ${(error as Error).message}`);
        }
      }
      return this.runRaw(this.pool, `${begin}${settings(this.target.pooled)}`, this.serverPrepared, fn, options);
    });
  }

  /**
   * Runs `fn` counted as an active transaction, for `whenIdle`: shutdown waits for every one to end before it
   * closes the pools. One count across a replica and its fallback to the primary.
   */
  private async tracked<T>(fn: () => Promise<T>): Promise<T> {
    this.active++;
    try {
      return await fn();
    } finally {
      if (--this.active === 0) this.idle.splice(0).forEach((wake) => wake());
    }
  }

  private async runRaw<T>(
    pool: pg.Pool,
    begin: string,
    serverPrepared: boolean,
    fn: (db: Db) => Promise<T>,
    options: { readOnly?: boolean; retries?: number },
  ): Promise<T> {
    const retries = options.retries ?? 3;
    for (let attempt = 0; ; attempt++) {
      const client = await pool.connect();
      const guard = guardCheckedOut(client);
      // BEGIN goes out with the first statement, deferred statements with COMMIT (raw-session.ts).
      const session = new RawSession(client, begin, serverPrepared, options.readOnly);
      let broken: Error | undefined;
      try {
        const result = await fn(rawDb(session));
        await session.commit();
        return result;
      } catch (error) {
        await session.rollback().catch((e: Error) => (broken = e));
        // After a statement that committed (`commit`), running `fn` again would repeat durable writes.
        if (session.committedEarly || attempt >= retries || !(isRetryableTransactionError(error) || isStalePrepared(error))) throw error;
        this.logger.debug(`retrying transaction after ${(error as Error).message}`);
      } finally {
        // A connection whose ROLLBACK failed is in an unknown state, one that was lost is gone: the pool must not
        // hand either out again.
        const lost = guard.done();
        client.release(broken ?? lost);
      }
      await new Promise((r) => setTimeout(r, 5 * 2 ** attempt + Math.random() * 10));
    }
  }

  /** `rawTransaction`, read-only (vector and full-text search). */
  rawReadTransaction<T>(organizationId: string | null, fn: (db: Db) => Promise<T>): Promise<T> {
    return this.rawTransaction(organizationId, fn, { readOnly: true });
  }

  get mode() {
    return this.target.mode;
  }

  async transaction<T>(fn: (tx: Db) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    const { retries = 3, ...txOptions } = options;
    return this.tracked(async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.$transaction(fn, { maxWait: 10_000, timeout: 30_000, ...txOptions });
        } catch (error) {
          if (attempt >= retries || !isRetryableTransactionError(error)) throw error;
          this.logger.debug(`retrying transaction after ${(error as Error).message}`);
          await new Promise((r) => setTimeout(r, 5 * 2 ** attempt + Math.random() * 10));
        }
      }
    });
  }

  /**
   * Resolves when no transaction runs (or after `timeoutMs`). Shutdown waits for it before closing the pool: a
   * request whose client went away still runs its transaction to the end, and closing the pool under it would
   * leave the connection checked out and the pool's end() waiting forever.
   */
  async whenIdle(timeoutMs = 10_000): Promise<void> {
    if (this.active === 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.idle.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * A transaction under row-level security for one organization (see tenancy.ts): every statement in `fn`
   * sees and writes only that organization's rows, whatever the SQL says.
   */
  tenantTransaction<T>(organizationId: string, fn: (tx: Db) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return this.transaction(async (tx) => {
      await enterTenant(tx, organizationId);
      return fn(tx);
    }, options);
  }

  /**
   * A read-only Prisma transaction of one organization (null: no row-level security), on a read replica when one
   * is healthy and has caught up with every write acknowledged before this call (read-replicas.ts), else on the
   * primary. Read-only on the primary too, so that a handler that writes fails the same way everywhere.
   */
  async readTransaction<T>(organizationId: string | null, fn: (tx: Db) => Promise<T>): Promise<T> {
    const enter = (tx: Db) => (organizationId === null ? tx.$executeRawUnsafe('SET LOCAL transaction_read_only = on') : enterTenant(tx, organizationId, { readOnly: true }));
    const replica = this.readReplicas?.pick();
    if (!replica) return this.transaction((tx) => enter(tx).then(() => fn(tx)));
    // One `active` across the replica and the fallback: shutdown must not close the pools between the two.
    return this.tracked(async () => {
      try {
        const check = replayCheckSql(await this.readReplicas!.freshnessTarget());
        // READ COMMITTED stated: the check must run before the snapshot the reads see is taken.
        const result = await replica.prisma().$transaction(
          async (tx) => {
            await tx.$executeRawUnsafe(check);
            await enter(tx);
            return fn(tx);
          },
          { maxWait: 10_000, timeout: 30_000, isolationLevel: Prisma.TransactionIsolationLevel.ReadCommitted },
        );
        replica.served();
        return result;
      } catch (error) {
        if (!replicaCannotServe(error)) throw error;
        if (isReplicaBehind(error)) replica.fellBehind();
      }
      return this.transaction((tx) => enter(tx).then(() => fn(tx)));
    });
  }

  /** Runs `fn` in the given transaction when there is one, else in a new one. */
  inTransaction<T>(db: Db | undefined, fn: (tx: Db) => Promise<T>, options?: TransactionOptions): Promise<T> {
    return db && db !== this ? fn(db) : this.transaction(fn, options);
  }

  async onModuleDestroy(): Promise<void> {
    await this.whenIdle();
    await this.readReplicas?.close();
    await this.$disconnect();
    // $disconnect disposes the adapter's pool only if Prisma itself ever connected; queryRows may have used it
    // alone, so end it here too (a second end() is what pg refuses, hence the check).
    const pool = this.pool as pg.Pool & { ending?: boolean; ended?: boolean };
    if (!pool.ending && !pool.ended) await pool.end();
    await this.target.close();
  }
}

const RAW_SESSION = Symbol('raw pg session');


function rawSessionOf(db: Db): RawSession | undefined {
  return (db as unknown as { [RAW_SESSION]?: RawSession })[RAW_SESSION];
}

/** The raw-SQL subset of `Db` over one pg connection (see rawTransaction); anything else throws. */
function rawDb(session: RawSession): Db {
  const run = async (text: string, values: unknown[]) => (await session.query({ text, values })).rows;
  // `$queryRaw` / `$executeRaw` are called both as tagged templates (strings, ...values) and with a Prisma.Sql.
  const sqlOf = (query: Prisma.Sql | TemplateStringsArray, values: unknown[]): Prisma.Sql =>
    Array.isArray(query) ? Prisma.sql(query as TemplateStringsArray, ...values) : (query as Prisma.Sql);
  const methods: Record<string | symbol, unknown> = {
    [RAW_SESSION]: session,
    $queryRaw: (query: Prisma.Sql | TemplateStringsArray, ...values: unknown[]) => {
      const sql = sqlOf(query, values);
      return run(sql.text, sql.values as unknown[]);
    },
    $queryRawUnsafe: (text: string, ...values: unknown[]) => run(text, values),
    $executeRaw: async (query: Prisma.Sql | TemplateStringsArray, ...values: unknown[]) => {
      const sql = sqlOf(query, values);
      return (await session.query({ text: sql.text, values: sql.values as unknown[] })).rowCount ?? 0;
    },
    $executeRawUnsafe: async (text: string, ...values: unknown[]) => (await session.query({ text, values })).rowCount ?? 0,
  };
  return new Proxy(methods, {
    get(target, key) {
      if (key in target) return target[key];
      if (key === 'then') return undefined; // not a thenable
      throw new Error(`a raw read transaction runs raw SQL only; ${String(key)} needs a Prisma transaction`);
    },
  }) as unknown as Db;
}
