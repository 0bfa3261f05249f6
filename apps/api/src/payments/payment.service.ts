import { Injectable } from '@nestjs/common';
import { ConflictError, NotFoundError, PaymentRepository, formatAmount, paymentRequestHash, type IdempotencyClaim, type Page, type PaymentRecord, type PaymentStatus } from '@agenthub/db';
import { AuditService } from '../common/audit/audit.service';
import { IdempotentReplay, idempotencyMismatch } from '../common/idempotency/idempotency.interceptor';
import { ProblemException } from '../common/problem/problem.exception';
import { RequestContext } from '../common/tenancy/request-context';
import { paymentSchema, toPaymentView, toRefundedPaymentView, type CreatePaymentBody, type PaymentView, type RefundedPaymentView } from './payment.dto';

const CREATE_ACTION = 'payment.create';

/**
 * Payments: pending → succeeded | failed; succeeded → partially_refunded → refunded (API.md). The state machine,
 * exact decimal arithmetic and the refund lock live in PaymentRepository; this layer requires the
 * Idempotency-Key, and audits every change in the request's transaction.
 */
@Injectable()
export class PaymentService {
  constructor(
    private readonly payments: PaymentRepository,
    private readonly audit: AuditService,
    private readonly context: RequestContext,
  ) {}

  /**
   * One statement, sent with BEGIN and COMMIT (one round trip, one transaction): the payment and its audit entry
   * (built here beforehand, MAC included, and inserted only with the payment). The payment row is the
   * Idempotency-Key record: unique per (organization, key), with the request's hash. A concurrent request with the
   * key waits on that unique index until the first commits (then replays it) or rolls back (then creates it).
   * A replay answers with the first response — the creation's audit entry holds it (`after`) — marked as replayed;
   * another request with the key is a 409 (idempotencyMismatch). Payments made before the payment row was the record
   * also have an idempotency_keys row: its hash and stored response count for them.
   */
  async create(body: CreatePaymentBody, claim: IdempotencyClaim | undefined): Promise<PaymentView> {
    if (claim === undefined) {
      throw new ProblemException(400, 'payments need an Idempotency-Key header (any unique string per payment)', {
        errors: [{ path: 'headers.idempotency-key', message: 'required' }],
      });
    }
    const created = await this.payments.createAudited(
      this.context.organizationId,
      { ...body, idempotencyKey: claim.key, requestHash: claim.requestHash },
      (payment) => this.audit.entry(CREATE_ACTION, 'payment', payment.id, { after: toPaymentView(payment) }),
      this.context.db,
      { commit: true },
    );
    if ('keyTaken' in created) return this.replay(claim, body);
    this.audit.witness(created.audit);
    return toPaymentView(created.created);
  }

  /**
   * The key's payment exists (committed): its first response for the same request, else 409. The same request: the
   * hash stored with the payment is this request's (made through this route), or its key record's is (made through
   * this route before the payment row was the record), or it is the canonical request's (made by another caller of
   * PaymentRepository.create, which compares those).
   */
  private async replay(claim: IdempotencyClaim, body: CreatePaymentBody): Promise<never> {
    const found = await this.payments.findForReplay(this.context.organizationId, claim.key, { action: CREATE_ACTION, scope: claim.scope }, this.context.db, {
      commit: true,
    });
    if (!found) throw new ConflictError('idempotency key is being used by a request that did not finish');
    const keyRecord = found.keyRecord?.requestHash === claim.requestHash ? found.keyRecord : null;
    const same =
      found.requestHash === claim.requestHash || keyRecord !== null || (found.keyRecord === null && found.requestHash === paymentRequestHash({ ...body, idempotencyKey: claim.key }));
    if (!same) throw idempotencyMismatch();
    throw new IdempotentReplay(inViewOrder(keyRecord?.responseBody ?? found.createdView ?? toPaymentView(asCreated(found.payment))));
  }

  async get(id: string): Promise<PaymentView> {
    return toPaymentView(await this.current(id));
  }

  async list(query: { status?: PaymentStatus; limit?: number; cursor?: string }): Promise<Page<PaymentView>> {
    const page = await this.payments.listPage(this.context.organizationId, query, this.context.db);
    return { data: page.data.map(toPaymentView), nextCursor: page.nextCursor };
  }

  async succeed(id: string): Promise<PaymentView> {
    const before = await this.current(id);
    const after = await this.payments.succeed(this.context.organizationId, id, this.context.db);
    return this.recorded('payment.succeed', before, after);
  }

  async fail(id: string, reason?: string | null): Promise<PaymentView> {
    const before = await this.current(id);
    const after = await this.payments.fail(this.context.organizationId, id, reason, this.context.db);
    return this.recorded('payment.fail', before, after);
  }

  async refund(id: string, amount: string, reason?: string | null): Promise<RefundedPaymentView> {
    const before = await this.current(id);
    const result = await this.payments.refund(this.context.organizationId, id, amount, reason, this.context.db);
    if (!result) throw new NotFoundError('payment', id);
    const view = toRefundedPaymentView(result.payment, result.refund);
    await this.audit.record('payment.refund', 'payment', id, { before: toPaymentView(before), after: view });
    return view;
  }

  private async current(id: string): Promise<PaymentRecord> {
    const row = await this.payments.findById(this.context.organizationId, id, this.context.db);
    if (!row) throw new NotFoundError('payment', id);
    return row;
  }

  private async recorded(action: string, before: PaymentRecord, after: PaymentRecord | null): Promise<PaymentView> {
    if (!after) throw new NotFoundError('payment', before.id);
    const view = toPaymentView(after);
    await this.audit.record(action, 'payment', after.id, { before: toPaymentView(before), after: view });
    return view;
  }
}

/**
 * The payment as its creation left it (pending, nothing refunded), for a replay whose creation has no audit entry
 * to read the first response from: made by another caller of PaymentRepository, or its entry was deleted (the
 * audit trail then fails verification).
 */
function asCreated(payment: PaymentRecord): PaymentRecord {
  return { ...payment, status: 'pending', refundedAmount: formatAmount('0', payment.currency), failureReason: null, updatedAt: payment.createdAt };
}

const VIEW_KEYS = Object.keys(paymentSchema.shape);
/**
 * A stored view (JSONB: keys reordered, shortest first) with its top-level keys in the order the first response had
 * them, so that a replay is the same text; the metadata's keys came from JSONB in the first response too.
 */
function inViewOrder(view: unknown): unknown {
  if (view === null || typeof view !== 'object' || Array.isArray(view)) return view;
  const stored = view as Record<string, unknown>;
  const ordered: Record<string, unknown> = {};
  for (const key of VIEW_KEYS) if (key in stored) ordered[key] = stored[key];
  for (const key of Object.keys(stored)) if (!(key in ordered)) ordered[key] = stored[key];
  return ordered;
}
