import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import type { PaymentStatus } from '../../generated/prisma/client';
import { ConflictError, InvalidInputError, InvalidStateError, NotFoundError, sqlState } from '../errors';
import { formatAmount, parseAmount, parseCurrency } from '../money';
import { Db, fixedText, PrismaService, type SqlStatement } from '../prisma.service';
import { canonicalJson, sha256Hex } from '../canonical-json';
import { createdAtBefore, isUuid, pageSize, toPage, type Page } from '../pagination';
import { checkJson, checkText, invalid, throwIfProblems, type Problem } from '../validation';
import { auditInsertWithCte, type AuditRow } from './audit-log.repository';

export const PAYMENT_SELECT = {
  id: true,
  userId: true,
  amount: true,
  currency: true,
  status: true,
  refundedAmount: true,
  description: true,
  failureReason: true,
  metadata: true,
  createdAt: true,
  updatedAt: true,
} satisfies Prisma.PaymentSelect;

export type PaymentRow = Prisma.PaymentGetPayload<{ select: typeof PAYMENT_SELECT }>;

/** PAYMENT_SELECT in raw SQL (alias `p`), money and status as text (pg and Prisma's raw path parse text alike). */
const PAYMENT_COLUMNS = Prisma.raw(
  `p.id, p.user_id AS "userId", p.amount::text AS amount, p.currency, p.status::text AS status,
   p.refunded_amount::text AS "refundedAmount", p.description, p.failure_reason AS "failureReason", p.metadata,
   p.created_at AS "createdAt", p.updated_at AS "updatedAt"`,
);
/** A row of PAYMENT_COLUMNS: money as numeric text. */
type PaymentTextRow = Omit<PaymentRow, 'amount' | 'refundedAmount'> & { amount: string; refundedAmount: string };
type PaymentWithHash = PaymentTextRow & { requestHash: string };

interface CreateArgs {
  /** null: the database's gen_random_uuid() */
  id: string | null;
  organizationId: string;
  userId: string | null;
  amount: string;
  currency: string;
  description: string | null;
  metadata: string;
  idempotencyKey: string;
  requestHash: string;
  /** created_at = updated_at; null: the database's now() */
  createdAt: Date | null;
}

/**
 * Payment creation in one statement (measured: the Prisma version took five round trips — key claim, key lookup,
 * user check, insert, key completion — and ~2 ms of CPU a request; tools/bench api-data). The payment is inserted
 * only if the user (if any) belongs to the organization: row-level security hides another organization's user from
 * the API, but a foreign key check does not, so the organization is checked here. With `audit`, the entry is
 * inserted by the same statement, and only with the payment. One row always comes back: the payment, or why there
 * is none. A payment with the key inserted concurrently is waited for by ON CONFLICT but is invisible to this
 * statement's snapshot, so reading it takes the caller's next statement. Every placeholder is cast, so the
 * statement is prepared once per connection.
 */
function createPaymentSql(a: CreateArgs, audit: AuditRow | null): SqlStatement {
  const audited = audit ? auditInsertWithCte(audit, 'inserted') : Prisma.empty;
  const sql = Prisma.sql`
  WITH args AS (
    SELECT ${a.organizationId}::uuid AS organization_id, ${a.userId}::uuid AS user_id, ${a.amount}::numeric AS amount,
           ${a.currency}::text AS currency, ${a.description}::text AS description, ${a.metadata}::jsonb AS metadata,
           ${a.idempotencyKey}::text AS idempotency_key, ${a.requestHash}::text AS request_hash,
           COALESCE(${a.id}::uuid, gen_random_uuid()) AS id, COALESCE(${a.createdAt?.toISOString() ?? null}::timestamptz, now()) AS created_at
  ), user_ok AS (
    SELECT a.user_id IS NULL OR EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id AND u.organization_id = a.organization_id) AS ok
      FROM args a
  ), inserted AS (
    INSERT INTO payments AS p (id, organization_id, user_id, amount, currency, description, metadata, idempotency_key,
                               request_hash, created_at, updated_at)
    SELECT a.id, a.organization_id, a.user_id, a.amount, a.currency, a.description, a.metadata,
           a.idempotency_key, a.request_hash, a.created_at, a.created_at
      FROM args a, user_ok
     WHERE user_ok.ok
    ON CONFLICT (organization_id, idempotency_key) DO NOTHING
    RETURNING ${PAYMENT_COLUMNS}
  )${audited}
  SELECT CASE WHEN p.id IS NOT NULL THEN 'created' WHEN NOT user_ok.ok THEN 'no_user' ELSE 'key_used' END AS outcome, p.*
    FROM user_ok LEFT JOIN inserted p ON true`;
  return fixedText(audit ? 'payment.create:audited' : 'payment.create', sql);
}


