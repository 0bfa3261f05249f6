import { agentBody, seededRandom } from '@agenthub/db/testing';
import { expectProblem, TestApi, type TestOrg } from './support/api-harness';

const vector = (length = 1536) => {
  const random = seededRandom(3);
  return Array.from({ length }, () => Math.round(random() * 100) / 100 || 0.5);
};

/**
 * Bad input on the memory, document, search, payment, analytics and audit routes: a 4xx in the problem+json shape,
 * never a 5xx, and nothing written (the organization's counts, payments, events and audit log compared before and after).
 */
describe('errors and limits of memories, documents, search, payments, analytics and audit', () => {
  let api: TestApi;
  let org: TestOrg;
  let memoryId: string;
  let paymentId: string;

  beforeAll(async () => {
    api = await TestApi.start({ API_BODY_LIMIT_BYTES: String(256 * 1024) });
    org = await api.createOrganization('errors-data');
    await api.post('/api/v1/agents', org.key, agentBody());
    memoryId = (await api.post('/api/v1/memories', org.key, { content: 'm', embedding: vector() })).body.id;
    paymentId = (await api.post('/api/v1/payments', org.key, { amount: '5.00', currency: 'USD' }, { headers: { 'idempotency-key': 'k-1' } })).body.id;
  });
  afterAll(() => api.close());

  const state = async () => ({
    stats: (await api.get('/api/v1/stats', org.key)).body,
    memory: (await api.get(`/api/v1/memories/${memoryId}`, org.key)).body,
    payment: (await api.get(`/api/v1/payments/${paymentId}`, org.key)).body,
    events: await api.prisma.analyticsEvent.count({ where: { organizationId: org.id } }),
    // How many entries and whether the chain holds; not sealed/pending/oldestPendingSeconds, which the sealer moves
    // on its own between two reads (entries written before the case get sealed meanwhile).
    audit: (({ ok, checked }: { ok: boolean; checked: number }) => ({ ok, checked }))((await api.get('/api/v1/audit-logs/verify', org.key)).body),
  });

  const json = { 'content-type': 'application/json' };
  const idem = { 'idempotency-key': 'fresh' };
  const cases: Array<[name: string, status: number, run: () => ReturnType<TestApi['request']>, errorPath?: string]> = [
    ['memory: malformed JSON', 400, () => api.request('POST', '/api/v1/memories', { key: org.key, raw: '{"content": ', headers: json })],
    ['memory: missing content', 400, () => api.post('/api/v1/memories', org.key, { embedding: vector() }), 'content'],
    ['memory: missing embedding', 400, () => api.post('/api/v1/memories', org.key, { content: 'x' }), 'embedding'],
    ['memory: embedding of strings', 400, () => api.post('/api/v1/memories', org.key, { content: 'x', embedding: ['a'] }), 'embedding.0'],
    ['memory: wrong dimension', 400, () => api.post('/api/v1/memories', org.key, { content: 'x', embedding: vector(10) }), 'embedding'],
    ['memory: importance above 1', 400, () => api.post('/api/v1/memories', org.key, { content: 'x', embedding: vector(), importance: 1.5 }), 'importance'],
    ['memory: bad expiresAt', 400, () => api.post('/api/v1/memories', org.key, { content: 'x', embedding: vector(), expiresAt: 'tomorrow' }), 'expiresAt'],
    ['memory: bad agentId', 400, () => api.post('/api/v1/memories', org.key, { content: 'x', embedding: vector(), agentId: 'nope' }), 'agentId'],
    ['memory: unknown field', 400, () => api.post('/api/v1/memories', org.key, { content: 'x', embedding: vector(), colour: 'red' }), 'colour'],
    ['memory: NUL in content', 400, () => api.post('/api/v1/memories', org.key, { content: 'a\u0000b', embedding: vector() })],
    ['memory: NUL in metadata', 400, () => api.post('/api/v1/memories', org.key, { content: 'a', embedding: vector(), metadata: { k: 'a\u0000' } })],
    ['memory: text body', 415, () => api.request('POST', '/api/v1/memories', { key: org.key, raw: 'x', headers: { 'content-type': 'text/plain' } })],
    ['memory: oversized body', 413, () => api.post('/api/v1/memories', org.key, { content: 'x'.repeat(300 * 1024), embedding: vector() })],
    ['memory batch: empty', 400, () => api.post('/api/v1/memories/batch', org.key, { memories: [] }), 'memories'],
    ['memory batch: one bad item', 400, () => api.post('/api/v1/memories/batch', org.key, { memories: [{ content: 'ok', embedding: vector() }, { content: '' }] })],
    ['memory: patch with bad id', 400, () => api.patch('/api/v1/memories/123', org.key, { content: 'x' }), 'params.id'],
    ['memory: patch wrong dimension', 400, () => api.patch(`/api/v1/memories/${memoryId}`, org.key, { embedding: vector(3) }), 'embedding'],
    ['memory: patch empty content', 400, () => api.patch(`/api/v1/memories/${memoryId}`, org.key, { content: '' }), 'content'],
    ['memories: limit 0', 400, () => api.get('/api/v1/memories?limit=0', org.key), 'limit'],
    ['memories: forged cursor', 400, () => api.get('/api/v1/memories?cursor=garbage', org.key), 'cursor'],
    ['memories: bad agentId filter', 400, () => api.get('/api/v1/memories?agentId=x', org.key), 'agentId'],
    ['memory search: k too large', 400, () => api.post('/api/v1/memories/search', org.key, { embedding: vector(), k: 1000 }), 'k'],
    ['memory search: bad strategy', 400, () => api.post('/api/v1/memories/search', org.key, { embedding: vector(), strategy: 'magic' }), 'strategy'],
    ['document: missing title', 400, () => api.post('/api/v1/documents', org.key, { content: 'x' }), 'title'],
    ['document: chunk without content', 400, () => api.post('/api/v1/documents', org.key, { title: 't', chunks: [{ embedding: vector() }] }), 'chunks.0.content'],
    ['document: chunk wrong dimension', 400, () => api.post('/api/v1/documents', org.key, { title: 't', chunks: [{ content: 'c', embedding: vector(7) }] }), 'chunks.0.embedding'],
    ['document: bad id', 400, () => api.get('/api/v1/documents/nope', org.key), 'params.id'],
    ['document: bad includeChunks', 400, () => api.get(`/api/v1/documents/${memoryId}?includeChunks=maybe`, org.key), 'includeChunks'],
    ['document search: unknown filter', 400, () => api.post('/api/v1/documents/search', org.key, { query: 'x', filter: { userId: memoryId } }), 'filter.userId'],
    ['message search: no q', 400, () => api.get('/api/v1/search/messages', org.key), 'q'],
    ['payment: no Idempotency-Key', 400, () => api.post('/api/v1/payments', org.key, { amount: '1.00', currency: 'USD' }), 'headers.idempotency-key'],
    ['payment: Idempotency-Key too long', 400, () => api.post('/api/v1/payments', org.key, { amount: '1.00', currency: 'USD' }, { headers: { 'idempotency-key': 'k'.repeat(300) } })],
    ['payment: float amount', 400, () => api.post('/api/v1/payments', org.key, { amount: 1.5, currency: 'USD' }, { headers: idem }), 'amount'],
    ['payment: too many decimals', 400, () => api.post('/api/v1/payments', org.key, { amount: '1.001', currency: 'USD' }, { headers: idem }), 'amount'],
    ['payment: unknown currency', 400, () => api.post('/api/v1/payments', org.key, { amount: '1.00', currency: 'ABC' }, { headers: idem }), 'currency'],
    ['payment: key reused with another body', 409, () => api.post('/api/v1/payments', org.key, { amount: '6.00', currency: 'USD' }, { headers: { 'idempotency-key': 'k-1' } })],
    ['payment: refund while pending', 409, () => api.post(`/api/v1/payments/${paymentId}/refund`, org.key, { amount: '1.00' })],
    ['payment: refund without amount', 400, () => api.post(`/api/v1/payments/${paymentId}/refund`, org.key, {}), 'amount'],
    ['payment: fail with a long reason', 400, () => api.post(`/api/v1/payments/${paymentId}/fail`, org.key, { reason: 'x'.repeat(1001) }), 'reason'],
    ['payment: bad id', 400, () => api.post('/api/v1/payments/abc/succeed', org.key, {}), 'params.id'],
    ['payments: bad status filter', 400, () => api.get('/api/v1/payments?status=done', org.key), 'status'],
    ['events: not an array', 400, () => api.post('/api/v1/events', org.key, { events: { type: 'x' } }), 'events'],
    ['events: missing type', 400, () => api.post('/api/v1/events', org.key, { events: [{ agentId: memoryId }] }), 'events.0.type'],
    ['usage: bad interval', 400, () => api.get('/api/v1/analytics/usage?interval=minute', org.key), 'interval'],
    ['usage: bad date', 400, () => api.get('/api/v1/analytics/usage?from=2026-13-40', org.key), 'from'],
    ['audit: limit 201', 400, () => api.get('/api/v1/audit-logs?limit=201', org.key), 'limit'],
    ['no credentials', 401, () => api.post('/api/v1/memories/search', null, { embedding: vector() })],
  ];

  for (const [name, status, run, errorPath] of cases) {
    it(`${name} → ${status}, problem+json, nothing written`, async () => {
      const before = await state();
      const res = await run();
      const problem = expectProblem(res, status);
      if (errorPath) expect(problem.errors?.map((e) => e.path)).toContain(errorPath);
      expect(await state()).toEqual(before);
    });
  }
});
