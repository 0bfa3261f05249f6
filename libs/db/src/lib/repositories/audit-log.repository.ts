import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { ConflictError, NotFoundError, isForeignKeyViolation } from '../errors';
import { Db, PrismaService } from '../prisma.service';
import { canonicalJson, sha256Hex } from '../canonical-json';
import { decodeCursor, pageSize, toPage, type Page } from '../pagination';
import { AUDIT_MAC_KEY, AuditMacKey } from '../audit/audit-mac-key';
import { checkJson, checkText, invalid, throwIfProblems, type Problem } from '../validation';

export const AUDIT_GENESIS_HASH = '0'.repeat(64);
/** The actor and action of the entry the sealer writes in place of a witnessed entry that was deleted while pending. */
export const AUDIT_SEALER_ACTOR = 'system:audit-sealer';
export const AUDIT_ENTRY_MISSING = 'audit.entry_missing';

export const AUDIT_LOG_SELECT = {
  id: true,
  seq: true,
  at: true,
  actor: true,
  action: true,
  entityType: true,
  entityId: true,
  before: true,
  after: true,
  requestId: true,
} satisfies Prisma.AuditLogSelect;

type AuditLogRow = Prisma.AuditLogGetPayload<{ select: typeof AUDIT_LOG_SELECT }>;

const AUDIT_CHAIN_SELECT = { ...AUDIT_LOG_SELECT, prevHash: true, hash: true } satisfies Prisma.AuditLogSelect;
type AuditChainRow = Prisma.AuditLogGetPayload<{ select: typeof AUDIT_CHAIN_SELECT }>;
const AUDIT_PENDING_SELECT = { ...AUDIT_LOG_SELECT, mac: true } satisfies Prisma.AuditLogSelect;

export interface AuditEntry {
  id: string;
  /** Position in the organization's chain; null while the entry is pending (not sealed yet). */
  seq: number | null;
  at: Date;
  actor: string;
  action: string;
  entityType: string;
  entityId: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
}

export interface AppendAuditInput {
  /** Who did it: `user:<id>`, `api-key:<id>`, `system:<job>`. */
  actor: string;
  /** What happened: `payment.refunded`, `agent.updated`. */
  action: string;
  entityType: string;
  entityId?: string | null;
  before?: unknown;
  after?: unknown;
  requestId?: string | null;
}

/** A pending audit row as `append` inserts it (see buildAuditRow). */
export interface AuditRow extends Omit<AuditEntry, 'seq'> {
  organizationId: string;
  /** HMAC-SHA256 (hex) of the content under the server's key; what the writer hands the sealer as its witness */
  mac: string;
}

/** What the process that committed an entry knows of it: enough to notice the entry deleted before sealing. */
export interface AuditWitness {
  id: string;
  mac: string;
}

export interface AuditVerification {
  ok: boolean;
  /** Entries checked before verification stopped: `sealed` by hash and link, then `pending` by MAC. */
  checked: number;
  sealed: number;
  pending: number;
  /** Age of the oldest pending entry checked, in seconds; null when none is pending. */
  oldestPendingSeconds: number | null;
  /** The first entry that does not verify: a sealed one by its seq, a pending one by its id. */
  brokenAt?: { seq?: number; id?: string; reason: string };
}

export interface AuditSealResult {
  /** false: another sealer holds the organization's head right now; nothing was done, try again later */
  locked: boolean;
  sealed: number;
  /** pending entries whose MAC does not verify: left pending, never sealed */
  rejected: string[];
  /** witnessed ids that were neither pending nor sealed: a tombstone was sealed for each */
  missing: string[];
  /** witnessed ids that need no more watching (sealed, rejected or tombstoned) */
  settled: string[];
  /** more pending entries than one call seals */
  more: boolean;
}

export interface AuditSealingLag {
  /** entries sealed in the window */
  sealed: number;
  /** sealed_at - at, in ms */
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  pending: number;
  oldestPendingMs: number | null;
}