export const REFUND_SELECT = {
  id: true,
  paymentId: true,
  amount: true,
  reason: true,
  createdAt: true,
} satisfies Prisma.RefundSelect;

export type RefundRow = Prisma.RefundGetPayload<{ select: typeof REFUND_SELECT }>;

/** A payment as it leaves the data layer: money as strings with the currency's minor digits. */
export interface PaymentRecord {
  id: string;
  userId: string | null;
  amount: string;
  currency: string;
  status: PaymentStatus;
  refundedAmount: string;
  description: string | null;
  failureReason: string | null;
  metadata: Prisma.JsonValue;
  createdAt: Date;
  updatedAt: Date;
}

export interface RefundRecord {
  id: string;
  paymentId: string;
  amount: string;
  currency: string;
  reason: string | null;
  createdAt: Date;
}

export interface CreatePaymentInput {
  /** Decimal string, e.g. "12.34"; at most the currency's minor digits. */
  amount: string;
  currency: string;
  userId?: string | null;
  description?: string | null;
  metadata?: Record<string, unknown> | null;
  idempotencyKey: string;
}

export interface CreatedPayment {
  payment: PaymentRecord;
  replayed: boolean;
}

/** A payment already made with an idempotency key, as a replay of its creation needs it (`findForReplay`). */
export interface PaymentForReplay {
  /** the payment as it is now */
  payment: PaymentRecord;
  /** the hash stored with the payment (`requestHash` of `createAudited`, else the canonical request's) */
  requestHash: string;
  /** `after` of the payment's creation audit entry (`action`): the view its creation answered with; null if none */
  createdView: unknown;
  /**
   * The Idempotency-Key record of the key under `scope`, if one exists: the API kept one per payment (request hash
   * and stored response) before the payment row itself became the record.
   */
  keyRecord: { requestHash: string; responseBody: unknown } | null;
}

/** `createAudited`: the payment and its audit entry inserted; or the key was taken and nothing was written. */
export type AuditedPaymentCreation = { created: PaymentRecord; audit: AuditRow } | { keyTaken: true };

const MAX_IDEMPOTENCY_KEY = 255;
const MAX_TEXT = 1000;
const REFUNDABLE: ReadonlyArray<PaymentStatus> = ['succeeded', 'partially_refunded'];

/**
 * Payments and their refunds. State machine: pending → succeeded | failed; succeeded → partially_refunded →
 * refunded (a refund of the whole remainder goes straight to refunded). Any other transition is an
 * `InvalidStateError`. A payment that does not exist, or belongs to another organization, is `null`.
 */
