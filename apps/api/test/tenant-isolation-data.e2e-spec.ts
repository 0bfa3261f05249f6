import { seededRandom } from '@agenthub/db/testing';
import { expectProblem, seedTenant, TestApi, type TenantResources } from './support/api-harness';

const vector = (seed: number) => {
  const random = seededRandom(seed);
  return Array.from({ length: 1536 }, () => Math.round((random() * 2 - 1) * 100) / 100 || 0.01);
};

interface DataResources extends TenantResources {
  memoryId: string;
  documentId: string;
  paymentId: string;
  succeededPaymentId: string;
}

/**
 * The tenant-isolation contract for memories, documents, search, payments, analytics and audit: every route tried
 * with another organization's ids answers 404 and leaves that organization's data exactly as it was; lists,
 * searches, usage and the audit log never show another organization's rows.
 */
describe('tenant isolation of memories, documents, search, payments, analytics and audit', () => {
  let api: TestApi;
  let a: DataResources;
  let b: DataResources;

  async function seedData(t: TenantResources, seed: number): Promise<DataResources> {
    const key = t.org.key;
    const memory = await api.post('/api/v1/memories', key, { content: 'shared secret words', embedding: vector(seed), agentId: t.agentId, userId: t.userId });
    const document = await api.post('/api/v1/documents', key, { title: 'secret doc', agentId: t.agentId, chunks: [{ content: 'shared secret words', embedding: vector(seed + 1) }] });
    const payment = await api.post('/api/v1/payments', key, { amount: '10.00', currency: 'USD', userId: t.userId }, { headers: { 'idempotency-key': 'same-key' } });
    const succeeded = await api.post('/api/v1/payments', key, { amount: '20.00', currency: 'EUR' }, { headers: { 'idempotency-key': 'other-key' } });
    await api.post(`/api/v1/payments/${succeeded.body.id}/succeed`, key, {});
    await api.post('/api/v1/events', key, { events: [{ type: 'seen', agentId: t.agentId, occurredAt: '2026-03-01T10:00:00Z' }] });
    for (const res of [memory, document, payment, succeeded]) if (res.status !== 201) throw new Error(`${res.status} ${res.text}`);
    return { ...t, memoryId: memory.body.id, documentId: document.body.id, paymentId: payment.body.id, succeededPaymentId: succeeded.body.id };
  }

  beforeAll(async () => {
    api = await TestApi.start();
    a = await seedData(await seedTenant(api, await api.createOrganization('data-isolation-a')), 1);
    b = await seedData(await seedTenant(api, await api.createOrganization('data-isolation-b')), 101);
  });
  afterAll(() => api.close());

  async function snapshotOf(t: DataResources) {
    const get = async (path: string) => (await api.get(path, t.org.key)).body;
    return {
      memories: await get('/api/v1/memories?limit=200'),
      memory: await get(`/api/v1/memories/${t.memoryId}`),
      documents: await get('/api/v1/documents?limit=200'),
      document: await get(`/api/v1/documents/${t.documentId}?includeChunks=true`),
      payments: await get('/api/v1/payments?limit=200'),
      usage: await get('/api/v1/analytics/usage?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&interval=hour'),
      audit: await get('/api/v1/audit-logs?limit=200'),
      // Entries and chain integrity; sealed/pending/oldestPendingSeconds move on their own as the sealer catches up.
      verify: (({ ok, checked }: { ok: boolean; checked: number }) => ({ ok, checked }))(await get('/api/v1/audit-logs/verify')),
      stats: await get('/api/v1/stats'),
    };
  }

  it("answers 404 on every route for another organization's ids and changes nothing", async () => {
    const before = await snapshotOf(b);
    const key = a.org.key;
    const attempts: Array<[string, string, unknown?, Record<string, string>?]> = [
      ['GET', `/api/v1/memories/${b.memoryId}`],
      ['PATCH', `/api/v1/memories/${b.memoryId}`, { content: 'taken over' }],
      ['DELETE', `/api/v1/memories/${b.memoryId}`],
      ['POST', '/api/v1/memories', { content: 'x', embedding: vector(5), agentId: b.agentId }],
      ['POST', '/api/v1/memories', { content: 'x', embedding: vector(5), userId: b.userId }],
      ['POST', '/api/v1/memories', { content: 'x', embedding: vector(5), conversationId: b.conversationId }],
      ['POST', '/api/v1/memories/batch', { memories: [{ content: 'x', embedding: vector(5), agentId: b.agentId }] }],
      ['PATCH', `/api/v1/memories/${a.memoryId}`, { agentId: b.agentId }],
      ['GET', `/api/v1/documents/${b.documentId}`],
      ['DELETE', `/api/v1/documents/${b.documentId}`],
      ['POST', '/api/v1/documents', { title: 'x', agentId: b.agentId }],
      ['GET', `/api/v1/payments/${b.paymentId}`],
      ['POST', `/api/v1/payments/${b.paymentId}/succeed`, {}],
      ['POST', `/api/v1/payments/${b.paymentId}/fail`, { reason: 'x' }],
      ['POST', `/api/v1/payments/${b.succeededPaymentId}/refund`, { amount: '1.00' }],
      ['POST', '/api/v1/payments', { amount: '1.00', currency: 'USD', userId: b.userId }, { 'idempotency-key': 'fresh-key' }],
      ['POST', '/api/v1/events', { events: [{ type: 'x', agentId: b.agentId }] }],
      ['POST', '/api/v1/events', { events: [{ type: 'x', conversationId: b.conversationId }] }],
    ];
    for (const [method, path, body, headers] of attempts) {
      const res = await api.request(method, path, { key, body, headers });
      expect([method, path, res.status]).toEqual([method, path, 404]);
      expectProblem(res, 404);
    }
    expect(await snapshotOf(b)).toEqual(before);
  });

  it("never lists, searches, counts or audits another organization's rows", async () => {
    const key = a.org.key;
    const ids = (res: { body: { data: Array<{ id: string }> } }) => res.body.data.map((x) => x.id);
    expect(ids(await api.get('/api/v1/memories?limit=200', key))).toEqual([a.memoryId]);
    expect(ids(await api.get(`/api/v1/memories?agentId=${b.agentId}`, key))).toEqual([]);
    expect(ids(await api.get('/api/v1/documents?limit=200', key))).toEqual([a.documentId]);
    expect(ids(await api.get('/api/v1/payments?limit=200', key)).sort()).toEqual([a.paymentId, a.succeededPaymentId].sort());
    // The same Idempotency-Key in two organizations made two payments.
    expect(a.paymentId).not.toBe(b.paymentId);

    const memories = await api.post('/api/v1/memories/search', key, { embedding: vector(101), query: 'secret', k: 100 });
    expect(ids(memories)).toEqual([a.memoryId]);
    const filtered = await api.post('/api/v1/memories/search', key, { embedding: vector(101), filter: { agentId: b.agentId } });
    expect(ids(filtered)).toEqual([]);
    const chunks = await api.post('/api/v1/documents/search', key, { embedding: vector(102), query: 'secret', k: 100 });
    expect(chunks.body.data.map((c: { documentId: string }) => c.documentId)).toEqual([a.documentId]);
    const messages = await api.get('/api/v1/search/messages?q=message', key);
    expect(messages.body.data.every((m: { conversationId: string }) => m.conversationId === a.conversationId)).toBe(true);
    expect(messages.body.data.length).toBeGreaterThan(0);

    const usage = await api.get('/api/v1/analytics/usage?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&interval=hour', key);
    expect(usage.body.data).toEqual([{ bucket: '2026-03-01T10:00:00.000Z', agentId: a.agentId, conversations: 0, messages: 0, tokens: 0, events: 1 }]);
    const audit = await api.get('/api/v1/audit-logs?limit=200', key);
    const bIds = new Set(Object.values(b).filter((v) => typeof v === 'string'));
    expect(audit.body.data.length).toBeGreaterThan(5);
    expect(audit.body.data.some((e: { entityId: string | null }) => e.entityId !== null && bIds.has(e.entityId))).toBe(false);
    expect((await api.get(`/api/v1/audit-logs?entityId=${b.agentId}`, key)).body.data).toEqual([]);

    const stats = (await api.get('/api/v1/stats', key)).body;
    expect(stats).toMatchObject({ memories: 1, documents: 1, payments: { count: 2, volume: { EUR: '20.00' } } });
  });
});
