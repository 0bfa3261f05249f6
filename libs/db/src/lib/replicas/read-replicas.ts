import { Logger } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../../generated/prisma/client';
import { pgPoolConfig } from '../connection/pg-adapter';
import { redactUrl } from '../connection/database-config';
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

export interface ReplicaStatus {
  /** the replica's URL without credentials */
  url: string;
  healthy: boolean;
  /** why it is skipped, when it is */
  reason: string | null;
  /** ms behind the primary at the last poll (null: unknown) */
  lagMs: number | null;
  /** reads it served / reads that fell back to the primary because it had not caught up */
  reads: number;
  behind: number;
}

interface Replica {
  url: string;
  pool: pg.Pool;
  prisma: PrismaClient | null;
  up: boolean;
  reason: string | null;
  replayLsn: bigint | null;
  lagMs: number | null;
  reads: number;
  behind: number;
}

/** A WAL position as PostgreSQL writes it (`16/B374D848`). */
const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

export function parseLsn(text: string): bigint {
  if (!LSN.test(text)) throw new Error(`not a WAL position: ${text}`);
  const [hi, lo] = text.split('/');
  return (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`);
}

/**
 * The statement a replica's read transaction begins with: it fails with REPLICA_BEHIND unless the replica has
 * replayed up to `lsn`. A DO block because a plain statement cannot raise; `lsn` is checked against LSN's shape
 * before it is written in. On the primary pg_last_wal_replay_lsn() is NULL and the check passes.
 */
export function replayCheckSql(lsn: string): string {
  if (!LSN.test(lsn)) throw new Error(`not a WAL position: ${lsn}`);
  return `DO $$BEGIN IF pg_last_wal_replay_lsn() < '${lsn}'::pg_lsn THEN RAISE EXCEPTION 'replica behind ${lsn}' USING ERRCODE = '${REPLICA_BEHIND}'; END IF; END$$`;
}

export function isReplicaBehind(error: unknown): boolean {
  return sqlState(error) === REPLICA_BEHIND;
}

/**
 * The replica could not serve the read, which the primary then serves: not caught up, a conflict with recovery
 * (40001: a query canceled to let replay go on), or unavailable (isDatabaseUnavailable). Anything else — a domain
 * error of the handler, a bad statement — is the read's own outcome and is not retried.
 */
export function replicaCannotServe(error: unknown): boolean {
  const state = sqlState(error);
  return state === REPLICA_BEHIND || state === '40001' || isDatabaseUnavailable(error);
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
      pool: new pg.Pool({ ...pgPoolConfig(url, { max: options.poolSize ?? 10, applicationName: 'agenthub-read' }), connectionTimeoutMillis: 2_000 }),
      prisma: null,
      up: false,
      reason: 'not checked yet',
      replayLsn: null,
      lagMs: null,
      reads: 0,
      behind: 0,
    }));
    // An idle client's error (the replica restarted) must not crash the process: the next poll marks it down.
    for (const r of this.replicas) r.pool.on('error', () => undefined);
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
  pick(): { url: string; pool: pg.Pool; prisma: () => PrismaClient; served: () => void; fellBehind: () => void } | null {
    const n = this.replicas.length;
    for (let i = 0; i < n; i++) {
      const r = this.replicas[(this.next + i) % n];
      if (!r.up) continue;
      this.next = (this.next + i + 1) % n;
      return {
        url: r.url,
        pool: r.pool,
        prisma: () => (r.prisma ??= new PrismaClient({ adapter: new PrismaPg(r.pool) })),
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

  private async primaryLsn(): Promise<string> {
    const { rows } = await this.primary.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
    const lsn = rows[0].lsn;
    this.remember(parseLsn(lsn));
    return lsn;
  }

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
      await this.primaryLsn();
    } catch {
      // The primary is down: the replicas' lag cannot be known, and reads need the primary's position anyway.
    }
    await Promise.all(this.replicas.map((r) => this.check(r)));
  }

  private async check(r: Replica): Promise<void> {
    const wasUp = r.up;
    try {
      const { rows } = await r.pool.query<{ recovering: boolean; replayed: string | null }>(
        'select pg_is_in_recovery() as recovering, pg_last_wal_replay_lsn()::text as replayed',
      );
      const { recovering, replayed } = rows[0];
      if (!recovering || replayed === null) {
        this.mark(r, false, 'not a standby (promoted?): it no longer follows the primary', null);
        return;
      }
      r.replayLsn = parseLsn(replayed);
      const lagMs = this.lagOf(r.replayLsn);
      if (lagMs === null) this.mark(r, false, 'lag unknown: the primary does not answer', null);
      else if (lagMs > this.maxLagMs) this.mark(r, false, `lagging ${lagMs} ms (bound ${this.maxLagMs} ms)`, lagMs);
      else this.mark(r, true, null, lagMs);
    } catch (error) {
      this.mark(r, false, `unreachable: ${(error as Error).message}`, null);
    }
    if (wasUp !== r.up) {
      const what = `read replica ${redactUrl(r.url)}`;
      if (r.up) this.logger.log(`${what} in use (lag ${r.lagMs} ms)`);
      else this.logger.warn(`${what} skipped: ${r.reason}`);
    }
  }

  private mark(r: Replica, up: boolean, reason: string | null, lagMs: number | null): void {
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
    return this.replicas.map((r) => ({ url: redactUrl(r.url), healthy: r.up, reason: r.reason, lagMs: r.lagMs, reads: r.reads, behind: r.behind }));
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.polling?.catch(() => undefined);
    await Promise.all(
      this.replicas.map(async (r) => {
        await r.prisma?.$disconnect().catch(() => undefined);
        const pool = r.pool as pg.Pool & { ending?: boolean; ended?: boolean };
        if (!pool.ending && !pool.ended) await pool.end().catch(() => undefined);
      }),
    );
  }
}
