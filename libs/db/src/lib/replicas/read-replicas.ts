import { Logger } from '@nestjs/common';
import { LostConnectionPrismaPg } from '../connection/lost-connection.shim';
import pg from 'pg';
import { PrismaClient } from '../../generated/prisma/client';
import { guardCheckedOut, pgPoolConfig } from '../connection/pg-adapter';
import { isTransactionPooler, redactUrl } from '../connection/database-config';
import { isDatabaseUnavailable, sqlState } from '../errors';

/**
 * Read replicas (DATABASE_READ_URLS; issue 16): PostgreSQL hot standbys fed by streaming replication, which serve
 * the API's read-only requests while the primary takes the writes.
 *
 * **Read-your-writes, and more.** A read may go to a replica only once the replica has replayed everything the
 * primary had written when the read arrived: `freshnessTarget()` asks the primary for its WAL position
 * (`pg_current_wal_lsn()`) with a query sent after the read arrived, and the replica's transaction begins with a
 * check that its replay position has reached it (`replayCheckSql`) — in the same message as BEGIN, so it costs the
 * replica no round trip. Any write acknowledged before the read arrived has its commit record at or before that
 * position (a commit is flushed before it is acknowledged), so a client never reads older data than its own last
 * write, through whichever API process it went, with no per-client state to share between processes. The
 * primary's position is asked once for all the reads that arrived while the previous ask was on its way
 * (coalesced: one tiny query per round trip at most, whatever the read rate). A replica that has not caught up
 * fails the check (REPLICA_BEHIND) and the primary serves that read.
 *
 * **Health and lag.** Every POLL_MS each replica is asked whether it is in recovery and how far it has replayed;
 * its lag is the age of the newest primary position it has replayed (positions remembered with the time they were
 * read). A replica that does not answer, is not in recovery (promoted: it no longer follows this primary), or lags
 * more than `maxLagMs` is skipped until a poll finds it well again; with none left, the primary serves every read.
 */
export const REPLICA_BEHIND = 'AHRB1';

export interface ReadReplicaOptions {
  /** connections per replica (default 10) */
  poolSize?: number;
  /** skip a replica lagging more than this (DATABASE_READ_MAX_LAG_MS, default 1000) */
  maxLagMs?: number;
  /** health poll interval (default 250 ms) */
  pollMs?: number;
}

/**
 * A replica's state as /health/ready shows it (public: no host, no driver message — those go to the log when the
 * state changes). In the order of DATABASE_READ_URLS.
 */
export interface ReplicaStatus {
  healthy: boolean;
  /** why it is skipped, when it is: unreachable, not-streaming, lagging, lag-unknown, other-cluster, not-checked */
  reason: ReplicaSkipReason | null;
  /** ms behind the primary at the last poll (null: unknown) */
  lagMs: number | null;
  /** reads it served / reads that fell back to the primary because it had not caught up */
  reads: number;
  behind: number;
}

interface Replica {
  url: string;
  /** the reads' connections */
  pool: pg.Pool;
  /** one connection of its own for the health checks: busy reads must not make a replica look unreachable */
  checkPool: pg.Pool;
  /** its pgvector settings cannot be start-up settings (a transaction pooler in front of it) */
  pooled: boolean;
  prisma: PrismaClient | null;
  up: boolean;
  reason: ReplicaSkipReason | null;
  replayLsn: bigint | null;
  lagMs: number | null;
  reads: number;
  behind: number;
}

export type ReplicaSkipReason = 'not-checked' | 'unreachable' | 'not-streaming' | 'other-cluster' | 'lagging' | 'lag-unknown';

/** Longest a health check may take; a replica that does not answer within it is skipped. */
const CHECK_TIMEOUT_MS = 1_000;
/**
 * Longest a read may wait on a replica before it counts as unavailable (and the primary serves it): a replica whose
 * connection went silent must not hold requests until the request timeout.
 */
const READ_TIMEOUT_MS = 10_000;

/** A WAL position as PostgreSQL writes it (`16/B374D848`). */
const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