const VERIFY_BATCH = 500;
const SEAL_BATCH = 1000;
/** A listPage cursor's time: an ISO 8601 UTC string as toISOString writes it. */
const AT_CURSOR = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/**
 * entity_type and entity_id share a btree index entry with organization_id, and a btree entry is limited to
 * about 2.7 kB: 255 characters each (at most 4 bytes each in UTF-8) always fits. Other text is limited only by
 * MAX_TEXT_LENGTH.
 */
const MAX_ENTITY_TEXT = 255;

/**
 * The audit log: an append-only hash chain per organization, built in two steps so that no request waits for
 * another one of its organization.
 *
 * 1. `append` inserts the entry *pending* (no seq, no hash) in the mutation's own transaction, so the entry and
 *    the change commit or roll back together, with `mac` = HMAC-SHA256(server key, canonical JSON of the
 *    organization, id, at, actor, action, entity, before, after, request id). One plain INSERT: no head row, no
 *    lock. `buildAuditRow` + `auditInsertSql` let a hot path fold that INSERT into a statement of its own.
 * 2. `sealPending` (run by AuditSealer shortly after the commit, and by its sweep for anything left over) locks
 *    the organization's `audit_chain_heads` row without waiting (SKIP LOCKED: a second sealer skips and retries),
 *    checks each pending entry's MAC and gives each valid one, in (at, id) order, the next seq, the previous hash
 *    and its hash (sha256 over the content, seq and previous hash: the formula of the entries sealed before
 *    pending entries existed), then moves the head.
 *
 * What `verify` proves:
 * - Sealed entries: any edit, insertion, removal or reordering since sealing breaks the chain (hash, link, no gap,
 *   last entry = head), as before.
 * - Pending entries: the MAC shows an entry forged or modified (content, time, id: reordering included) by
 *   anyone without the key; such an entry is never sealed (that would launder it) and fails `verify`.
 * - Deletion of a pending entry: a MAC cannot show that a row is missing. The process that committed the entry
 *   hands its id and MAC to its sealer (a witness); when the sealer finds a witnessed entry neither pending nor
 *   sealed, it seals a tombstone (`audit.entry_missing`, entityId = the missing id, after = { mac }) in its place
 *   and `verify` fails there, for good. The limit: an entry of a process that crashed between commit and sealing
 *   had no witness left, so its deletion in that window goes unnoticed (its forgery or modification still does
 *   not). Nothing acknowledged is lost by such a crash: the row is committed and the next sweep seals it.
 * - The MAC key: rotating it while entries are pending makes those entries fail verification (and stay unsealed);
 *   seal everything first (the API does on SIGTERM).
 */
