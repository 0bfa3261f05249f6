import { randomUUID } from 'node:crypto';
import { TEST_AUDIT_MAC_KEY, createTestPrisma, describeOnPostgres, makeOrganization, makeUser } from '../../testing';
import { makePayment } from '../../testing/factories/payments';
import { ConflictError, InvalidInputError, InvalidStateError, NotFoundError, sqlState } from '../errors';
import type { PrismaService } from '../prisma.service';
import { AuditLogRepository } from './audit-log.repository';
import { PaymentRepository, type CreatePaymentInput, type PaymentRecord } from './payment.repository';

describe(PaymentRepository.name, () => {
  let prisma: PrismaService;
  let sut: PaymentRepository;
  let audit: AuditLogRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new PaymentRepository(prisma);
    audit = new AuditLogRepository(prisma, TEST_AUDIT_MAC_KEY);
  });
  afterAll(() => prisma.$disconnect());

  const key = () => `key-${randomUUID()}`;
  const create = (organizationId: string, input: Partial<Parameters<PaymentRepository['create']>[1]> = {}) =>
    sut.create(organizationId, { amount: '100.00', currency: 'USD', idempotencyKey: key(), ...input });

  describe('create', () => {
    it('creates a pending payment with money as strings', async () => {
      const org = await makeOrganization(prisma);
      const user = await makeUser(prisma, org.id);
      const { payment, replayed } = await create(org.id, {
        amount: '12.3',
        currency: 'usd',
        userId: user.id,
        description: 'credits',
        metadata: { plan: 'pro' },
      });
      expect(replayed).toBe(false);
      expect(payment).toMatchObject({
        amount: '12.30',
        currency: 'USD',
        status: 'pending',
        refundedAmount: '0.00',
        userId: user.id,
        description: 'credits',
        metadata: { plan: 'pro' },
        failureReason: null,
      });
      expect(await sut.findById(org.id, payment.id)).toEqual(payment);
    });

    it('keeps JPY without minor digits', async () => {
      const org = await makeOrganization(prisma);
      const { payment } = await create(org.id, { amount: '500', currency: 'JPY' });
      expect(payment).toMatchObject({ amount: '500', refundedAmount: '0' });
      await expect(create(org.id, { amount: '500.5', currency: 'JPY' })).rejects.toThrow(InvalidInputError);
    });

    it.each([
      [{ currency: 'XYZ' }, 'currency'],
      [{ amount: '1e3' }, 'amount'],
      [{ amount: '-1' }, 'amount'],
      [{ amount: '0.001' }, 'amount'],
      [{ amount: 10 as unknown as string }, 'amount'],
      [{ idempotencyKey: '' }, 'idempotencyKey'],
      [{ userId: 'nope' }, 'userId'],
      [{ description: 'credits\u0000' }, 'description'],
      [{ idempotencyKey: 'key\u0000' }, 'idempotencyKey'],
      [{ metadata: { plan: 'p\u0000ro' } }, 'metadata.plan'],
      [{ metadata: { ['pl\u0000an']: 'pro' } }, 'metadata'],
    ])('rejects %p', async (input, path) => {
      const org = await makeOrganization(prisma);
      await expect(create(org.id, input)).rejects.toMatchObject({
        constructor: InvalidInputError,
        details: expect.arrayContaining([expect.objectContaining({ path })]),
      });
      expect(await prisma.payment.count({ where: { organizationId: org.id } })).toBe(0);
    });

    it('rejects a NUL character in the description as InvalidInputError, never an SQL error, and writes nothing', async () => {
      const org = await makeOrganization(prisma);
      const error = await create(org.id, { description: 'monthly\u0000credits' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).details).toEqual([expect.objectContaining({ path: 'description' })]);
      expect(sqlState(error)).toBeUndefined();
      expect(await prisma.payment.count({ where: { organizationId: org.id } })).toBe(0);
    });

    it("treats another organization's user as missing", async () => {
      const [org, other] = [await makeOrganization(prisma), await makeOrganization(prisma)];
      const stranger = await makeUser(prisma, other.id);
      await expect(create(org.id, { userId: stranger.id })).rejects.toThrow(NotFoundError);
      await expect(create(org.id, { userId: randomUUID() })).rejects.toThrow(NotFoundError);
    });

    it('replays the same request with the same key and refuses another body', async () => {
      const org = await makeOrganization(prisma);
      const idempotencyKey = key();
      const first = await create(org.id, { idempotencyKey, amount: '10.5', metadata: { a: 1, b: { c: 2, d: 3 } } });
      // Same request written differently: amount digits, currency case, key order.
      const again = await create(org.id, {
        idempotencyKey,
        amount: '10.50',
        currency: 'usd',
        metadata: { b: { d: 3, c: 2 }, a: 1 },
      });
      expect(again).toEqual({ payment: first.payment, replayed: true });

      await expect(create(org.id, { idempotencyKey, amount: '10.51' })).rejects.toThrow(ConflictError);
      expect(await prisma.payment.count({ where: { organizationId: org.id } })).toBe(1);
    });

    it('scopes idempotency keys per organization', async () => {
      const [org, other] = [await makeOrganization(prisma), await makeOrganization(prisma)];
      const idempotencyKey = key();
      const a = await create(org.id, { idempotencyKey });
      const b = await create(other.id, { idempotencyKey });
      expect(b.replayed).toBe(false);
      expect(b.payment.id).not.toBe(a.payment.id);
    });

    it('joins a caller transaction and rolls back with it', async () => {
      const org = await makeOrganization(prisma);
      await create(org.id);
      await expect(
        prisma.transaction(async (tx) => {
          await sut.create(org.id, { amount: '1.00', currency: 'USD', idempotencyKey: key() }, tx);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await prisma.payment.count({ where: { organizationId: org.id } })).toBe(1);
    });
  });

  describe('createAudited (the API\'s creation: payment row as the idempotency record, audit entry in the same statement)', () => {
    const entryFor = (organizationId: string) => (payment: PaymentRecord) =>
      audit.buildRow(organizationId, { actor: 'key:test role:owner', action: 'payment.create', entityType: 'payment', entityId: payment.id, after: payment, requestId: 'req-1' });
    const createAudited = (organizationId: string, input: Partial<CreatePaymentInput> & { requestHash?: string } = {}, options: { commit?: boolean } = {}) =>
      prisma.rawTransaction(organizationId, (db) =>
        sut.createAudited(organizationId, { amount: '100.00', currency: 'USD', idempotencyKey: key(), ...input }, entryFor(organizationId), db, options),
      );

    it('inserts the payment and its audit entry together, the entry (MAC included) built from the payment as inserted', async () => {
      const org = await makeOrganization(prisma);
      const result = await createAudited(org.id, { amount: '12.3', metadata: { b: 1, a: 2 }, requestHash: 'the request' });
      if (!('created' in result)) throw new Error('not created');
      const { created, audit: entry } = result;
      expect(created).toMatchObject({ amount: '12.30', status: 'pending', refundedAmount: '0.00', metadata: { a: 2, b: 1 } });
      expect(created.updatedAt).toEqual(created.createdAt);
      const entries = await prisma.auditLog.findMany({ where: { organizationId: org.id } });
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ id: entry.id, entityId: created.id, mac: entry.mac, seq: null });
      expect(entries[0].after).toEqual(JSON.parse(JSON.stringify(created)));
      expect(await audit.verify(org.id)).toMatchObject({ ok: true, pending: 1 });
      expect((await prisma.payment.findUniqueOrThrow({ where: { id: created.id } })).requestHash).toBe('the request');
    });

    it('writes nothing when the key is taken (and the replay reads the payment, its first view and any key record) or the user is foreign', async () => {
      const org = await makeOrganization(prisma);
      const idempotencyKey = key();
      const first = await createAudited(org.id, { idempotencyKey, requestHash: 'h1' }, { commit: true });
      expect(await createAudited(org.id, { idempotencyKey, requestHash: 'h2', amount: '5.00' }, { commit: true })).toEqual({ keyTaken: true });
      const stranger = await makeUser(prisma, (await makeOrganization(prisma)).id);
      await expect(createAudited(org.id, { userId: stranger.id }, { commit: true })).rejects.toThrow(NotFoundError);
      expect(await prisma.payment.count({ where: { organizationId: org.id } })).toBe(1);
      expect(await prisma.auditLog.count({ where: { organizationId: org.id } })).toBe(1);

      if (!('created' in first)) throw new Error('not created');
      const scope = 'POST /api/v1/payments';
      const found = await prisma.rawTransaction(org.id, (db) => sut.findForReplay(org.id, idempotencyKey, { action: 'payment.create', scope }, db, { commit: true }));
      expect(found).toEqual({ payment: first.created, requestHash: 'h1', createdView: JSON.parse(JSON.stringify(first.created)), keyRecord: null });
      await prisma.idempotencyKey.create({ data: { organizationId: org.id, scope, key: idempotencyKey, requestHash: 'h0', responseStatus: 201, responseBody: { id: 'stored' } } });
      expect(await sut.findForReplay(org.id, idempotencyKey, { action: 'payment.create', scope }, prisma)).toMatchObject({ keyRecord: { requestHash: 'h0', responseBody: { id: 'stored' } } });
      expect(await sut.findForReplay(org.id, key(), { action: 'payment.create', scope }, prisma)).toBeNull();
    });

    it('commit: the statement commits with the transaction it began; a later statement runs in a new one', async () => {
      const org = await makeOrganization(prisma);
      await expect(
        prisma.rawTransaction(org.id, async (db) => {
          await sut.createAudited(org.id, { amount: '1.00', currency: 'USD', idempotencyKey: key() }, entryFor(org.id), db, { commit: true });
          throw new Error('after the commit');
        }),
      ).rejects.toThrow('after the commit');
      expect(await prisma.payment.count({ where: { organizationId: org.id } })).toBe(1);
      expect(await prisma.auditLog.count({ where: { organizationId: org.id } })).toBe(1);
      // Without commit it stays in the caller's transaction and rolls back with it.
      await expect(
        prisma.rawTransaction(org.id, async (db) => {
          await sut.createAudited(org.id, { amount: '1.00', currency: 'USD', idempotencyKey: key() }, entryFor(org.id), db);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect(await prisma.payment.count({ where: { organizationId: org.id } })).toBe(1);
      expect(await prisma.auditLog.count({ where: { organizationId: org.id } })).toBe(1);
    });
  });

  describe('state machine', () => {
    it('pending → succeeded → partially_refunded → refunded', async () => {
      const org = await makeOrganization(prisma);
      const { payment } = await create(org.id, { amount: '100.00' });

      expect(await sut.succeed(org.id, payment.id)).toMatchObject({ status: 'succeeded' });
      const first = await sut.refund(org.id, payment.id, '30', 'damaged');
      expect(first?.refund).toMatchObject({ amount: '30.00', currency: 'USD', reason: 'damaged', paymentId: payment.id });
      expect(first?.payment).toMatchObject({ status: 'partially_refunded', refundedAmount: '30.00' });
      const second = await sut.refund(org.id, payment.id, '70.00');
      expect(second?.payment).toMatchObject({ status: 'refunded', refundedAmount: '100.00' });

      await expect(sut.refund(org.id, payment.id, '0.01')).rejects.toThrow(InvalidStateError);
      expect(await prisma.refund.count({ where: { paymentId: payment.id } })).toBe(2);
    });

    it('a refund of the whole amount goes straight to refunded', async () => {
      const org = await makeOrganization(prisma);
      const payment = await makePayment(prisma, org.id, { amount: '25.00', status: 'succeeded' });
      expect((await sut.refund(org.id, payment.id, '25'))?.payment).toMatchObject({
        status: 'refunded',
        refundedAmount: '25.00',
      });
    });

    it('pending → failed keeps the reason', async () => {
      const org = await makeOrganization(prisma);
      const { payment } = await create(org.id);
      expect(await sut.fail(org.id, payment.id, 'card declined')).toMatchObject({
        status: 'failed',
        failureReason: 'card declined',
      });
    });

    it.each([
      ['succeed', 'succeeded'],
      ['succeed', 'failed'],
      ['succeed', 'refunded'],
      ['fail', 'succeeded'],
      ['fail', 'failed'],
      ['fail', 'partially_refunded'],
      ['refund', 'pending'],
      ['refund', 'failed'],
      ['refund', 'refunded'],
    ] as const)('refuses %s on a %s payment', async (action, status) => {
      const org = await makeOrganization(prisma);
      const refundedAmount = status === 'refunded' ? '100.00' : status === 'partially_refunded' ? '10.00' : '0';
      const payment = await makePayment(prisma, org.id, { status, refundedAmount });
      const run =
        action === 'refund' ? sut.refund(org.id, payment.id, '1.00') : sut[action](org.id, payment.id);
      await expect(run).rejects.toThrow(InvalidStateError);
      expect((await prisma.payment.findUniqueOrThrow({ where: { id: payment.id } })).status).toBe(status);
    });

    it('refuses a refund above the remainder and leaves the payment as it was', async () => {
      const org = await makeOrganization(prisma);
      const payment = await makePayment(prisma, org.id, { status: 'succeeded', amount: '50.00' });
      await sut.refund(org.id, payment.id, '40.00');
      await expect(sut.refund(org.id, payment.id, '10.01')).rejects.toMatchObject({
        constructor: InvalidStateError,
        details: [expect.objectContaining({ path: 'amount', message: 'must be at most 10.00' })],
      });
      await expect(sut.refund(org.id, payment.id, '0.001')).rejects.toThrow(InvalidInputError);
      expect(await sut.findById(org.id, payment.id)).toMatchObject({
        status: 'partially_refunded',
        refundedAmount: '40.00',
      });
    });

    it('the CHECK constraint holds even when the application is bypassed', async () => {
      const org = await makeOrganization(prisma);
      const payment = await makePayment(prisma, org.id, { status: 'succeeded', amount: '5.00' });
      const error = await prisma.payment
        .update({ where: { id: payment.id }, data: { refundedAmount: '5.01' } })
        .then(() => undefined, (e: unknown) => e);
      // check_violation of payments_refunded_within_amount, not any other failure
      expect(error).toBeInstanceOf(Error);
      expect(sqlState(error)).toBe('23514');
      expect((await prisma.payment.findUniqueOrThrow({ where: { id: payment.id } })).refundedAmount.toString()).toBe('0');
    });

    it('rejects a NUL character in a failure or refund reason and changes nothing', async () => {
      const org = await makeOrganization(prisma);
      const pending = await makePayment(prisma, org.id);
      const succeeded = await makePayment(prisma, org.id, { status: 'succeeded', amount: '5.00' });
      await expect(sut.fail(org.id, pending.id, 'card\u0000declined')).rejects.toMatchObject({
        constructor: InvalidInputError,
        details: [expect.objectContaining({ path: 'reason' })],
      });
      await expect(sut.refund(org.id, succeeded.id, '1.00', 'dam\u0000aged')).rejects.toMatchObject({
        constructor: InvalidInputError,
        details: [expect.objectContaining({ path: 'reason' })],
      });
      expect(await sut.findById(org.id, pending.id)).toMatchObject({ status: 'pending', failureReason: null });
      expect(await sut.findById(org.id, succeeded.id)).toMatchObject({ status: 'succeeded', refundedAmount: '0.00' });
      expect(await prisma.refund.count({ where: { paymentId: succeeded.id } })).toBe(0);
    });

    it("treats another organization's payment and unknown ids as missing", async () => {
      const [org, other] = [await makeOrganization(prisma), await makeOrganization(prisma)];
      const payment = await makePayment(prisma, other.id, { status: 'succeeded' });
      expect(await sut.findById(org.id, payment.id)).toBeNull();
      expect(await sut.succeed(org.id, payment.id)).toBeNull();
      expect(await sut.fail(org.id, payment.id)).toBeNull();
      expect(await sut.refund(org.id, payment.id, '1.00')).toBeNull();
      expect(await sut.findById(org.id, 'not-a-uuid')).toBeNull();
      expect(await sut.findById(org.id, randomUUID())).toBeNull();
      expect((await prisma.payment.findUniqueOrThrow({ where: { id: payment.id } })).refundedAmount.toString()).toBe('0');
    });
  });

  describe('money through the database', () => {
    it('0.10 + 0.20 = 0.30 exactly', async () => {
      const org = await makeOrganization(prisma);
      const payment = await makePayment(prisma, org.id, { status: 'succeeded', amount: '0.30' });
      await sut.refund(org.id, payment.id, '0.10');
      const after = await sut.refund(org.id, payment.id, '0.20');
      expect(after?.payment).toMatchObject({ refundedAmount: '0.30', status: 'refunded' });

      await makePayment(prisma, org.id, { status: 'succeeded', amount: '0.10' });
      await makePayment(prisma, org.id, { status: 'succeeded', amount: '0.20' });
      expect(await sut.volumeByCurrency(org.id)).toEqual({ USD: '0.30' });
    });
  });

  describe('volumeByCurrency', () => {
    it('sums what succeeded minus refunds, per currency', async () => {
      const org = await makeOrganization(prisma);
      await makePayment(prisma, org.id, { status: 'succeeded', amount: '10.00' });
      await makePayment(prisma, org.id, { status: 'partially_refunded', amount: '10.00', refundedAmount: '2.50' });
      await makePayment(prisma, org.id, { status: 'refunded', amount: '99.00', refundedAmount: '99.00' });
      await makePayment(prisma, org.id, { status: 'pending', amount: '1000.00' });
      await makePayment(prisma, org.id, { status: 'failed', amount: '1000.00' });
      await makePayment(prisma, org.id, { status: 'succeeded', amount: '1500', currency: 'JPY' });
      await makePayment(prisma, (await makeOrganization(prisma)).id, { status: 'succeeded', amount: '7.00' });
      expect(await sut.volumeByCurrency(org.id)).toEqual({ JPY: '1500', USD: '17.50' });
    });
  });

  describe('listPage', () => {
    it('pages newest first, filters by status, and keeps its cursor valid while rows are inserted', async () => {
      const org = await makeOrganization(prisma);
      const base = Date.parse('2026-01-01T00:00:00.000Z');
      const made = [];
      for (let i = 0; i < 7; i++) {
        // Two rows share each timestamp, so the id breaks ties.
        const createdAt = new Date(base + Math.floor(i / 2) * 1000);
        made.push(await makePayment(prisma, org.id, { createdAt, status: i % 2 ? 'succeeded' : 'pending' }));
      }
      const expected = [...made]
        .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1))
        .map((p) => p.id);

      const first = await sut.listPage(org.id, { limit: 3 });
      expect(first.data.map((p) => p.id)).toEqual(expected.slice(0, 3));
      await makePayment(prisma, org.id, { createdAt: new Date(base + 60_000) });
      await makePayment(prisma, org.id, { createdAt: new Date(base + 1000) });
      const seen = [...first.data.map((p) => p.id)];
      let cursor = first.nextCursor;
      while (cursor) {
        const page = await sut.listPage(org.id, { limit: 3, cursor });
        seen.push(...page.data.map((p) => p.id));
        cursor = page.nextCursor;
      }
      // Everything that was there, once each; the row inserted behind the cursor shows up, the newer one does not.
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen.filter((id) => expected.includes(id))).toEqual(expected);
      expect(seen).toHaveLength(8);

      const succeeded = await sut.listPage(org.id, { limit: 10, status: 'succeeded' });
      expect(succeeded.data.map((p) => p.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(succeeded.nextCursor).toBeNull();
    });

    it('rejects bad limits and cursors, and shows nothing of other organizations', async () => {
      const [org, other] = [await makeOrganization(prisma), await makeOrganization(prisma)];
      await makePayment(prisma, other.id);
      expect(await sut.listPage(org.id, { limit: 10 })).toEqual({ data: [], nextCursor: null });
      await expect(sut.listPage(org.id, { limit: 0 })).rejects.toThrow(InvalidInputError);
      await expect(sut.listPage(org.id, { limit: 1000 })).rejects.toThrow(InvalidInputError);
      await expect(sut.listPage(org.id, { limit: 10, cursor: 'garbage' })).rejects.toThrow(InvalidInputError);
    });
  });

  describeOnPostgres('concurrency', () => {
    it('20 concurrent audited creates with one key make one payment and one audit entry', async () => {
      const org = await makeOrganization(prisma);
      const idempotencyKey = key();
      const entry = (payment: PaymentRecord) => audit.buildRow(org.id, { actor: 'key:test role:owner', action: 'payment.create', entityType: 'payment', entityId: payment.id, after: payment });
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          prisma.rawTransaction(org.id, (db) => sut.createAudited(org.id, { amount: '9.99', currency: 'EUR', idempotencyKey }, entry, db, { commit: true })),
        ),
      );
      expect(results.filter((r) => 'created' in r)).toHaveLength(1);
      expect(await prisma.payment.count({ where: { organizationId: org.id } })).toBe(1);
      expect(await prisma.auditLog.count({ where: { organizationId: org.id } })).toBe(1);
    });

    it('20 concurrent creates with one key make exactly one payment', async () => {
      const org = await makeOrganization(prisma);
      const idempotencyKey = key();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => sut.create(org.id, { amount: '9.99', currency: 'EUR', idempotencyKey })),
      );
      expect(new Set(results.map((r) => r.payment.id)).size).toBe(1);
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      expect(await prisma.payment.count({ where: { organizationId: org.id } })).toBe(1);
    });

    it('20 concurrent refunds of 10.00 on 100.00: exactly 10 succeed', async () => {
      const org = await makeOrganization(prisma);
      const payment = await makePayment(prisma, org.id, { status: 'succeeded', amount: '100.00' });
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, () => sut.refund(org.id, payment.id, '10.00')),
      );
      const fulfilled = results.filter((r) => r.status === 'fulfilled');
      const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      expect(fulfilled).toHaveLength(10);
      expect(rejected).toHaveLength(10);
      for (const r of rejected) expect(r.reason).toBeInstanceOf(InvalidStateError);
      expect(await sut.findById(org.id, payment.id)).toMatchObject({ refundedAmount: '100.00', status: 'refunded' });
      const refunds = await prisma.refund.aggregate({ where: { paymentId: payment.id }, _sum: { amount: true }, _count: true });
      expect(refunds._count).toBe(10);
      expect(refunds._sum.amount?.toFixed(2)).toBe('100.00');
    });
  });
});
