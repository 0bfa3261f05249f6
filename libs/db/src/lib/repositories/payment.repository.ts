import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import type { PaymentStatus } from '../../generated/prisma/client';
import { ConflictError, InvalidInputError, InvalidStateError, NotFoundError, sqlState } from '../errors';
import { formatAmount, parseAmount, parseCurrency } from '../money';
import { Db, PrismaService } from '../prisma.service';
import { canonicalJson, sha256Hex } from '../canonical-json';
import { createdAtBefore, isUuid, pageSize, toPage, type Page } from '../pagination';
import { checkJson, checkText, invalid, throwIfProblems, type Problem } from '../validation';
import type { IdempotencyClaim } from './idempotency-key.repository';

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
  organizationId: string;
  userId: string | null;
  amount: string;
  currency: string;
  description: string | null;
  metadata: string;
  idempotencyKey: string;
  requestHash: string;
  claim: IdempotencyClaim | null;
}

/**
 * Payment creation in one statement, sent with BEGIN on the API's raw transaction (measured: the Prisma version
 * took five round trips — key claim, key lookup, user check, insert, key completion — and ~2 ms of CPU a
 * request; tools/bench api-data). The Idempotency-Key claim (none without `claim`) and the payment are inserted
 * together, the payment only if the claim was made and the user (if any) belongs to the organization: row-level
 * security hides another organization's user from the API, but a foreign key check does not, so the
 * organization is checked here. One row always comes back: the payment, or why there is none. A key row
 * inserted concurrently is waited for by ON CONFLICT but is invisible to this statement's snapshot, so reading
 * the winner takes the caller's next statement. Every placeholder is cast, so it is prepared once per connection.
 */
function createPaymentSql(a: CreateArgs): Prisma.Sql {
  return Prisma.sql`
  WITH args AS (
    SELECT ${a.organizationId}::uuid AS organization_id, ${a.userId}::uuid AS user_id, ${a.amount}::numeric AS amount,
           ${a.currency}::text AS currency, ${a.description}::text AS description, ${a.metadata}::jsonb AS metadata,
           ${a.idempotencyKey}::text AS idempotency_key, ${a.requestHash}::text AS request_hash,
           ${a.claim?.scope ?? null}::text AS claim_scope, ${a.claim?.key ?? null}::text AS claim_key,
           ${a.claim?.requestHash ?? null}::text AS claim_hash
  ), claim AS (
    INSERT INTO idempotency_keys (organization_id, scope, key, request_hash)
    SELECT organization_id, claim_scope, claim_key, claim_hash FROM args WHERE claim_scope IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
  ), user_ok AS (
    SELECT a.user_id IS NULL OR EXISTS (SELECT 1 FROM users u WHERE u.id = a.user_id AND u.organization_id = a.organization_id) AS ok
      FROM args a
  ), inserted AS (
    INSERT INTO payments AS p (id, organization_id, user_id, amount, currency, description, metadata, idempotency_key,
                               request_hash, created_at, updated_at)
    SELECT gen_random_uuid(), a.organization_id, a.user_id, a.amount, a.currency, a.description, a.metadata,
           a.idempotency_key, a.request_hash, now(), now()
      FROM args a, user_ok
     WHERE user_ok.ok AND (a.claim_scope IS NULL OR EXISTS (SELECT 1 FROM claim))
    ON CONFLICT (organization_id, idempotency_key) DO NOTHING
    RETURNING ${PAYMENT_COLUMNS}
  )
  SELECT CASE WHEN p.id IS NOT NULL THEN 'created'
              WHEN a.claim_scope IS NOT NULL AND NOT EXISTS (SELECT 1 FROM claim) THEN 'claim_taken'
              WHEN NOT user_ok.ok THEN 'no_user'
              ELSE 'key_used' END AS outcome, p.*
    FROM args a CROSS JOIN user_ok LEFT JOIN inserted p ON true`;
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
/** `claimTaken`: the request's Idempotency-Key record was already claimed; nothing was written. */
export type ClaimedPayment = CreatedPayment | { claimTaken: true };

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
   * With `claim` (the API's Idempotency-Key record, IdempotencyKeyRepository), the key row is inserted by
   * the same statement, and the payment only when that claim succeeds: a request whose key is already claimed
   * (committed, or committed while it waited on the key's unique index) gets `{ claimTaken: true }` and writes
   * nothing, and the caller replays the stored response.
   *
   * `userId` of another organization (or of nobody) is a `NotFoundError('User')`, like any foreign id.
   */
  async create(organizationId: string, input: CreatePaymentInput & { claim: IdempotencyClaim }, db?: Db): Promise<ClaimedPayment>;
  async create(organizationId: string, input: CreatePaymentInput, db?: Db): Promise<CreatedPayment>;
  async create(organizationId: string, input: CreatePaymentInput & { claim?: IdempotencyClaim }, db: Db = this.prisma): Promise<ClaimedPayment> {
    const request = validateCreate(input);
    const requestHash = sha256Hex(canonicalJson(request));
    const claim = input.claim ?? null;
    const [row] = await this.prisma.queryRows<PaymentTextRow & { outcome: 'created' | 'claim_taken' | 'no_user' | 'key_used' }>(
      db,
      createPaymentSql({ organizationId, ...request, metadata: JSON.stringify(request.metadata), idempotencyKey: input.idempotencyKey, requestHash, claim }),
      { prepare: true },
    );
    const { outcome, ...payment } = row;
    if (outcome === 'created') return { payment: toPayment(payment), replayed: false };
    if (outcome === 'claim_taken') return { claimTaken: true };
    if (outcome === 'no_user') throw new NotFoundError('User', request.userId!);

    // The payment's own key is taken: replay it (the API's key record may have been purged since).
    const existing = await this.findByIdempotencyKey(db, organizationId, input.idempotencyKey);
    if (!existing) throw new ConflictError('idempotency key is being used by a request that did not finish');
    return replay(existing, requestHash);
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

