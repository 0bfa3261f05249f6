import { randomUUID } from 'node:crypto';
import { PaymentRepository, canonicalJson, sha256Hex } from '@agenthub/db';
import { userBody } from '@agenthub/db/testing';
import { expectProblem, TestApi, type TestOrg } from './support/api-harness';

describe('payments over HTTP', () => {
  let api: TestApi;
  let org: TestOrg;

  beforeAll(async () => {
    api = await TestApi.start();
    org = await api.createOrganization('payments');
  });
  afterAll(() => api.close());

  const create = (body: Record<string, unknown>, key: string | null = randomUUID(), orgKey = org.key) =>
    api.post('/api/v1/payments', orgKey, body, key === null ? {} : { headers: { 'idempotency-key': key } });
  const count = async () => (await api.get('/api/v1/stats', org.key)).body.payments.count as number;
  const act = (id: string, action: string, body: Record<string, unknown> = {}) => api.post(`/api/v1/payments/${id}/${action}`, org.key, body);

  it('creates a pending payment with exact decimal strings', async () => {
    const userId = (await api.post('/api/v1/users', org.key, userBody())).body.id;
    const res = await create({ amount: '12.3', currency: 'usd', userId, description: 'plan', metadata: { plan: 'pro' } });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ amount: '12.30', currency: 'USD', status: 'pending', refundedAmount: '0.00', userId, description: 'plan', metadata: { plan: 'pro' } });
    expect((await api.get(`/api/v1/payments/${res.body.id}`, org.key)).body).toEqual(res.body);
    const yen = await create({ amount: '500', currency: 'JPY' });
    expect(yen.body).toMatchObject({ amount: '500', refundedAmount: '0' });
    const dinar = await create({ amount: '1.005', currency: 'KWD' });
    expect(dinar.body).toMatchObject({ amount: '1.005', refundedAmount: '0.000' });
  });

  it('requires an Idempotency-Key and refuses bad amounts and currencies, writing nothing', async () => {
    const before = await count();
    const missing = expectProblem(await create({ amount: '1.00', currency: 'USD' }, null), 400);
    expect(missing.errors?.map((e) => e.path)).toEqual(['headers.idempotency-key']);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ amount: 0.1, currency: 'USD' }, 'amount'], // a JSON number has already lost exactness
      [{ amount: '0.105', currency: 'USD' }, 'amount'],
      [{ amount: '500.5', currency: 'JPY' }, 'amount'],
      [{ amount: '-1.00', currency: 'USD' }, 'amount'],
      [{ amount: '0', currency: 'USD' }, 'amount'],
      [{ amount: '1e3', currency: 'USD' }, 'amount'],
      [{ amount: '99999999999999999.00', currency: 'USD' }, 'amount'],
      [{ amount: '1.00', currency: 'XYZ' }, 'currency'],
      [{ amount: '1.00', currency: 'US' }, 'currency'],
      [{ amount: '1.00' }, 'currency'],
      [{ amount: '1.00', currency: 'USD', userId: 'nope' }, 'userId'],
      [{ amount: '1.00', currency: 'USD', tip: '1' }, 'tip'],
    ];
    for (const [body, path] of cases) {
      const problem = expectProblem(await create(body), 400);
      expect([body, problem.errors?.map((e) => e.path)]).toEqual([body, expect.arrayContaining([path])]);
    }
    expectProblem(await create({ amount: '1.00', currency: 'USD', userId: randomUUID() }), 404);
    expect(await count()).toBe(before);
  });

  it('makes one payment for twenty concurrent requests with one key; another body with that key is a 409', async () => {
    const before = await count();
    const key = `order-${randomUUID()}`;
    const body = { amount: '42.00', currency: 'EUR', description: 'once' };
    const results = await Promise.all(Array.from({ length: 20 }, () => create(body, key)));
    for (const res of results) expect(res.status).toBe(201);
    expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
    expect(results.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
    expect(await count()).toBe(before + 1);
    expectProblem(await create({ ...body, amount: '43.00' }, key), 409);
    expect((await create(body, key)).body.id).toBe(results[0].body.id);
    expect(await count()).toBe(before + 1);
  });

  it('replays the first response for a retry, even after the payment moved on; one payment and one audit entry per key', async () => {
    const key = `first-${randomUUID()}`;
    const body = { amount: '7.5', currency: 'USD', description: 'first', metadata: { zeta: 1, alpha: { b: 2, a: [1, 'x'] } } };
    const results = await Promise.all(Array.from({ length: 10 }, () => create(body, key)));
    const first = results.find((r) => r.headers.get('idempotent-replayed') !== 'true')!;
    expect(first.body).toMatchObject({ amount: '7.50', status: 'pending', metadata: body.metadata });
    for (const res of results) expect([res.status, res.text]).toEqual([201, first.text]);
    expect(results.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(9);

    await act(first.body.id, 'succeed');
    await act(first.body.id, 'refund', { amount: '1.00' });
    const retry = await create(body, key);
    expect([retry.status, retry.headers.get('idempotent-replayed'), retry.body]).toEqual([201, 'true', first.body]);
    expectProblem(await create({ ...body, description: 'another' }, key), 409);

    // The payment row is the record: no idempotency_keys row, so nothing to purge; the creation has one audit entry, whose
    // `after` is the first response.
    expect(await api.prisma.idempotencyKey.count({ where: { organizationId: org.id, key } })).toBe(0);
    expect(await api.prisma.payment.count({ where: { organizationId: org.id, idempotencyKey: key } })).toBe(1);
    const audits = await api.prisma.auditLog.findMany({ where: { organizationId: org.id, entityId: first.body.id, action: 'payment.create' } });
    expect(audits.map((a) => a.after)).toEqual([first.body]);
  });

  it('replays a payment whose creation audit entry is gone from the payment row, as it was created', async () => {
    const fresh = await api.createOrganization('payments-no-audit');
    const key = randomUUID();
    const first = await create({ amount: '3.00', currency: 'EUR' }, key, fresh.key);
    await api.post(`/api/v1/payments/${first.body.id}/fail`, fresh.key, { reason: 'declined' });
    await api.prisma.$executeRaw`delete from audit_logs where organization_id = ${fresh.id}::uuid and entity_id = ${first.body.id}`;
    const retry = await create({ amount: '3.00', currency: 'EUR' }, key, fresh.key);
    expect([retry.status, retry.headers.get('idempotent-replayed'), retry.body]).toEqual([201, 'true', first.body]);
  });

  it('replays a payment made while the API kept an idempotency_keys row per payment: its request hash and stored response', async () => {
    const fresh = await api.createOrganization('payments-legacy');
    const key = `legacy-${randomUUID()}`;
    const body = { amount: '4.00', currency: 'USD' };
    const stored = { ...(await create(body, randomUUID(), fresh.key)).body, description: 'as stored' };
    // As the API wrote them before: the payment's own hash was of the canonical request, the key row's of the HTTP request.
    await api.prisma.$executeRaw`update payments set idempotency_key = ${key}, request_hash = 'canonical' where id = ${stored.id}::uuid`;
    await api.prisma.$executeRaw`
      insert into idempotency_keys (organization_id, scope, key, request_hash, response_status, response_body)
      values (${fresh.id}::uuid, 'POST /api/v1/payments', ${key}, ${sha256Hex(canonicalJson({ params: {}, body }))}, 201, ${JSON.stringify(stored)}::jsonb)`;
    const retry = await create(body, key, fresh.key);
    expect([retry.status, retry.headers.get('idempotent-replayed'), retry.body]).toEqual([201, 'true', stored]);
    expectProblem(await create({ ...body, amount: '4.01' }, key, fresh.key), 409);
  });

  it('replays a payment another caller of the data layer made with the key, compared as it compares requests', async () => {
    const fresh = await api.createOrganization('payments-other-caller');
    const key = `import-${randomUUID()}`;
    const made = await api.app.get(PaymentRepository).create(fresh.id, { amount: '6.00', currency: 'USD', idempotencyKey: key });
    // The canonical request: "6" and "usd" are the same payment to PaymentRepository.create.
    const retry = await create({ amount: '6', currency: 'usd' }, key, fresh.key);
    expect([retry.status, retry.headers.get('idempotent-replayed'), retry.body.id]).toEqual([201, 'true', made.payment.id]);
    expectProblem(await create({ amount: '6.01', currency: 'USD' }, key, fresh.key), 409);
  });

  it('follows the state machine; an invalid transition is a 409 and changes nothing', async () => {
    const failed = (await create({ amount: '5.00', currency: 'USD' })).body.id;
    const res = await act(failed, 'fail', { reason: 'card declined' });
    expect(res.body).toMatchObject({ status: 'failed', failureReason: 'card declined' });
    for (const action of ['succeed', 'fail']) expectProblem(await act(failed, action), 409);
    expectProblem(await act(failed, 'refund', { amount: '1.00' }), 409);

    const id = (await create({ amount: '10.00', currency: 'USD' })).body.id;
    expectProblem(await act(id, 'refund', { amount: '1.00' }), 409); // pending: nothing to refund yet
    expect((await act(id, 'succeed')).body).toMatchObject({ status: 'succeeded', refundedAmount: '0.00' });
    expectProblem(await act(id, 'succeed'), 409);
    expectProblem(await act(id, 'fail'), 409);
    const partial = await act(id, 'refund', { amount: '2.5', reason: 'late delivery' });
    expect(partial.status).toBe(200);
    expect(partial.body).toMatchObject({ status: 'partially_refunded', refundedAmount: '2.50', refund: { amount: '2.50', currency: 'USD', reason: 'late delivery' } });
    const tooMuch = expectProblem(await act(id, 'refund', { amount: '7.51' }), 409);
    expect(tooMuch.detail).toMatch(/7\.50/);
    expect((await act(id, 'refund', { amount: '7.50' })).body).toMatchObject({ status: 'refunded', refundedAmount: '10.00' });
    expectProblem(await act(id, 'refund', { amount: '0.01' }), 409);
    expect((await api.get(`/api/v1/payments/${id}`, org.key)).body).toMatchObject({ status: 'refunded', refundedAmount: '10.00' });
    expectProblem(await act(id, 'refund', { amount: 1 }), 400);
    expectProblem(await act(randomUUID(), 'succeed'), 404);
  });

  it('never refunds more than the amount under concurrent refunds', async () => {
    const id = (await create({ amount: '10.00', currency: 'USD' })).body.id;
    await act(id, 'succeed');
    const results = await Promise.all(Array.from({ length: 15 }, () => act(id, 'refund', { amount: '1.00' })));
    expect(results.filter((r) => r.status === 200)).toHaveLength(10);
    for (const r of results.filter((x) => x.status !== 200)) expectProblem(r, 409);
    expect((await api.get(`/api/v1/payments/${id}`, org.key)).body).toMatchObject({ status: 'refunded', refundedAmount: '10.00' });
    const refunds = await api.prisma.refund.findMany({ where: { paymentId: id } });
    expect(refunds.map((r) => r.amount.toString()).sort()).toEqual(Array(10).fill('1'));
  });

  it('adds money exactly: "0.10" + "0.20" is "0.30", in stats and after refunds', async () => {
    const fresh = await api.createOrganization('payments-exact');
    const pay = async (amount: string, currency = 'USD') => {
      const res = await create({ amount, currency }, randomUUID(), fresh.key);
      await api.post(`/api/v1/payments/${res.body.id}/succeed`, fresh.key, {});
      return res.body.id as string;
    };
    await pay('0.10');
    const second = await pay('0.20');
    await pay('0.001', 'KWD');
    await pay('0.002', 'KWD');
    await create({ amount: '99.00', currency: 'USD' }, randomUUID(), fresh.key); // pending: no volume yet
    expect((await api.get('/api/v1/stats', fresh.key)).body.payments).toEqual({ count: 5, volume: { KWD: '0.003', USD: '0.30' } });
    for (let i = 0; i < 2; i++) expect((await api.post(`/api/v1/payments/${second}/refund`, fresh.key, { amount: '0.10' })).status).toBe(200);
    expect((await api.get(`/api/v1/payments/${second}`, fresh.key)).body).toMatchObject({ status: 'refunded', refundedAmount: '0.20' });
    expect((await api.get('/api/v1/stats', fresh.key)).body.payments.volume).toEqual({ KWD: '0.003', USD: '0.10' });
  });

  it('lists newest first, filters by status and pages with a cursor', async () => {
    const fresh = await api.createOrganization('payments-list');
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await create({ amount: `${i + 1}.00`, currency: 'USD' }, randomUUID(), fresh.key)).body.id);
    await api.post(`/api/v1/payments/${ids[1]}/succeed`, fresh.key, {});
    const first = await api.get('/api/v1/payments?limit=3', fresh.key);
    const rest = await api.get(`/api/v1/payments?limit=3&cursor=${encodeURIComponent(first.body.nextCursor)}`, fresh.key);
    expect([...first.body.data, ...rest.body.data].map((p: { id: string }) => p.id)).toEqual([...ids].reverse());
    expect(rest.body.nextCursor).toBeNull();
    expect((await api.get('/api/v1/payments?status=succeeded', fresh.key)).body.data.map((p: { id: string }) => p.id)).toEqual([ids[1]]);
    expectProblem(await api.get('/api/v1/payments?status=lost', fresh.key), 400);
  });
});
