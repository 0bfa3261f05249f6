import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { NotFoundError, isForeignKeyViolation } from '../errors';
import { Db, PrismaService } from '../prisma.service';
import { canonicalJson, sha256Hex } from '../canonical-json';
import { decodeCursor, pageSize, toPage, type Page } from '../pagination';
import { checkJson, checkText, invalid, throwIfProblems, type Problem } from '../validation';

export const AUDIT_GENESIS_HASH = '0'.repeat(64);

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

export interface AuditEntry {
  id: string;
  seq: number;
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

export interface AuditVerification {
  ok: boolean;
  /** Entries whose hash and link were checked before the walk stopped. */
  checked: number;
  brokenAt?: { seq: number; reason: string };
}

const VERIFY_BATCH = 500;
/** A seq as listPage's cursors carry it: a positive integer that fits a bigint (at most 19 digits). */
const SEQ_CURSOR = /^[1-9][0-9]{0,18}$/;
const MAX_BIGINT = 2n ** 63n - 1n;
/**
 * entity_type and entity_id share a btree index entry with organization_id, and a btree entry is limited to
 * about 2.7 kB: 255 characters each (at most 4 bytes each in UTF-8) always fits. Other text is limited only by
 * MAX_TEXT_LENGTH.
 */
const MAX_ENTITY_TEXT = 255;

/**
 * The audit log: an append-only hash chain per organization. Every entry's hash covers its content and the
 * previous entry's hash, and the organization's `audit_chain_heads` row holds the tip, so an entry edited,
 * inserted or removed behind the application's back shows up in `verify`.
 *
 * Appends are serialised per organization by the head row's lock (taken by `UPDATE … RETURNING`), held until the
 * surrounding transaction ends: call `append` inside the transaction of the mutation it records, so the entry
 * and the change commit or roll back together.
 */
@Injectable()
export class AuditLogRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  async append(organizationId: string, input: AppendAuditInput, db: Db = this.prisma): Promise<AuditEntry> {
    const entry = validateInput(input);
    return this.prisma.inTransaction(db, async (tx) => {
      const head = await this.advanceHead(tx, organizationId);
      // Taken after the lock, so `at` follows seq order within one clock.
      const at = new Date();
      const hash = entryHash({ organizationId, seq: head.seq, at, prevHash: head.prevHash, ...entry });
      const row = await tx.auditLog.create({
        data: {
          organizationId,
          seq: head.seq,
          at,
          actor: entry.actor,
          action: entry.action,
          entityType: entry.entityType,
          entityId: entry.entityId,
          before: toJsonColumn(entry.before),
          after: toJsonColumn(entry.after),
          requestId: entry.requestId,
          prevHash: head.prevHash,
          hash,
        },
        select: AUDIT_LOG_SELECT,
      });
      await this.prisma.queryRows(
        tx,
        Prisma.sql`
          UPDATE audit_chain_heads SET last_hash = ${hash}, updated_at = now()
           WHERE organization_id = ${organizationId}::uuid`,
      );
      return toEntry(row);
    });
  }

  /**
   * Walks the organization's chain in seq order, a batch at a time, recomputing every hash and checking every
   * link, that no seq is missing, and that the last entry is the head. Reads the head first and checks the
   * entries up to it, so appends running meanwhile do not disturb it.
   */
  async verify(organizationId: string, db: Db = this.prisma): Promise<AuditVerification> {
    const head = await db.auditChainHead.findUnique({
      where: { organizationId },
      select: { lastSeq: true, lastHash: true },
    });
    let expected = 1n;
    let prevHash = AUDIT_GENESIS_HASH;
    let checked = 0;
    const broken = (seq: bigint, reason: string): AuditVerification => ({
      ok: false,
      checked,
      brokenAt: { seq: Number(seq), reason },
    });

    for (;;) {
      const rows: AuditChainRow[] = await db.auditLog.findMany({
        where: { organizationId, seq: { gte: expected, ...(head ? { lte: head.lastSeq } : {}) } },
        orderBy: { seq: 'asc' },
        take: VERIFY_BATCH,
        select: AUDIT_CHAIN_SELECT,
      });
      for (const row of rows) {
        if (row.seq !== expected) return broken(expected, 'entry missing');
        if (row.prevHash !== prevHash) return broken(row.seq, 'prev_hash does not match the previous entry');
        if (rowHash(organizationId, row) !== row.hash) return broken(row.seq, 'hash does not match the entry');
        prevHash = row.hash;
        expected++;
        checked++;
      }
      if (rows.length < VERIFY_BATCH) break;
    }

    if (!head) return checked === 0 ? { ok: true, checked } : broken(1n, 'chain head missing');
    if (expected - 1n !== head.lastSeq) return broken(expected, 'entry missing (chain head is further on)');
    if (head.lastHash !== prevHash) return broken(head.lastSeq, 'chain head does not match the last entry');
    return { ok: true, checked };
  }

