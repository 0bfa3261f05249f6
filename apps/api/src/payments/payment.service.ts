import { Injectable } from '@nestjs/common';
import { NotFoundError, PaymentRepository, type IdempotencyClaim, type Page, type PaymentRecord, type PaymentStatus } from '@agenthub/db';
import { AuditService } from '../common/audit/audit.service';
import { IdempotencyKeyTaken } from '../common/idempotency/idempotency.interceptor';
import { ProblemException } from '../common/problem/problem.exception';
import { RequestContext } from '../common/tenancy/request-context';
import { toPaymentView, toRefundedPaymentView, type CreatePaymentBody, type PaymentView, type RefundedPaymentView } from './payment.dto';

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
   * Two walls keep one key to one payment: the Idempotency-Key record, claimed by the payment's own statement
   * (a concurrent request with the key waits on its unique index until the first commits, then replays the stored
   * response through the interceptor), and the payment's own unique key, which still replays after the record has
   * been purged. Runs on a raw transaction: one statement, then the audit entry and the stored response go out
   * with the COMMIT.
   */
  async create(body: CreatePaymentBody, claim: IdempotencyClaim | undefined): Promise<PaymentView> {
    if (claim === undefined) {
      throw new ProblemException(400, 'payments need an Idempotency-Key header (any unique string per payment)', {
        errors: [{ path: 'headers.idempotency-key', message: 'required' }],
      });
    }
    const created = await this.payments.create(this.context.organizationId, { ...body, idempotencyKey: claim.key, claim }, this.context.db);
    if ('claimTaken' in created) throw new IdempotencyKeyTaken();
    const view = toPaymentView(created.payment);
    if (!created.replayed) await this.audit.record('payment.create', 'payment', created.payment.id, { after: view });
    return view;
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
