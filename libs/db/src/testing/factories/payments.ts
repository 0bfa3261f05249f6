import { randomUUID } from 'node:crypto';
import type { Db } from '../../lib/prisma.service';

type PaymentStatus = 'pending' | 'succeeded' | 'failed' | 'partially_refunded' | 'refunded';

/**
 * A payment row written straight through the client (not PaymentRepository), in whatever state the test
 * starts from. Amounts are decimal strings.
 */
export async function makePayment(
  db: Db,
  organizationId: string,
  overrides: {
    amount?: string;
    currency?: string;
    status?: PaymentStatus;
    refundedAmount?: string;
    userId?: string;
    createdAt?: Date;
  } = {},
) {
  return db.payment.create({
    data: {
      organizationId,
      userId: overrides.userId,
      amount: overrides.amount ?? '100.00',
      currency: overrides.currency ?? 'USD',
      status: overrides.status ?? 'pending',
      refundedAmount: overrides.refundedAmount ?? '0',
      idempotencyKey: `factory-${randomUUID()}`,
      requestHash: 'factory',
      ...(overrides.createdAt ? { createdAt: overrides.createdAt } : {}),
    },
  });
}

/** A conversation created at a given time, for usage figures (entities.ts's makeConversation uses now). */
export async function makeConversationAt(db: Db, organizationId: string, agentId: string, createdAt: Date) {
  return db.conversation.create({
    data: { organizationId, agentId, title: `Conversation ${randomUUID().slice(0, 8)}`, createdAt, lastActivityAt: createdAt },
  });
}

/** A message created at a given time with a given token count, for usage figures. */
export async function makeMessageAt(
  db: Db,
  organizationId: string,
  conversationId: string,
  seq: number,
  createdAt: Date,
  tokensUsed: number | null = null,
) {
  return db.message.create({
    data: { organizationId, conversationId, seq, role: 'user', content: `message ${seq}`, tokensUsed, createdAt },
  });
}
