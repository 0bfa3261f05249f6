import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import type { PaymentRecord, RefundRecord } from '@agenthub/db';
import { isoDateTime, jsonObject, pageQuery, pageSchema, uuid } from '../common/http/schemas';

export const PAYMENT_STATUSES = ['pending', 'succeeded', 'failed', 'partially_refunded', 'refunded'] as const;

/** A JSON number has already lost exactness (0.1 + 0.2): money is a string, checked exactly by the data layer. */
const money = z
  .string({ message: 'must be a decimal string such as "12.34"' })
  .max(40)
  .describe('decimal string, at most the currency\'s minor digits ("12.34"; JPY "500")');

export const createPaymentSchema = z.strictObject({
  amount: money,
  currency: z.string().max(10).describe('ISO 4217 code, e.g. USD (case-insensitive)'),
  userId: uuid.nullable().optional(),
  description: z.string().max(1000).nullable().optional(),
  metadata: jsonObject.optional(),
});
export type CreatePaymentBody = z.infer<typeof createPaymentSchema>;
export class CreatePaymentDto extends createZodDto(createPaymentSchema) {}

export class FailPaymentDto extends createZodDto(z.strictObject({ reason: z.string().max(1000).nullable().optional() })) {}
export class RefundPaymentDto extends createZodDto(z.strictObject({ amount: money, reason: z.string().max(1000).nullable().optional() })) {}

export class ListPaymentsQuery extends createZodDto(z.object({ ...pageQuery, status: z.enum(PAYMENT_STATUSES).optional() })) {}

export const paymentSchema = z.object({
  id: uuid,
  amount: z.string(),
  currency: z.string(),
  status: z.enum(PAYMENT_STATUSES),
  refundedAmount: z.string(),
  userId: uuid.nullable(),
  description: z.string().nullable(),
  failureReason: z.string().nullable(),
  metadata: jsonObject,
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
});
export type PaymentView = z.input<typeof paymentSchema>;
export class PaymentDto extends createZodDto(paymentSchema) {}
export class PaymentPageDto extends createZodDto(pageSchema(paymentSchema)) {}

const refundSchema = z.object({ id: uuid, amount: z.string(), currency: z.string(), reason: z.string().nullable(), createdAt: isoDateTime });
export const refundedPaymentSchema = paymentSchema.extend({ refund: refundSchema.describe('the refund this request made') });
export type RefundedPaymentView = z.input<typeof refundedPaymentSchema>;
export class RefundedPaymentDto extends createZodDto(refundedPaymentSchema) {}

export function toPaymentView(row: PaymentRecord): PaymentView {
  return {
    id: row.id,
    amount: row.amount,
    currency: row.currency,
    status: row.status,
    refundedAmount: row.refundedAmount,
    userId: row.userId,
    description: row.description,
    failureReason: row.failureReason,
    metadata: (row.metadata ?? {}) as Record<string, unknown>,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function toRefundedPaymentView(payment: PaymentRecord, refund: RefundRecord): RefundedPaymentView {
  return {
    ...toPaymentView(payment),
    refund: { id: refund.id, amount: refund.amount, currency: refund.currency, reason: refund.reason, createdAt: refund.createdAt.toISOString() },
  };
}