@Injectable()
export class PaymentRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /**
   * Creates a pending payment once per idempotency key. The same key with the same request (compared by the
   * SHA-256 of its canonical form: amount normalised, currency upper-cased, keys sorted) returns the stored
   * payment with `replayed: true`; with another request it is a `ConflictError`. Concurrent creates with one
   * key insert with ON CONFLICT DO NOTHING on (organization_id, idempotency_key), so exactly one wins and the
   * others read it (also inside a caller's transaction, which a raised unique violation would abort).
   *
   * `userId` of another organization (or of nobody) is a `NotFoundError('User')`, like any foreign id.
   */
  async create(organizationId: string, input: CreatePaymentInput, db: Db = this.prisma): Promise<CreatedPayment> {
    const request = validateCreate(input);
    const requestHash = sha256Hex(canonicalJson(request));
    const outcome = await this.insert(db, organizationId, input.idempotencyKey, request, { id: null, createdAt: null, requestHash }, null, false);
    if ('payment' in outcome) return { payment: outcome.payment, replayed: false };

    // The key is taken: replay its payment.
    const existing = await this.findByIdempotencyKey(db, organizationId, input.idempotencyKey);
    if (!existing) throw new ConflictError('idempotency key is being used by a request that did not finish');
    return replay(existing, requestHash);
  }

  /**
   * The API's payment creation: the payment and its audit entry in one statement, the payment row itself being
   * the Idempotency-Key record (its unique (organization_id, idempotency_key) and `requestHash`). `audit` builds
   * the entry from the payment as it will be inserted (id and time chosen here, so that the entry's MAC can cover
   * them before the statement runs); the entry is inserted only with the payment. A key already used — committed,
   * or committed while this statement waited on the key's unique index — is `{ keyTaken: true }` with nothing
   * written (`findForReplay` reads the payment in a new statement). `requestHash` is stored for replays to compare
   * (default: the canonical request's). `commit`: the statement goes out with COMMIT (PrismaService.queryRows) —
   * the request's transaction ends with it.
   *
   * `userId` of another organization (or of nobody) is a `NotFoundError('User')`, nothing written.
   */
  async createAudited(
    organizationId: string,
    input: CreatePaymentInput & { requestHash?: string },
    audit: (payment: PaymentRecord) => AuditRow,
    db: Db,
    options: { commit?: boolean } = {},
  ): Promise<AuditedPaymentCreation> {
    const request = validateCreate(input);
    const requestHash = input.requestHash ?? sha256Hex(canonicalJson(request));
    const id = randomUUID();
    const createdAt = new Date();
    const entry = audit({
      id,
      userId: request.userId,
      amount: request.amount,
      currency: request.currency,
      status: 'pending',
      refundedAmount: formatAmount('0', request.currency),
      description: request.description,
      failureReason: null,
      metadata: request.metadata as Prisma.JsonObject,
      createdAt,
      updatedAt: createdAt,
    });
    const outcome = await this.insert(db, organizationId, input.idempotencyKey, request, { id, createdAt, requestHash }, entry, options.commit === true);
    return 'payment' in outcome ? { created: outcome.payment, audit: entry } : { keyTaken: true };
  }

  /**
   * What a replay of the payment created with `idempotencyKey` needs (see PaymentForReplay), in one statement;
   * null if there is none. `action`: the creation's audit action; `scope`: the route of its Idempotency-Key record.
   */
  async findForReplay(
    organizationId: string,
    idempotencyKey: string,
    keys: { action: string; scope: string },
    db: Db,
    options: { commit?: boolean } = {},
  ): Promise<PaymentForReplay | null> {
    const [row] = await this.prisma.queryRows<
      PaymentWithHash & { createdView: unknown; keyHash: string | null; keyResponse: unknown }
    >(
      db,
      Prisma.sql`
        SELECT ${PAYMENT_COLUMNS}, p.request_hash AS "requestHash",
               (SELECT a.after FROM audit_logs a
                 WHERE a.organization_id = p.organization_id AND a.entity_type = 'payment' AND a.entity_id = p.id::text
                   AND a.action = ${keys.action}::text
                 ORDER BY a.at LIMIT 1) AS "createdView",
               k.request_hash AS "keyHash", k.response_body AS "keyResponse"
          FROM payments p
          LEFT JOIN idempotency_keys k ON k.organization_id = p.organization_id AND k.scope = ${keys.scope}::text AND k.key = p.idempotency_key
         WHERE p.organization_id = ${organizationId}::uuid AND p.idempotency_key = ${idempotencyKey}::text`,
      { prepare: true, commit: options.commit },
    );
    if (!row) return null;
    const { requestHash, createdView, keyHash, keyResponse, ...payment } = row;
    return {
      payment: toPayment(payment),
      requestHash,
      createdView: createdView ?? null,
      keyRecord: keyHash === null ? null : { requestHash: keyHash, responseBody: keyResponse ?? null },
    };
  }

  /** createPaymentSql's statement: the payment, or `keyTaken` (NotFoundError for a user not in the organization). */
  private async insert(
    db: Db,
    organizationId: string,
    idempotencyKey: string,
    request: CanonicalCreateRequest,
    row: { id: string | null; createdAt: Date | null; requestHash: string },
    audit: AuditRow | null,
    commit: boolean,
  ): Promise<{ payment: PaymentRecord } | { keyTaken: true }> {
    const [result] = await this.prisma.queryRows<PaymentTextRow & { outcome: 'created' | 'no_user' | 'key_used' }>(
      db,
      createPaymentSql({ organizationId, ...request, metadata: JSON.stringify(request.metadata), idempotencyKey, ...row }, audit),
      { prepare: true, commit },
    );
    const { outcome, ...payment } = result;
    if (outcome === 'created') return { payment: toPayment(payment) };
    if (outcome === 'no_user') throw new NotFoundError('User', request.userId!);
    return { keyTaken: true };
  }

  async findById(organizationId: string, id: string, db: Db = this.prisma): Promise<PaymentRecord | null> {
    if (!isUuid(id)) return null;
    const row = await db.payment.findFirst({ where: { id, organizationId }, select: PAYMENT_SELECT });
    return row && toPayment(row);
  }

  /** pending → succeeded. */
  succeed(organizationId: string, id: string, db: Db = this.prisma): Promise<PaymentRecord | null> {
    return this.transition(db, organizationId, id, 'pending', { status: 'succeeded' });
  }

  /** pending → failed, keeping the reason. */
  async fail(organizationId: string, id: string, reason?: string | null, db: Db = this.prisma): Promise<PaymentRecord | null> {
    assertReason(reason);
    return this.transition(db, organizationId, id, 'pending', { status: 'failed', failureReason: reason ?? null });
  }

  /**
   * Refunds part or all of what is left of a succeeded payment. The payment row is locked (SELECT … FOR
   * UPDATE) for the check of the remainder, the refund row and the new refunded amount/status, all in one
   * transaction, so concurrent refunds queue and never exceed the amount; the CHECK constraint
   * payments_refunded_within_amount is the second wall. More than the remainder is an `InvalidStateError`.
   */
  async refund(
    organizationId: string,
    id: string,
    amount: string,
    reason?: string | null,
    db: Db = this.prisma,
  ): Promise<{ payment: PaymentRecord; refund: RefundRecord } | null> {
    if (!isUuid(id)) return null;
    assertReason(reason);
    return this.prisma.inTransaction(db, async (tx) => {
      const [locked] = await tx.$queryRaw<
        Array<{ amount: string; refunded_amount: string; currency: string; status: PaymentStatus }>
      >`
        SELECT amount::text AS amount, refunded_amount::text AS refunded_amount, currency, status::text AS status
          FROM payments
         WHERE id = ${id}::uuid AND organization_id = ${organizationId}::uuid
           FOR UPDATE`;
      if (!locked) return null;
      if (!REFUNDABLE.includes(locked.status)) {
        throw new InvalidStateError(`a ${locked.status} payment cannot be refunded`);
      }
      const refundAmount = parseAmount(amount, locked.currency);
      const total = new Prisma.Decimal(locked.amount);
      const refunded = new Prisma.Decimal(locked.refunded_amount).plus(refundAmount);
      if (refunded.gt(total)) {
        const remaining = formatAmount(total.minus(locked.refunded_amount), locked.currency);
        throw new InvalidStateError(`refund exceeds the refundable remainder of ${remaining} ${locked.currency}`, [
          { path: 'amount', message: `must be at most ${remaining}` },
        ]);
      }
      try {
        const refund = await tx.refund.create({
          data: { organizationId, paymentId: id, amount: refundAmount, reason: reason ?? null },
          select: REFUND_SELECT,
        });
        const payment = await tx.payment.update({
          where: { id },
          data: { refundedAmount: refunded, status: refunded.eq(total) ? 'refunded' : 'partially_refunded' },
          select: PAYMENT_SELECT,
        });
        return { payment: toPayment(payment), refund: toRefund(refund, locked.currency) };
      } catch (error) {
        if (sqlState(error) === '23514') throw new InvalidStateError('refund exceeds the payment amount');
        throw error;
      }
    });
  }

  /**
   * Newest first, keyset-paginated on (created_at, id): the cursor names the last row returned, so rows
   * inserted meanwhile (always newer) neither shift nor repeat later pages.
   */
  async listPage(
    organizationId: string,
    query: { status?: PaymentStatus; limit?: number; cursor?: string | null } = {},
    db: Db = this.prisma,
  ): Promise<Page<PaymentRecord>> {
    const limit = pageSize(query.limit);
    const rows = await db.payment.findMany({
      where: {
        organizationId,
        ...(query.status ? { status: query.status } : {}),
        ...createdAtBefore(query.cursor),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      select: PAYMENT_SELECT,
    });
    const page = toPage(rows, limit, (r) => r.createdAt.toISOString());
    return { data: page.data.map(toPayment), nextCursor: page.nextCursor };
  }

  /**
   * Net captured volume per currency: Σ (amount − refunded_amount) over payments that succeeded and are not
   * wholly refunded (status succeeded or partially_refunded). Pending and failed payments never moved money;
   * refunded ones net to zero and are left out. `{ USD: "12.30", JPY: "500" }`.
   */
  async volumeByCurrency(organizationId: string, db: Db = this.prisma): Promise<Record<string, string>> {
    const rows = await db.$queryRaw<Array<{ currency: string; volume: string }>>`
      SELECT currency, sum(amount - refunded_amount)::text AS volume
        FROM payments
       WHERE organization_id = ${organizationId}::uuid AND status IN ('succeeded', 'partially_refunded')
       GROUP BY currency
       ORDER BY currency`;
    return Object.fromEntries(rows.map((r) => [r.currency, formatAmount(r.volume, r.currency)]));
  }

  private async findByIdempotencyKey(db: Db, organizationId: string, idempotencyKey: string): Promise<PaymentWithHash | null> {
    const [row] = await this.prisma.queryRows<PaymentWithHash>(
      db,
      Prisma.sql`SELECT ${PAYMENT_COLUMNS}, p.request_hash AS "requestHash" FROM payments p
                  WHERE p.organization_id = ${organizationId}::uuid AND p.idempotency_key = ${idempotencyKey}::text`,
      { prepare: true },
    );
    return row ?? null;
  }

  /** A guarded single-row update: only from `from`; else null (missing) or InvalidStateError (wrong state). */
  private async transition(
    db: Db,
    organizationId: string,
    id: string,
    from: PaymentStatus,
    data: Prisma.PaymentUpdateManyMutationInput & { status: PaymentStatus },
  ): Promise<PaymentRecord | null> {
    if (!isUuid(id)) return null;
    const { count } = await db.payment.updateMany({ where: { id, organizationId, status: from }, data });
    const row = await db.payment.findFirst({ where: { id, organizationId }, select: PAYMENT_SELECT });
    if (!row) return null;
    if (count === 0) throw new InvalidStateError(`a ${row.status} payment cannot become ${data.status}`);
    return toPayment(row);
  }
}