@Injectable()
export class AuditLogRepository {
  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Optional() @Inject(AUDIT_MAC_KEY) private readonly macKey: AuditMacKey | null = null,
  ) {}

  private get key(): AuditMacKey {
    if (!this.macKey) throw new Error('AuditLogRepository: no audit MAC key (DbModule.forRoot({ auditMacKey }))');
    return this.macKey;
  }

  /** The row `append` would insert, with this repository's key (see buildAuditRow). */
  buildRow(organizationId: string, input: AppendAuditInput, at?: Date): AuditRow {
    return buildAuditRow(this.key, organizationId, input, at);
  }

  /** Inserts the entry, pending; returns it with its MAC (the witness to hand the sealer once committed). */
  async append(organizationId: string, input: AppendAuditInput, db: Db = this.prisma): Promise<AuditEntry & AuditWitness> {
    const row = this.buildRow(organizationId, input);
    try {
      // On a plain pg transaction (the API's hot routes) the INSERT goes out with the COMMIT: nothing reads it back.
      await this.prisma.queryRows(db, auditInsertSql([row]), { deferUntilCommit: true });
    } catch (error) {
      if (isForeignKeyViolation(error)) throw new NotFoundError('Organization', organizationId);
      throw error;
    }
    return {
      id: row.id,
      seq: null,
      at: row.at,
      actor: row.actor,
      action: row.action,
      entityType: row.entityType,
      entityId: row.entityId,
      before: row.before,
      after: row.after,
      requestId: row.requestId,
      mac: row.mac,
    };
  }

  /**
   * Walks the organization's sealed chain in seq order, a batch at a time, recomputing every hash and checking
   * every link, that no seq is missing, that the last entry is the head and that no tombstone is in it; then checks
   * the MAC of every entry not sealed when the walk began. Reads the head first and walks the entries up to it,
   * so sealing and appends running meanwhile do not disturb it: an entry sealed during the walk is checked by
   * its MAC, and none is counted twice.
   */
  async verify(organizationId: string, db: Db = this.prisma): Promise<AuditVerification> {
    const readHead = () => db.auditChainHead.findUnique({ where: { organizationId }, select: { lastSeq: true, lastHash: true } });
    let head = await readHead();
    // No head: either nothing is sealed, or the first sealing committed after that read (each statement of a READ
    // COMMITTED transaction sees the latest commits; the sealer writes the head and the rows in one transaction),
    // or the head was deleted. A sealed row in sight decides between them.
    const headless = head === null && (await db.auditLog.findFirst({ where: { organizationId, seq: { not: null } }, select: { id: true } }));
    if (headless) head = await readHead();
    let expected = 1n;
    let prevHash = AUDIT_GENESIS_HASH;
    let sealed = 0;
    let pending = 0;
    let oldestPending: Date | null = null;
    const result = (brokenAt?: AuditVerification['brokenAt']): AuditVerification => ({
      ok: brokenAt === undefined,
      checked: sealed + pending,
      sealed,
      pending,
      oldestPendingSeconds: oldestPending ? Math.max(0, (Date.now() - oldestPending.getTime()) / 1000) : null,
      ...(brokenAt ? { brokenAt } : {}),
    });
    const broken = (seq: bigint, reason: string) => result({ seq: Number(seq), reason });

    for (;;) {
      const rows: AuditChainRow[] = await db.auditLog.findMany({
        where: { organizationId, seq: { gte: expected, ...(head || !headless ? { lte: head?.lastSeq ?? 0n } : {}) } },
        orderBy: { seq: 'asc' },
        take: VERIFY_BATCH,
        select: AUDIT_CHAIN_SELECT,
      });
      for (const row of rows) {
        const seq = row.seq as bigint;
        if (seq !== expected) return broken(expected, 'entry missing');
        if (row.prevHash !== prevHash) return broken(seq, 'prev_hash does not match the previous entry');
        if (rowHash(organizationId, row) !== row.hash) return broken(seq, 'hash does not match the entry');
        if (row.action === AUDIT_ENTRY_MISSING && row.actor === AUDIT_SEALER_ACTOR) {
          return broken(seq, `entry ${row.entityId} was deleted before it was sealed`);
        }
        prevHash = row.hash;
        expected++;
        sealed++;
      }
      if (rows.length < VERIFY_BATCH) break;
    }

    if (!head) {
      if (sealed > 0) return broken(1n, 'chain head missing');
    } else {
      if (expected - 1n !== head.lastSeq) return broken(expected, 'entry missing (chain head is further on)');
      if (head.lastHash !== prevHash) return broken(head.lastSeq, 'chain head does not match the last entry');
    }

    // Everything after the head as read above: pending entries, and those sealed since (they keep their MAC).
    const lastSeq = head?.lastSeq ?? 0n;
    let after: { at: Date; id: string } | null = null;
    for (;;) {
      const rows: Array<Prisma.AuditLogGetPayload<{ select: typeof AUDIT_PENDING_SELECT }>> = await db.auditLog.findMany({
        where: {
          organizationId,
          OR: [{ seq: null }, { seq: { gt: lastSeq } }],
          ...(after ? { AND: [{ OR: [{ at: { gt: after.at } }, { at: after.at, id: { gt: after.id } }] }] } : {}),
        },
        orderBy: [{ at: 'asc' }, { id: 'asc' }],
        take: VERIFY_BATCH,
        select: AUDIT_PENDING_SELECT,
      });
      for (const row of rows) {
        if (row.seq === null && (oldestPending === null || row.at < oldestPending)) oldestPending = row.at;
        const where = { id: row.id, ...(row.seq !== null ? { seq: Number(row.seq) } : {}) };
        if (row.mac === null) return result({ ...where, reason: 'entry after the chain head without a MAC' });
        if (!this.key.verify(macText(organizationId, row), row.mac)) {
          return result({ ...where, reason: 'MAC does not match the entry (forged, edited or reordered)' });
        }
        pending++;
      }
      if (rows.length < VERIFY_BATCH) break;
      after = rows[rows.length - 1];
    }
    return result();
  }

  /**
   * Seals the organization's pending entries into its chain (see the class comment), at most SEAL_BATCH
   * valid ones per call, and seals a tombstone for each witnessed id that is neither pending nor sealed. Returns
   * `locked: false` without doing anything when another sealer holds the head. Run it in a transaction of the
   * organization (AuditSealer does); with the client alone it opens one.
   */
  async sealPending(organizationId: string, witnesses: Iterable<AuditWitness> = [], db: Db = this.prisma): Promise<AuditSealResult> {
    return this.prisma.inTransaction(db, async (tx) => {
      const result: AuditSealResult = { locked: false, sealed: 0, rejected: [], missing: [], settled: [], more: false };
      const head = await this.lockHead(tx, organizationId);
      if (!head) return result;
      result.locked = true;
      let { seq, hash: prevHash } = head;
      const sealedAt = new Date();
      const ids: string[] = [];
      /** the row versions read: the UPDATE seals only those */
      const xmins: string[] = [];
      const seqs: string[] = [];
      const prevHashes: string[] = [];
      const hashes: string[] = [];

      // Keyset pages over the pending entries, so that rejected (forged) rows in front cannot starve valid ones.
      let after: { at: Date; id: string } | null = null;
      while (ids.length < SEAL_BATCH) {
        const rows: PendingRow[] = await this.prisma.queryRows<PendingRow>(
          tx,
          // Ordered by the table's columns (a bare `id` would be the text one selected): the pending index's order,
          // so LIMIT stops the scan; before, every pending entry was read and sorted per call. Not FOR UPDATE: the
          // head's lock already keeps other sealers out, and locking each row cost a WAL record per entry; a row
          // changed or deleted since this read is caught by the UPDATE's xmin check below instead.
          Prisma.sql`
            SELECT id::text, at, actor, action, entity_type, entity_id, before::text AS before, after::text AS after,
                   request_id, mac, xmin::text AS xmin
              FROM audit_logs
             WHERE organization_id = ${organizationId}::uuid AND seq IS NULL
               ${after ? Prisma.sql`AND (at, id) > (${after.at.toISOString()}::timestamptz, ${after.id}::uuid)` : Prisma.empty}
             ORDER BY audit_logs.at, audit_logs.id
             LIMIT ${SEAL_BATCH}`,
        );
        for (const raw of rows) {
          if (ids.length === SEAL_BATCH) break;
          const row = fromPendingRow(raw);
          if (row.mac === null || !this.key.verify(macText(organizationId, row), row.mac)) {
            result.rejected.push(row.id);
            continue;
          }
          seq++;
          const hash = entryHash({ organizationId, seq, prevHash, ...row });
          ids.push(row.id);
          xmins.push(raw.xmin);
          seqs.push(seq.toString());
          prevHashes.push(prevHash);
          hashes.push(hash);
          prevHash = hash;
        }
        if (rows.length < SEAL_BATCH) break;
        after = fromPendingRow(rows[rows.length - 1]);
      }
      // Full: there may be more (one more call finds out cheaply).
      result.more = ids.length === SEAL_BATCH;

      if (ids.length > 0) {
        const updated = await this.prisma.queryRows<{ id: string }>(
          tx,
          Prisma.sql`
            UPDATE audit_logs a
               SET seq = v.seq, prev_hash = v.prev_hash, hash = v.hash, sealed_at = ${sealedAt.toISOString()}::timestamptz
              FROM unnest(${ids}::uuid[], ${xmins}::text[], ${seqs}::bigint[], ${prevHashes}::text[], ${hashes}::text[])
                   AS v(id, xmin, seq, prev_hash, hash)
             WHERE a.organization_id = ${organizationId}::uuid AND a.id = v.id AND a.xmin = v.xmin::xid AND a.seq IS NULL
            RETURNING a.id::text`,
        );
        // An entry changed or deleted since it was read (only by hand: nothing here writes pending entries) would be
        // chained with content it no longer has, or not at all: roll everything back and read again.
        if (updated.length !== ids.length) {
          const changed = new ConflictError(`audit entries changed while being sealed (${updated.length} of ${ids.length} unchanged)`);
          changed.retryTransaction = true;
          throw changed;
        }
        result.sealed = ids.length;
      }

      const watched = new Map<string, string>();
      for (const w of witnesses) watched.set(w.id, w.mac);
      if (watched.size > 0) {
        const found = await this.prisma.queryRows<{ id: string; sealed: boolean }>(
          tx,
          Prisma.sql`
            SELECT id::text, seq IS NOT NULL AS sealed FROM audit_logs
             WHERE organization_id = ${organizationId}::uuid AND id = ANY(${[...watched.keys()]}::uuid[])`,
        );
        const state = new Map(found.map((f) => [f.id, f.sealed]));
        const rejected = new Set(result.rejected);
        for (const [id, mac] of watched) {
          const isSealed = state.get(id);
          if (isSealed === undefined) {
            const tombstone = this.buildRow(organizationId, {
              actor: AUDIT_SEALER_ACTOR,
              action: AUDIT_ENTRY_MISSING,
              entityType: 'audit_log',
              entityId: id,
              after: { mac },
            });
            seq++;
            const hash = entryHash({ ...tombstone, seq, prevHash });
            await this.prisma.queryRows(tx, auditInsertSql([tombstone], { seq, prevHash, hash, sealedAt }));
            prevHash = hash;
            result.missing.push(id);
            result.sealed++;
            result.settled.push(id);
          } else if (isSealed || rejected.has(id)) {
            result.settled.push(id);
          }
        }
      }

      if (seq !== head.seq) {
        await this.prisma.queryRows(
          tx,
          Prisma.sql`
            UPDATE audit_chain_heads SET last_seq = ${seq.toString()}::bigint, last_hash = ${prevHash}, updated_at = now()
             WHERE organization_id = ${organizationId}::uuid`,
        );
      }
      return result;
    });
  }

  /**
   * Sealing lag over entries sealed since `since` (default: the last 5 minutes): sealed_at - at (both from the
   * application's clock) as p50/p99/max, and the pending entries with the age of the oldest. One organization, or
   * all when `organizationId` is null (an owner connection: the benchmark).
   */
  async sealingLag(organizationId: string | null, options: { since?: Date } = {}, db: Db = this.prisma): Promise<AuditSealingLag> {
    const since = options.since ?? new Date(Date.now() - 5 * 60_000);
    const org = organizationId === null ? Prisma.empty : Prisma.sql`AND organization_id = ${organizationId}::uuid`;
    return this.prisma.inTransaction(db, (tx) => this.lagIn(tx, org, since));
  }

  private async lagIn(db: Db, org: Prisma.Sql, since: Date): Promise<AuditSealingLag> {
    const [lag] = await this.prisma.queryRows<{ n: number; p50: number | null; p99: number | null; max: number | null }>(
      db,
      Prisma.sql`
        SELECT count(*)::int AS n,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::float8 AS p50,
               percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::float8 AS p99,
               max(ms)::float8 AS max
          FROM (SELECT extract(epoch FROM sealed_at - at) * 1000 AS ms FROM audit_logs
                 WHERE sealed_at >= ${since.toISOString()}::timestamptz ${org}) s`,
    );
    const [pending] = await this.prisma.queryRows<{ n: number; oldest: Date | string | null }>(
      db,
      Prisma.sql`SELECT count(*)::int AS n, min(at) AS oldest FROM audit_logs WHERE seq IS NULL ${org}`,
    );
    return {
      sealed: Number(lag.n),
      p50Ms: lag.p50,
      p99Ms: lag.p99,
      maxMs: lag.max,
      pending: Number(pending.n),
      oldestPendingMs: pending.oldest === null ? null : Math.max(0, Date.now() - new Date(pending.oldest).getTime()),
    };
  }

  /** Newest first (at, then id); filter by entity type and optionally one entity. Pending entries included. */
  async listPage(
    organizationId: string,
    query: { entityType?: string; entityId?: string; limit?: number; cursor?: string | null },
    db: Db = this.prisma,
  ): Promise<Page<AuditEntry>> {
    const limit = pageSize(query.limit);
    const cursor = decodeCursor(query.cursor);
    const before = cursor ? { at: atCursor(cursor.sortValue), id: cursor.id } : undefined;
    const rows = await db.auditLog.findMany({
      where: {
        organizationId,
        ...(query.entityType !== undefined ? { entityType: query.entityType } : {}),
        ...(query.entityId !== undefined ? { entityId: query.entityId } : {}),
        ...(before ? { OR: [{ at: { lt: before.at } }, { at: before.at, id: { lt: before.id } }] } : {}),
      },
      orderBy: [{ at: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      select: AUDIT_LOG_SELECT,
    });
    const page = toPage(rows, limit, (r) => r.at.toISOString());
    return { data: page.data.map(toEntry), nextCursor: page.nextCursor };
  }

  /**
   * Locks the organization's head without waiting (creating it at genesis the first time); null when another
   * sealer holds it.
   */
  private async lockHead(tx: Db, organizationId: string): Promise<{ seq: bigint; hash: string } | null> {
    let rows = await this.prisma.queryRows<{ seq: string; hash: string }>(
      tx,
      Prisma.sql`
        SELECT last_seq::text AS seq, last_hash AS hash FROM audit_chain_heads
         WHERE organization_id = ${organizationId}::uuid FOR UPDATE SKIP LOCKED`,
    );
    if (rows.length === 0) {
      // Missing, or locked by another sealer: DO NOTHING does not wait for a row lock (only, briefly, for a
      // concurrent insert of the same head at genesis). The new row is locked by this transaction.
      rows = await this.prisma.queryRows<{ seq: string; hash: string }>(
        tx,
        Prisma.sql`
          INSERT INTO audit_chain_heads (organization_id, last_seq, last_hash, updated_at)
          VALUES (${organizationId}::uuid, 0, ${AUDIT_GENESIS_HASH}, now())
          ON CONFLICT (organization_id) DO NOTHING
          RETURNING last_seq::text AS seq, last_hash AS hash`,
      );
    }
    return rows.length === 0 ? null : { seq: BigInt(rows[0].seq), hash: rows[0].hash };
  }
}

/**
 * The pending row `append` inserts, as a pure function so that a hot path can write the INSERT into a statement
 * of its own (`auditInsertSql`, or the same columns): validates the input (InvalidInputError, nothing written),
 * normalises before/after to what JSONB reads back, and computes the MAC with the server's key
 * (`AuditLogRepository.buildRow` passes it). `at` (default now, the application's clock) and `id` (default a new
 * UUID) are part of the MAC; insert them as given.
 */
export function buildAuditRow(key: AuditMacKey, organizationId: string, input: AppendAuditInput, at: Date = new Date(), id: string = randomUUID()): AuditRow {
  const entry = validateInput(input);
  const content = { id, organizationId, at: new Date(at.getTime()), ...entry };
  return { ...content, mac: key.mac(macText(organizationId, content)) };
}

/** The columns of `auditInsertSql`, in its order. */
export const AUDIT_INSERT_COLUMNS = 'id, organization_id, at, actor, action, entity_type, entity_id, before, after, request_id, mac';

/**
 * One INSERT of pending rows (no RETURNING), usable on its own or as a data-modifying CTE. With `sealed`, the one
 * row is inserted already sealed (the sealer's tombstones).
 */
export function auditInsertSql(rows: AuditRow[], sealed?: { seq: bigint; prevHash: string; hash: string; sealedAt: Date }): Prisma.Sql {
  if (rows.length === 0) throw new Error('auditInsertSql: no rows');
  if (sealed && rows.length !== 1) throw new Error('auditInsertSql: one sealed row at a time');
  const values = rows.map(
    (r) =>
      Prisma.sql`(${auditRowValues(r)}${
        sealed
          ? Prisma.sql`, ${sealed.seq.toString()}::bigint, ${sealed.prevHash}::text, ${sealed.hash}::text, ${sealed.sealedAt.toISOString()}::timestamptz`
          : Prisma.empty
      })`,
  );
  return Prisma.sql`INSERT INTO audit_logs (${Prisma.raw(AUDIT_INSERT_COLUMNS)}${Prisma.raw(sealed ? ', seq, prev_hash, hash, sealed_at' : '')})
    VALUES ${Prisma.join(values)}`;
}

/**
 * A data-modifying CTE (`, <name> AS (…)`) that inserts the pending row only if the statement's CTE `written`
 * returned a row: the entry of a change written by the same statement (payment creation, a one-message append),
 * so a statement that wrote nothing (a replay, a conflict) leaves no entry.
 */
export function auditInsertWithCte(row: AuditRow, written: string): Prisma.Sql {
  return Prisma.sql`, audited AS (
    INSERT INTO audit_logs (${Prisma.raw(AUDIT_INSERT_COLUMNS)})
    SELECT ${auditRowValues(row)} WHERE EXISTS (SELECT 1 FROM ${Prisma.raw(written)})
  )`;
}

/**
 * A pending row's values in the order of AUDIT_INSERT_COLUMNS, comma-separated, for an INSERT … SELECT of a
 * statement of its own (payment creation inserts its entry only if the payment was inserted). Every placeholder
 * is cast, so the statement is prepared once per connection (RawSession).
 */
export function auditRowValues(r: AuditRow): Prisma.Sql {
  const json = (v: unknown) => (v === null ? null : JSON.stringify(v));
  return Prisma.sql`${r.id}::uuid, ${r.organizationId}::uuid, ${r.at.toISOString()}::timestamptz, ${r.actor}::text, ${r.action}::text,
      ${r.entityType}::text, ${r.entityId}::text, ${json(r.before)}::jsonb, ${json(r.after)}::jsonb, ${r.requestId}::text, ${r.mac}::text`;
}

interface NormalisedInput {
  actor: string;
  action: string;
  entityType: string;
  entityId: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
}

function validateInput(input: AppendAuditInput): NormalisedInput {
  const problems: Problem[] = [];
  for (const key of ['actor', 'action', 'entityType'] as const) {
    if (typeof input[key] !== 'string' || input[key].length === 0) problems.push({ path: key, message: 'is required' });
    else checkText(input[key], key, problems, key === 'entityType' ? MAX_ENTITY_TEXT : undefined);
  }
  for (const key of ['entityId', 'requestId'] as const) {
    const v = input[key];
    if (v !== undefined && v !== null && typeof v !== 'string') problems.push({ path: key, message: 'must be a string' });
    else checkText(v, key, problems, key === 'entityId' ? MAX_ENTITY_TEXT : undefined);
  }
  const before = jsonValue(input.before, 'before', problems);
  const after = jsonValue(input.after, 'after', problems);
  throwIfProblems(problems, 'invalid audit entry');
  return {
    actor: input.actor,
    action: input.action,
    entityType: input.entityType,
    entityId: input.entityId ?? null,
    before,
    after,
    requestId: input.requestId ?? null,
  };
}

/**
 * The value as it will read back from JSONB (dates as ISO strings, decimals as strings, undefined members
 * gone); absent and null both become SQL NULL. What JSONB cannot hold (NUL in a string or a key) is a problem
 * at its path (`after.name`).
 */
function jsonValue(value: unknown, path: string, problems: Problem[]): unknown {
  if (value === undefined || value === null) return null;
  let parsed: unknown;
  try {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError('not JSON');
    parsed = JSON.parse(text);
  } catch (error) {
    problems.push({ path, message: `must be JSON-serialisable (${(error as Error).message})` });
    return null;
  }
  checkJson(parsed, path, problems);
  return parsed;
}

/** The time a listPage cursor carries; anything else (another list's cursor, not a time) is InvalidInputError. */
function atCursor(sortValue: string | number): Date {
  const at = typeof sortValue === 'string' && AT_CURSOR.test(sortValue) ? new Date(sortValue) : null;
  if (!at || Number.isNaN(at.getTime())) throw invalid('cursor', 'not a cursor this API issued');
  return at;
}

type EntryContent = NormalisedInput & { id: string; at: Date };

/** What the MAC covers: everything of the entry but its place in the chain (which it does not have yet). */
function macText(organizationId: string, e: Omit<EntryContent, 'before' | 'after'> & { before: unknown; after: unknown }): string {
  return canonicalJson({
    organizationId,
    id: e.id,
    at: e.at.toISOString(),
    actor: e.actor,
    action: e.action,
    entityType: e.entityType,
    entityId: e.entityId,
    before: e.before ?? null,
    after: e.after ?? null,
    requestId: e.requestId,
  });
}

function entryHash(e: NormalisedInput & { organizationId: string; seq: bigint; at: Date; prevHash: string }): string {
  return sha256Hex(
    canonicalJson({
      organizationId: e.organizationId,
      seq: e.seq.toString(),
      at: e.at.toISOString(),
      actor: e.actor,
      action: e.action,
      entityType: e.entityType,
      entityId: e.entityId,
      before: e.before,
      after: e.after,
      requestId: e.requestId,
      prevHash: e.prevHash,
    }),
  );
}

function rowHash(organizationId: string, row: AuditChainRow): string {
  return entryHash({
    organizationId,
    seq: row.seq ?? 0n,
    at: row.at,
    actor: row.actor,
    action: row.action,
    entityType: row.entityType,
    entityId: row.entityId,
    before: row.before ?? null,
    after: row.after ?? null,
    requestId: row.requestId,
    prevHash: row.prevHash ?? '',
  });
}

/** A pending row as the sealer reads it: JSON as text, parsed here, so both raw paths (pg, Prisma) read alike. */
interface PendingRow {
  id: string;
  /** the row version's xmin, as text */
  xmin: string;
  at: Date | string;
  actor: string;
  action: string;
  entity_type: string;
  entity_id: string | null;
  before: string | null;
  after: string | null;
  request_id: string | null;
  mac: string | null;
}

function fromPendingRow(r: PendingRow): EntryContent & { mac: string | null } {
  return {
    id: r.id,
    at: new Date(r.at),
    actor: r.actor,
    action: r.action,
    entityType: r.entity_type,
    entityId: r.entity_id,
    before: r.before === null ? null : JSON.parse(r.before),
    after: r.after === null ? null : JSON.parse(r.after),
    requestId: r.request_id,
    mac: r.mac,
  };
}

function toEntry(row: AuditLogRow): AuditEntry {
  return {
    id: row.id,
    seq: row.seq === null ? null : Number(row.seq),
    at: row.at,
    actor: row.actor,
    action: row.action,
    entityType: row.entityType,
    entityId: row.entityId,
    before: row.before ?? null,
    after: row.after ?? null,
    requestId: row.requestId,
  };
}