  /** Newest first; filter by entity type and optionally one entity. */
  async listPage(
    organizationId: string,
    query: { entityType?: string; entityId?: string; limit?: number; cursor?: string | null },
    db: Db = this.prisma,
  ): Promise<Page<AuditEntry>> {
    const limit = pageSize(query.limit);
    const cursor = decodeCursor(query.cursor);
    // The sort key is the entry's seq (a positive bigint, as a string); anything else was not issued by this list.
    const before = cursor ? seqCursor(cursor.sortValue) : undefined;
    const rows = await db.auditLog.findMany({
      where: {
        organizationId,
        ...(query.entityType !== undefined ? { entityType: query.entityType } : {}),
        ...(query.entityId !== undefined ? { entityId: query.entityId } : {}),
        ...(before !== undefined ? { seq: { lt: before } } : {}),
      },
      orderBy: { seq: 'desc' },
      take: limit + 1,
      select: AUDIT_LOG_SELECT,
    });
    const page = toPage(rows, limit, (r) => r.seq.toString());
    return { data: page.data.map(toEntry), nextCursor: page.nextCursor };
  }

  /** Bumps the head (creating it at genesis the first time) and returns this entry's seq and predecessor. */
  private async advanceHead(tx: Db, organizationId: string): Promise<{ seq: bigint; prevHash: string }> {
    const bump = () =>
      this.prisma.queryRows<{ seq: bigint; prev_hash: string }>(
        tx,
        Prisma.sql`
          UPDATE audit_chain_heads SET last_seq = last_seq + 1
           WHERE organization_id = ${organizationId}::uuid
          RETURNING last_seq AS seq, last_hash AS prev_hash`,
      );
    let rows = await bump();
    if (rows.length === 0) {
      try {
        await tx.$executeRaw`
          INSERT INTO audit_chain_heads (organization_id, last_seq, last_hash, updated_at)
          VALUES (${organizationId}::uuid, 0, ${AUDIT_GENESIS_HASH}, now())
          ON CONFLICT (organization_id) DO NOTHING`;
      } catch (error) {
        if (isForeignKeyViolation(error)) throw new NotFoundError('Organization', organizationId);
        throw error;
      }
      rows = await bump();
    }
    return { seq: BigInt(rows[0].seq), prevHash: rows[0].prev_hash };
  }
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

/** The seq a listPage cursor carries; anything else (another list's cursor, a non-integer) is InvalidInputError. */
function seqCursor(sortValue: string | number): bigint {
  const text = String(sortValue);
  if (!SEQ_CURSOR.test(text) || BigInt(text) > MAX_BIGINT) throw invalid('cursor', 'not a cursor this API issued');
  return BigInt(text);
}

function toJsonColumn(value: unknown): Prisma.InputJsonValue | typeof Prisma.DbNull {
  return value === null ? Prisma.DbNull : (value as Prisma.InputJsonValue);
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
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    entityType: row.entityType,
    entityId: row.entityId,
    before: row.before ?? null,
    after: row.after ?? null,
    requestId: row.requestId,
    prevHash: row.prevHash,
  });
}

function toEntry(row: AuditLogRow): AuditEntry {
  return {
    id: row.id,
    seq: Number(row.seq),
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