interface CanonicalCreateRequest {
  amount: string;
  currency: string;
  userId: string | null;
  description: string | null;
  metadata: Record<string, unknown>;
}

/** A failure or refund reason: at most MAX_TEXT characters, and text PostgreSQL can store (no NUL). */
function assertReason(reason: unknown): void {
  if (reason != null && (typeof reason !== 'string' || reason.length > MAX_TEXT)) {
    throw invalid('reason', `must be a string of at most ${MAX_TEXT} characters`);
  }
  const problems: Problem[] = [];
  checkText(reason, 'reason', problems, MAX_TEXT);
  throwIfProblems(problems, 'invalid reason');
}

/**
 * The hash `create` stores for a request (SHA-256 of its canonical form), for a caller that replays a payment made
 * without its own hash (`createAudited` without `requestHash`: imports, other callers of the repository).
 * InvalidInputError for an invalid request.
 */
export function paymentRequestHash(input: CreatePaymentInput): string {
  return sha256Hex(canonicalJson(validateCreate(input)));
}

function validateCreate(input: CreatePaymentInput): CanonicalCreateRequest {
  const problems: Problem[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (error) {
      if (error instanceof InvalidInputError) problems.push(...error.details);
      else throw error;
      return undefined;
    }
  };
  const currency = attempt(() => parseCurrency(input.currency));
  const amount = currency ? attempt(() => parseAmount(input.amount, currency)) : undefined;
  const key = input.idempotencyKey;
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY) {
    problems.push({ path: 'idempotencyKey', message: `must be 1 to ${MAX_IDEMPOTENCY_KEY} characters` });
  }
  if (input.userId != null && (typeof input.userId !== 'string' || !isUuid(input.userId))) {
    problems.push({ path: 'userId', message: 'must be a UUID' });
  }
  if (input.description != null && (typeof input.description !== 'string' || input.description.length > MAX_TEXT)) {
    problems.push({ path: 'description', message: `must be a string of at most ${MAX_TEXT} characters` });
  }
  const metadata = input.metadata ?? {};
  if (typeof metadata !== 'object' || Array.isArray(metadata)) {
    problems.push({ path: 'metadata', message: 'must be an object' });
  }
  // Text and JSON PostgreSQL would refuse (NUL characters, also in metadata keys) are input errors, never SQL errors.
  if (typeof key === 'string' && key.length <= MAX_IDEMPOTENCY_KEY) checkText(key, 'idempotencyKey', problems, MAX_IDEMPOTENCY_KEY);
  if (typeof input.description === 'string' && input.description.length <= MAX_TEXT) {
    checkText(input.description, 'description', problems, MAX_TEXT);
  }
  checkJson(metadata, 'metadata', problems);
  throwIfProblems(problems, 'invalid payment');
  if (!currency || !amount) throw new InvalidInputError('invalid payment', problems);
  return {
    // Normalised, so "12.3" and "12.30" are the same request.
    amount: formatAmount(amount, currency),
    currency,
    userId: input.userId ? input.userId.toLowerCase() : null,
    description: input.description ?? null,
    // As JSONB will hold it.
    metadata: JSON.parse(JSON.stringify(metadata)) as Record<string, unknown>,
  };
}

function replay(row: PaymentWithHash, requestHash: string): { payment: PaymentRecord; replayed: true } {
  if (row.requestHash !== requestHash) {
    throw new ConflictError('idempotency key was already used with a different request', [
      { path: 'idempotencyKey', message: 'already used with a different request' },
    ]);
  }
  const { requestHash: _, ...payment } = row;
  return { payment: toPayment(payment), replayed: true };
}

function toPayment(row: PaymentRow | PaymentTextRow): PaymentRecord {
  return {
    ...row,
    amount: formatAmount(row.amount, row.currency),
    refundedAmount: formatAmount(row.refundedAmount, row.currency),
  };
}

function toRefund(row: RefundRow, currency: string): RefundRecord {
  return { ...row, amount: formatAmount(row.amount, currency), currency };
}

