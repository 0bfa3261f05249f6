import { Prisma } from '@agenthub/db';
import { agentBody, conversationBody, messageBody, seededRandom, userBody } from '@agenthub/db/testing';
import { expectProblem, TestApi, type ApiResponse, type TestOrg } from './support/api-harness';

const vector = (seed: number) => {
  const random = seededRandom(seed);
  return Array.from({ length: 1536 }, () => Math.round(random() * 100) / 100 || 0.5);
};

/**
 * Every mutation through the API leaves one audit entry (actor, action, before/after, request id) in the same
 * transaction, and the hash chain shows an entry changed behind the API's back.
 */
describe('audit log over HTTP', () => {
  let api: TestApi;

  beforeAll(async () => {
    api = await TestApi.start();
  });
  afterAll(() => api.close());

  const entries = async (org: TestOrg, query = '') => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the API's JSON entries, read field by field
    const out: Array<Record<string, any>> = [];
    let cursor: string | null = null;
    do {
      const res: ApiResponse = await api.get(`/api/v1/audit-logs?limit=200${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, org.key);
      expect(res.status).toBe(200);
      out.push(...res.body.data);
      cursor = res.body.nextCursor;
    } while (cursor);
    return out.reverse(); // oldest first
  };

  it('records every mutation of every entity with actor, action, before/after and the request id', async () => {
    const org = await api.createOrganization('audit');
    const ownerKeyId = (await api.get('/api/v1/api-keys', org.key)).body.data[0].id;
    const requests: Array<[ApiResponse, string, string]> = [];
    const did = async (res: Promise<ApiResponse>, action: string, entityType: string) => {
      const r = await res;
      if (r.status >= 300) throw new Error(`${action}: ${r.status} ${r.text}`);
      requests.push([r, action, entityType]);
      return r.body;
    };
    const user = await did(api.post('/api/v1/users', org.key, userBody({ name: 'Ann' })), 'user.create', 'user');
    await did(api.patch(`/api/v1/users/${user.id}`, org.key, { name: 'Anne' }), 'user.update', 'user');
    const key = await did(api.post('/api/v1/api-keys', org.key, { name: 'ci', role: 'member' }), 'api_key.create', 'api_key');
    await did(api.delete(`/api/v1/api-keys/${key.id}`, org.key), 'api_key.revoke', 'api_key');
    const agent = await did(api.post('/api/v1/agents', org.key, agentBody({ name: 'before' })), 'agent.create', 'agent');
    await did(api.patch(`/api/v1/agents/${agent.id}`, org.key, { name: 'after' }), 'agent.update', 'agent');
    const conversation = await did(api.post('/api/v1/conversations', org.key, conversationBody(agent.id)), 'conversation.create', 'conversation');
    await did(api.patch(`/api/v1/conversations/${conversation.id}`, org.key, { title: 'renamed' }), 'conversation.update', 'conversation');
    const appended = await did(
      api.post(`/api/v1/conversations/${conversation.id}/messages`, org.key, { messages: [messageBody(), messageBody({ role: 'assistant', content: '', isStreaming: true })] }),
      'message.append',
      'conversation',
    );
    const streaming = appended.data[1].id;
    await did(api.post(`/api/v1/messages/${streaming}/chunks`, org.key, { delta: 'hel' }), 'message.chunk', 'message');
    await did(api.post(`/api/v1/messages/${streaming}/complete`, org.key, { tokensUsed: 3 }), 'message.complete', 'message');
    const memory = await did(api.post('/api/v1/memories', org.key, { content: 'likes tea', embedding: vector(1) }), 'memory.create', 'memory');
    await did(api.post('/api/v1/memories/batch', org.key, { memories: [{ content: 'a', embedding: vector(2) }] }), 'memory.create_batch', 'memory');
    await did(api.patch(`/api/v1/memories/${memory.id}`, org.key, { importance: 1 }), 'memory.update', 'memory');
    await did(api.delete(`/api/v1/memories/${memory.id}`, org.key), 'memory.delete', 'memory');
    const document = await did(api.post('/api/v1/documents', org.key, { title: 'doc', chunks: [{ content: 'c', embedding: vector(3) }] }), 'document.create', 'document');
    await did(api.delete(`/api/v1/documents/${document.id}`, org.key), 'document.delete', 'document');
    const payment = await did(api.post('/api/v1/payments', org.key, { amount: '3.00', currency: 'USD' }, { headers: { 'idempotency-key': 'p-1' } }), 'payment.create', 'payment');
    await did(api.post(`/api/v1/payments/${payment.id}/succeed`, org.key, {}), 'payment.succeed', 'payment');
    await did(api.post(`/api/v1/payments/${payment.id}/refund`, org.key, { amount: '1.00' }), 'payment.refund', 'payment');
    await did(api.delete(`/api/v1/conversations/${conversation.id}`, org.key), 'conversation.delete', 'conversation');
    await did(api.delete(`/api/v1/agents/${agent.id}`, org.key), 'agent.delete', 'agent');
    await did(api.delete(`/api/v1/users/${user.id}`, org.key), 'user.delete', 'user');

    // Nothing for reads, failed writes, or replays of an Idempotency-Key.
    await api.get(`/api/v1/agents/${agent.id}`, org.key);
    expectProblem(await api.post('/api/v1/agents', org.key, { name: '' }), 400);
    expectProblem(await api.post(`/api/v1/payments/${payment.id}/succeed`, org.key, {}), 409);
    expect((await api.post('/api/v1/payments', org.key, { amount: '3.00', currency: 'USD' }, { headers: { 'idempotency-key': 'p-1' } })).status).toBe(201);

    const log = await entries(org);
    expect(log.map((e) => [e.action, e.entityType])).toEqual(requests.map(([, action, type]) => [action, type]));
    log.forEach((entry, i) => {
      const [res] = requests[i];
      expect(entry.requestId).toBe(res.headers.get('x-request-id'));
      expect(entry.actor).toBe(`key:${ownerKeyId} role:owner user:${org.ownerId}`);
      expect(entry.at).toEqual(expect.any(String));
    });
    const byAction = (action: string) => log.find((e) => e.action === action)!;
    expect(byAction('agent.update')).toMatchObject({ entityId: agent.id, before: { name: 'before', version: 1 }, after: { name: 'after', version: 2 } });
    expect(byAction('user.update')).toMatchObject({ before: { name: 'Ann' }, after: { name: 'Anne' } });
    expect(byAction('user.delete')).toMatchObject({ entityId: user.id, before: { name: 'Anne' }, after: null });
    expect(byAction('api_key.create').after).not.toHaveProperty('key');
    expect(JSON.stringify(log)).not.toContain(key.key);
    expect(byAction('message.append').after.messages.map((m: { id: string }) => m.id)).toEqual(appended.data.map((m: { id: string }) => m.id));
    expect(byAction('payment.refund')).toMatchObject({ before: { status: 'succeeded', refundedAmount: '0.00' }, after: { status: 'partially_refunded', refundedAmount: '1.00' } });
    expect(byAction('agent.delete')).toMatchObject({ before: { isActive: true }, after: { isActive: false } });
    expect(byAction('memory.create').after).not.toHaveProperty('embedding');

    const forAgent = await entries(org, `&entityType=agent&entityId=${agent.id}`);
    expect(forAgent.map((e) => e.action)).toEqual(['agent.create', 'agent.update', 'agent.delete']);
    // Right after the writes: every entry checked, sealed or still pending (by its MAC).
    const verified = (await api.get('/api/v1/audit-logs/verify', org.key)).body;
    expect(verified).toMatchObject({ ok: true, checked: log.length });
    expect(verified.sealed + verified.pending).toBe(log.length);
    // The sealer chains them shortly after their commits.
    expect(await allSealed(org)).toEqual({ ok: true, checked: log.length, sealed: log.length, pending: 0, oldestPendingSeconds: null });
  });

  /** Waits (polling, no deadline but the test's) until the sealer has sealed every entry; returns the verification. */
  const allSealed = async (org: TestOrg) => {
    for (;;) {
      const res = await api.get('/api/v1/audit-logs/verify', org.key);
      expect(res.status).toBe(200);
      if (res.body.pending === 0 || !res.body.ok) return res.body;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  it('names the key, its role and its user in the actor', async () => {
    const org = await api.createOrganization('audit-actor');
    const user = (await api.post('/api/v1/users', org.key, userBody({ role: 'admin' }))).body;
    const created = (await api.post('/api/v1/api-keys', org.key, { name: 'bound', role: 'member', userId: user.id })).body;
    await api.post('/api/v1/agents', created.key, agentBody());
    const [last] = (await api.get('/api/v1/audit-logs?limit=1', org.key)).body.data;
    expect(last.actor).toBe(`key:${created.id} role:member user:${user.id}`);
  });

  it('verify reports ok: false when an audited row is changed, inserted or deleted directly in SQL', async () => {
    const tamper = async (sql: (org: string) => Prisma.Sql) => {
      const org = await api.createOrganization('audit-tamper');
      for (let i = 0; i < 3; i++) await api.post('/api/v1/agents', org.key, agentBody({ name: `agent ${i}` }));
      expect((await api.get('/api/v1/audit-logs/verify', org.key)).body).toMatchObject({ ok: true, checked: 3 });
      expect(await allSealed(org)).toMatchObject({ ok: true, checked: 3, sealed: 3, pending: 0 });
      await api.prisma.$executeRaw(sql(org.id)); // the owner connection: no API, no row-level security
      const res = await api.get('/api/v1/audit-logs/verify', org.key);
      expect(res.status).toBe(200);
      return res.body;
    };
    const edited = await tamper((org) => Prisma.sql`update audit_logs set after = jsonb_set(after, '{name}', '"forged"') where organization_id = ${org}::uuid and seq = 2`);
    expect(edited).toEqual({ ok: false, checked: 1, sealed: 1, pending: 0, oldestPendingSeconds: null, brokenAt: { seq: 2, reason: expect.stringMatching(/hash/) } });
    const actor = await tamper((org) => Prisma.sql`update audit_logs set actor = 'key:someone-else' where organization_id = ${org}::uuid and seq = 1`);
    expect(actor).toMatchObject({ ok: false, brokenAt: { seq: 1 } });
    const removed = await tamper((org) => Prisma.sql`delete from audit_logs where organization_id = ${org}::uuid and seq = 2`);
    expect(removed).toMatchObject({ ok: false, brokenAt: { seq: 2 } });
    const truncated = await tamper((org) => Prisma.sql`delete from audit_logs where organization_id = ${org}::uuid and seq = 3`);
    expect(truncated).toMatchObject({ ok: false });
  });

  it('verify reports ok: false for a pending entry forged in SQL, which the sealer never chains', async () => {
    const org = await api.createOrganization('audit-forged-pending');
    await api.post('/api/v1/agents', org.key, agentBody());
    const [forged] = await api.prisma.$queryRaw<Array<{ id: string }>>`
      insert into audit_logs (id, organization_id, at, actor, action, entity_type, mac)
      values (gen_random_uuid(), ${org.id}::uuid, now(), 'key:someone role:owner', 'agent.delete', 'agent', repeat('f', 64))
      returning id::text`;
    const res = await api.get('/api/v1/audit-logs/verify', org.key);
    expect(res.body).toMatchObject({ ok: false, brokenAt: { id: forged.id, reason: expect.stringMatching(/MAC/) } });
    // The genuine entry is sealed; the forged one stays pending (not laundered into the chain) and keeps failing.
    await api.post('/api/v1/agents', org.key, agentBody());
    for (;;) {
      const sealed = await api.prisma.auditLog.count({ where: { organizationId: org.id, seq: { not: null } } });
      if (sealed === 2) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await api.prisma.auditLog.findUnique({ where: { id: forged.id } })).toMatchObject({ seq: null });
    expect((await api.get('/api/v1/audit-logs/verify', org.key)).body).toMatchObject({ ok: false, brokenAt: { id: forged.id } });
  });

  it('is for admins and owners only', async () => {
    const org = await api.createOrganization('audit-roles');
    for (const role of ['viewer', 'member'] as const) {
      const key = await api.createKey(org, role);
      expectProblem(await api.get('/api/v1/audit-logs', key), 403);
      expectProblem(await api.get('/api/v1/audit-logs/verify', key), 403);
    }
    const admin = await api.createKey(org, 'admin');
    expect((await api.get('/api/v1/audit-logs', admin)).status).toBe(200);
    expectProblem(await api.get('/api/v1/audit-logs?cursor=forged', admin), 400);
    expectProblem(await api.get('/api/v1/audit-logs?limit=500', admin), 400);
  });
});