export function parseLsn(text: string): bigint {
  if (!LSN.test(text)) throw new Error(`not a WAL position: ${text}`);
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/**
 * How long a replica's read waits for replay to reach its position before it gives up (REPLICA_BEHIND) and the
 * primary serves it. Replay on a healthy standby trails the primary by about a millisecond (the scale bench:
 * `replay_lag` median 1 ms), so a read right after a write usually needs a moment, not the primary: without the
 * wait, 4 % of the reads of a 90/10 mix fell back; a replica that is really behind costs the read this much.
 */
export const REPLAY_WAIT_MS = 10;

/**
 * The statement a replica's read transaction begins with: it fails with REPLICA_BEHIND unless the replica has
 * replayed up to `lsn` within REPLAY_WAIT_MS. A DO block because a plain statement can neither wait nor raise;
 * `lsn` is checked against LSN's shape before it is written in. On the primary pg_last_wal_replay_lsn() is NULL and
 * the check passes at once.
 */
export function replayCheckSql(lsn: string): string {
  if (!LSN.test(lsn)) throw new Error(`not a WAL position: ${lsn}`);
  return (
    `DO $$DECLARE give_up timestamptz := clock_timestamp() + interval '${REPLAY_WAIT_MS} milliseconds'; BEGIN ` +
    `WHILE pg_last_wal_replay_lsn() < '${lsn}'::pg_lsn LOOP ` +
    `IF clock_timestamp() >= give_up THEN RAISE EXCEPTION 'replica behind ${lsn}' USING ERRCODE = '${REPLICA_BEHIND}'; END IF; ` +
    `PERFORM pg_sleep(0.0005); END LOOP; END$$`
  );
}

export function isReplicaBehind(error: unknown): boolean {
  return sqlState(error) === REPLICA_BEHIND;
}

/**
 * The replica could not serve the read, which the primary then serves: not caught up, a conflict with recovery
 * (40001: a query canceled to let replay go on), too slow there (57014), or unavailable (isDatabaseUnavailable). Anything else — a domain
 * error of the handler, a bad statement — is the read's own outcome and is not retried.
 */
export function replicaCannotServe(error: unknown): boolean {
  const state = sqlState(error);
  // 57014: the replica's statement_timeout ended a read that took too long there.
  return state === REPLICA_BEHIND || state === '40001' || state === '57014' || isDatabaseUnavailable(error);
}

export class ReadReplicas {
  private readonly logger = new Logger(ReadReplicas.name);
  private readonly replicas: Replica[];
  private readonly maxLagMs: number;
  private readonly pollMs: number;
  /** primary positions with when they were first read, oldest first (the last ~2 × maxLag of them) */
  private readonly history: Array<{ at: number; lsn: bigint }> = [];
  /** when the primary last told its position */
  private primaryReadAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | null = null;
  private next = 0;
  /** the primary-position query on its way, and the one queued behind it (see freshnessTarget) */
  private sending: Promise<string> | null = null;
  private queued: Promise<string> | null = null;

  constructor(
    private readonly primary: pg.Pool,
    urls: string[],
    options: ReadReplicaOptions = {},
  ) {
    this.maxLagMs = options.maxLagMs ?? 1000;
    this.pollMs = options.pollMs ?? 250;
    this.replicas = urls.map((url) => ({
      url,
      pool: new pg.Pool({
        // A multi-host entry gets past a host that drops packets within the connect timeout.
        // The server ends a read that runs too long (statement_timeout) and a transaction left open by a client that
        // gave up (idle_in_transaction_session_timeout): an open snapshot on a standby with hot_standby_feedback holds
        // back vacuum on the primary. query_timeout is the client's own bound, for a connection gone silent.
        ...pgPoolConfig(url, {
          max: options.poolSize ?? 10,
          applicationName: 'agenthub-read',
          attemptTimeoutMillis: 600,
          settings: { statement_timeout: READ_TIMEOUT_MS, idle_in_transaction_session_timeout: 2 * READ_TIMEOUT_MS },
        }),
        connectionTimeoutMillis: 2_000,
        query_timeout: READ_TIMEOUT_MS + 2_000,
        keepAlive: true,
      }),
      checkPool: new pg.Pool({
        ...pgPoolConfig(url, { max: 1, applicationName: 'agenthub-read-check', attemptTimeoutMillis: 300 }),
        connectionTimeoutMillis: CHECK_TIMEOUT_MS,
        keepAlive: true,
      }),
      pooled: isTransactionPooler(url),
      prisma: null,
      up: false,
      reason: 'not-checked',
      replayLsn: null,
      lagMs: null,
      reads: 0,
      behind: 0,
    }));
    // An idle client's error (the replica restarted) must not crash the process: the next poll marks it down.
    for (const r of this.replicas) for (const pool of [r.pool, r.checkPool]) pool.on('error', () => undefined);
  }

  get size(): number {
    return this.replicas.length;
  }

  /** Starts the health polls (the first one at once). */
  start(): Promise<void> {
    if (!this.timer) {
      this.timer = setInterval(() => void this.poll(), this.pollMs);
      this.timer.unref();
    }
    return this.poll();
  }

  /**
   * A healthy replica for the next read (round robin), or null: the primary serves. `prisma`: the replica's Prisma
   * client is wanted too (created on first use).
   */
  pick(): { url: string; pool: pg.Pool; pooled: boolean; prisma: () => PrismaClient; served: () => void; fellBehind: () => void } | null {
    const n = this.replicas.length;
    for (let i = 0; i < n; i++) {
      const r = this.replicas[(this.next + i) % n];
      if (!r.up) continue;
      this.next = (this.next + i + 1) % n;
      return {
        url: r.url,
        pool: r.pool,
        pooled: r.pooled,
        prisma: () => (r.prisma ??= new PrismaClient({ adapter: new LostConnectionPrismaPg(r.pool) })),
        served: () => void r.reads++,
        fellBehind: () => void r.behind++,
      };
    }
    return null;
  }

  /**
   * The primary's WAL position, read by a query sent after this call: every write acknowledged before the call is
   * at or before it. Calls that arrive while a query is on its way share the next one.
   */
  freshnessTarget(): Promise<string> {
    if (this.queued) return this.queued;
    if (!this.sending) return this.send();
    const previous = this.sending;
    this.queued = previous
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.queued = null;
        return this.send();
      });
    return this.queued;
  }

  private send(): Promise<string> {
    const sent: Promise<string> = this.primaryLsn().finally(() => {
      if (this.sending === sent) this.sending = null;
    });
    this.sending = sent;
    return sent;
  }

  /**
   * The primary's flushed WAL position: a synchronous commit is acknowledged only once flushed, so it is at or past
   * every acknowledged commit, and it is what a standby can have received. (Asynchronous commits, which only the
   * worker's importer makes, may be visible on the primary before they are flushed: a read right after such an
   * import may miss its last rows on a replica for a moment.)
   */
  private async primaryLsn(): Promise<string> {
    const { rows } = await this.primary.query<{ lsn: string }>('select pg_current_wal_flush_lsn()::text as lsn');
    const lsn = rows[0].lsn;
    this.remember(parseLsn(lsn));
    return lsn;
  }

  /** The primary's cluster (pg_control_system's identifier, once known): a replica of another cluster is skipped. */
  private primaryCluster: string | null = null;

  private remember(lsn: bigint): void {
    const now = Date.now();
    this.primaryReadAt = now;
    const last = this.history[this.history.length - 1];
    if (!last || lsn > last.lsn) this.history.push({ at: now, lsn });
    // Keep enough to measure lag up to twice the bound.
    while (this.history.length > 2 && this.history[1].at < now - 2 * this.maxLagMs - this.pollMs) this.history.shift();
  }

  /** One round of health checks (concurrent ones share it). */
  poll(): Promise<void> {
    return (this.polling ??= this.pollOnce().finally(() => (this.polling = null)));
  }

  private async pollOnce(): Promise<void> {
    try {
      await withTimeout(this.primaryLsn(), CHECK_TIMEOUT_MS);
      // Asked at every poll: a primary replaced by another cluster (a restore) is noticed without a restart.
      this.primaryCluster = (await withTimeout(this.primary.query<{ id: string }>(SYSTEM_ID), CHECK_TIMEOUT_MS)).rows[0].id;
    } catch {
      // The primary is down: the replicas' lag cannot be known, and reads need the primary's position anyway.
    }
    await Promise.all(this.replicas.map((r) => this.check(r)));
  }

  /**
   * One health check, on the replica's own check connection and bounded by CHECK_TIMEOUT_MS (a connection that went
   * silent is dropped, not waited on). Healthy: a standby of the primary's cluster whose WAL receiver streams (a
   * standby left behind by a failover, its primary gone, streams from nobody) and whose lag is within the bound.
   */
  private async check(r: Replica): Promise<void> {
    const [wasUp, wasReason] = [r.up, r.reason];
    let detail = '';
    try {
      const client = await r.checkPool.connect();
      const guard = guardCheckedOut(client);
      let row: { recovering: boolean; replayed: string | null; streaming: boolean; cluster: string };
      try {
        row = (await withTimeout(client.query(REPLICA_CHECK), CHECK_TIMEOUT_MS)).rows[0];
        client.release(guard.done());
      } catch (error) {
        guard.done();
        client.release(error as Error); // not back in the pool: a silent connection is closed
        throw error;
      }
      if (!row.recovering || row.replayed === null) {
        this.mark(r, false, 'not-streaming', null);
        detail = 'not a standby (promoted?): it no longer follows the primary';
      } else if (this.primaryCluster !== null && row.cluster !== this.primaryCluster) {
        this.mark(r, false, 'other-cluster', null);
        detail = `a standby of another cluster (system identifier ${row.cluster}, the primary's ${this.primaryCluster})`;
      } else if (!row.streaming) {
        this.mark(r, false, 'not-streaming', null);
        detail = 'its WAL receiver is not streaming from a primary';
      } else {
        r.replayLsn = parseLsn(row.replayed);
        const lagMs = this.lagOf(r.replayLsn);
        if (lagMs === null) this.mark(r, false, 'lag-unknown', null);
        else if (lagMs > this.maxLagMs) this.mark(r, false, 'lagging', lagMs);
        else this.mark(r, true, null, lagMs);
        detail = lagMs === null ? 'lag unknown: the primary does not answer' : `lag ${lagMs} ms (bound ${this.maxLagMs} ms)`;
      }
    } catch (error) {
      this.mark(r, false, 'unreachable', null);
      detail = `unreachable: ${(error as Error).message}`;
    }
    if (wasUp !== r.up || wasReason !== r.reason) {
      const what = `read replica ${redactUrl(r.url)}`;
      if (r.up) this.logger.log(`${what} in use (${detail})`);
      else this.logger.warn(`${what} skipped: ${detail}`);
    }
  }

  private mark(r: Replica, up: boolean, reason: ReplicaSkipReason | null, lagMs: number | null): void {
    r.up = up;
    r.reason = reason;
    r.lagMs = lagMs;
  }

  /**
   * How long ago the primary was at the newest position the replica has replayed: 0 when it has replayed the
   * newest position read; null when no position is known (the primary did not answer lately).
   */
  private lagOf(replayed: bigint): number | null {
    const newest = this.history[this.history.length - 1];
    if (!newest || Date.now() - this.primaryReadAt > 2 * this.pollMs + 1000) return null;
    if (replayed >= newest.lsn) return 0;
    // The first position not yet replayed: the replica is behind by at least that position's age.
    for (let i = this.history.length - 1; i >= 0; i--) {
      if (this.history[i].lsn <= replayed) return Date.now() - this.history[i + 1].at;
    }
    return Date.now() - this.history[0].at;
  }

  status(): ReplicaStatus[] {
    return this.replicas.map((r) => ({ healthy: r.up, reason: r.reason, lagMs: r.lagMs, reads: r.reads, behind: r.behind }));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling?.catch(() => undefined);
    await Promise.all(
      this.replicas.map(async (r) => {
        await r.prisma?.$disconnect().catch(() => undefined);
        for (const pool of [r.pool, r.checkPool] as Array<pg.Pool & { ending?: boolean; ended?: boolean }>) {
          if (!pool.ending && !pool.ended) await pool.end().catch(() => undefined);
        }
      }),
    );
  }
}

const SYSTEM_ID = 'select system_identifier::text as id from pg_control_system()';
/**
 * The replica's state in one statement. pg_stat_wal_receiver shows `status` only to roles with pg_read_all_stats
 * (not granted to the API: it would also show every session's statements); others see the receiver's pid, which
 * exists while a receiver runs — a standby whose primary is gone has none most of the time (it retries every
 * wal_retrieve_retry_interval), and its lag grows past the bound anyway.
 */
const REPLICA_CHECK = `select pg_is_in_recovery() as recovering, pg_last_wal_replay_lsn()::text as replayed,
  exists (select 1 from pg_stat_wal_receiver where coalesce(status = 'streaming', pid is not null)) as streaming,
  (select system_identifier::text from pg_control_system()) as cluster`;

/** `promise`, or an error after `ms` (the promise itself is left to settle on its own). */
function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
