import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import type { PaymentStatus } from '../../generated/prisma/client';
import { ConflictError, InvalidInputError, InvalidStateError, NotFoundError, sqlState } from '../errors';
import { formatAmount, parseAmount, parseCurrency } from '../money';
import { Db, PrismaService } from '../prisma.service';
import { canonicalJson, sha256Hex } from '../canonical-json';
import { createdAtBefore, isUuid, pageSize, toPage, type Page } from '../pagination';
import { checkJson, checkText, invalid, throwIfProblems, type Problem } from '../validation';

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

const PAYMENT_WITH_HASH_SELECT = { ...PAYMENT_SELECT, requestHash: true } satisfies Prisma.PaymentSelect;

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
  async create(
    organizationId: string,
    input: CreatePaymentInput,
    db: Db = this.prisma,
  ): Promise<{ payment: PaymentRecord; replayed: boolean }> {
    const request = validateCreate(input);
    const requestHash = sha256Hex(canonicalJson(request));

    const existing = await this.findByIdempotencyKey(db, organizationId, input.idempotencyKey);
    if (existing) return replay(existing, requestHash);

    if (request.userId) {
      const user = await db.user.findFirst({ where: { id: request.userId, organizationId }, select: { id: true } });
      if (!user) throw new NotFoundError('User', request.userId);
    }

    const inserted = await db.payment.createManyAndReturn({
      data: [
        {
          organizationId,
          userId: request.userId,
          amount: request.amount,
          currency: request.currency,
          description: request.description,
          metadata: request.metadata as Prisma.InputJsonObject,
          idempotencyKey: input.idempotencyKey,
          requestHash,
        },
      ],
      skipDuplicates: true,
      select: PAYMENT_SELECT,
    });
    if (inserted.length === 1) return { payment: toPayment(inserted[0]), replayed: false };

    // Another request with this key committed between our read and our insert.
    const winner = await this.findByIdempotencyKey(db, organizationId, input.idempotencyKey);
    if (!winner) throw new ConflictError('idempotency key is being used by a request that did not finish');
    return replay(winner, requestHash);
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

  private async findByIdempotencyKey(db: Db, organizationId: string, idempotencyKey: string) {
    return db.payment.findUnique({
      where: { organizationId_idempotencyKey: { organizationId, idempotencyKey } },
      select: PAYMENT_WITH_HASH_SELECT,
    });
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

function replay(
  row: Prisma.PaymentGetPayload<{ select: typeof PAYMENT_WITH_HASH_SELECT }>,
  requestHash: string,
): { payment: PaymentRecord; replayed: true } {
  if (row.requestHash !== requestHash) {
    throw new ConflictError('idempotency key was already used with a different request', [
      { path: 'idempotencyKey', message: 'already used with a different request' },
    ]);
  }
  const { requestHash: _, ...payment } = row;
  return { payment: toPayment(payment), replayed: true };
}

function toPayment(row: PaymentRow): PaymentRecord {
  return {
    ...row,
    amount: formatAmount(row.amount, row.currency),
    refundedAmount: formatAmount(row.refundedAmount, row.currency),
  };
}

function toRefund(row: RefundRow, currency: string): RefundRecord {
  return { ...row, amount: formatAmount(row.amount, currency), currency };
}

