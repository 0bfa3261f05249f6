import { agentBody, conversationBody, messageBody } from '@agenthub/db/testing';
import { expectProblem, TEST_ADMIN_TOKEN, TestApi, type TestOrg } from './support/api-harness';

/**
 * Bad input is a 4xx in the one problem+json shape, never a 5xx, and writes nothing. Each case runs against a
 * fresh count of what the organization holds, compared before and after.
 */
describe('errors and limits', () => {
  let api: TestApi;
  let org: TestOrg;
  let agentId: string;
  let conversationId: string;

  beforeAll(async () => {
    api = await TestApi.start({ API_BODY_LIMIT_BYTES: String(256 * 1024) });
    org = await api.createOrganization('errors');
    agentId = (await api.post('/api/v1/agents', org.key, agentBody())).body.id;
    conversationId = (await api.post('/api/v1/conversations', org.key, conversationBody(agentId))).body.id;
  });
  afterAll(() => api.close());

  const state = async () => ({
    stats: (await api.get('/api/v1/stats', org.key)).body,
    users: (await api.get('/api/v1/users?limit=200', org.key)).body.data.length,
    keys: (await api.get('/api/v1/api-keys?limit=200', org.key)).body.data.length,
    agent: (await api.get(`/api/v1/agents/${agentId}`, org.key)).body,
    conversation: (await api.get(`/api/v1/conversations/${conversationId}`, org.key)).body,
  });

  const json = { 'content-type': 'application/json' };
  const messages = () => `/api/v1/conversations/${conversationId}/messages`;
  const cases: Array<[name: string, status: number, run: () => ReturnType<TestApi['request']>, errorPath?: string]> = [
    ['malformed JSON', 400, () => api.request('POST', '/api/v1/agents', { key: org.key, raw: '{"name": "x",', headers: json })],
    ['JSON that is not an object', 400, () => api.request('POST', '/api/v1/agents', { key: org.key, raw: '[1,2]', headers: json })],
    ['wrong type', 400, () => api.post('/api/v1/agents', org.key, { name: 42 }), 'name'],
    ['unknown field', 400, () => api.post('/api/v1/agents', org.key, { ...agentBody(), colour: 'blue' }), 'colour'],
    ['missing required field', 400, () => api.post('/api/v1/agents', org.key, { description: 'no name' }), 'name'],
    ['enum out of range', 400, () => api.post('/api/v1/agents', org.key, agentBody({ type: 'swarm' })), 'type'],
    ['wrong content type', 415, () => api.request('POST', '/api/v1/agents', { key: org.key, raw: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } })],
    ['text/plain body', 415, () => api.request('POST', '/api/v1/agents', { key: org.key, raw: '{"name":"x"}', headers: { 'content-type': 'text/plain' } })],
    ['oversized body', 413, () => api.post('/api/v1/agents', org.key, agentBody({ description: 'x'.repeat(300 * 1024) }))],
    ['invalid UUID in path', 400, () => api.get('/api/v1/agents/not-a-uuid', org.key), 'params.id'],
    ['invalid UUID in path (write)', 400, () => api.post('/api/v1/conversations/123/messages', org.key, messageBody()), 'params.id'],
    ['invalid UUID in body', 400, () => api.post('/api/v1/conversations', org.key, { agentId: 'nope' }), 'agentId'],
    ['negative limit', 400, () => api.get('/api/v1/agents?limit=-1', org.key), 'limit'],
    ['limit above 200', 400, () => api.get('/api/v1/conversations?limit=201', org.key), 'limit'],
    ['non-numeric limit', 400, () => api.get('/api/v1/users?limit=ten', org.key), 'limit'],
    ['forged cursor', 400, () => api.get('/api/v1/agents?cursor=garbage', org.key), 'cursor'],
    ['negative afterSeq', 400, () => api.get(`${messages()}?afterSeq=-3`, org.key), 'afterSeq'],
    ['message with a bad role', 400, () => api.post(messages(), org.key, messageBody({ role: 'robot' })), 'role'],
    ['message with negative tokens', 400, () => api.post(messages(), org.key, messageBody({ tokensUsed: -1 }))],
    ['NUL byte in text', 400, () => api.post(messages(), org.key, messageBody({ content: 'a\u0000b' }))],
    ['1001 messages in one request', 400, () => api.post(messages(), org.key, { messages: Array.from({ length: 1001 }, () => messageBody({ content: 'x' })) })],
    ['empty message batch', 400, () => api.post(messages(), org.key, { messages: [] })],
    ['batch with one bad message', 400, () => api.post(messages(), org.key, { messages: [messageBody(), messageBody({ role: 7 })] })],
    ['If-Match that is not a version', 400, () => api.patch(`/api/v1/agents/${agentId}`, org.key, { name: 'x' }, { headers: { 'if-match': 'yesterday' } })],
    ['stale If-Match', 409, () => api.patch(`/api/v1/agents/${agentId}`, org.key, { name: 'renamed' }, { headers: { 'if-match': '999' } })],
    ['Idempotency-Key too long', 400, () => api.post('/api/v1/agents', org.key, agentBody(), { headers: { 'idempotency-key': 'k'.repeat(300) } })],
    ['user without email or externalId', 400, () => api.post('/api/v1/users', org.key, { name: 'nobody' })],
    ['invalid email', 400, () => api.post('/api/v1/users', org.key, { email: 'not-an-email' }), 'email'],
    ['key with unknown role', 400, () => api.post('/api/v1/api-keys', org.key, { name: 'k', role: 'god' }), 'role'],
    ['no credentials', 401, () => api.post('/api/v1/agents', null, agentBody())],
    ['malformed Authorization', 401, () => api.request('GET', '/api/v1/agents', { headers: { authorization: 'Basic abc' } })],
    ['unknown key', 401, () => api.get('/api/v1/agents', 'ahk_thisisnotakey')],
    ['admin token on a tenant route', 403, () => api.post('/api/v1/agents', TEST_ADMIN_TOKEN, agentBody())],
    ['organization key on an admin route', 403, () => api.post('/api/v1/organizations', org.key, { name: 'x', ownerEmail: 'a@b.c' })],
    ['unknown route', 404, () => api.get('/api/v1/nothing-here', org.key)],
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

  it('enforces roles: viewers read only, members cannot manage keys or users, keys never grant more than their own role', async () => {
    const viewer = await api.createKey(org, 'viewer');
    const member = await api.createKey(org, 'member');
    const admin = await api.createKey(org, 'admin');
    expect((await api.get('/api/v1/agents', viewer)).status).toBe(200);
    expectProblem(await api.post('/api/v1/agents', viewer, agentBody()), 403);
    expectProblem(await api.post(messages(), viewer, messageBody()), 403);
    expect((await api.post('/api/v1/agents', member, agentBody())).status).toBe(201);
    expectProblem(await api.post('/api/v1/api-keys', member, { name: 'k', role: 'viewer' }), 403);
    expectProblem(await api.post('/api/v1/users', member, { email: 'm@x.test' }), 403);
    expect((await api.post('/api/v1/api-keys', admin, { name: 'k', role: 'member' })).status).toBe(201);
    expectProblem(await api.post('/api/v1/api-keys', admin, { name: 'k', role: 'owner' }), 403);
    expectProblem(await api.post('/api/v1/users', admin, { email: 'boss@x.test', role: 'owner' }), 403);
  });

  it('a revoked key gets 401 at once', async () => {
    const created = await api.post('/api/v1/api-keys', org.key, { name: 'short-lived', role: 'member' });
    const key = created.body.key;
    expect((await api.get('/api/v1/agents', key)).status).toBe(200);
    expect((await api.delete(`/api/v1/api-keys/${created.body.id}`, org.key)).status).toBe(204);
    expectProblem(await api.get('/api/v1/agents', key), 401);
    const listed = (await api.get('/api/v1/api-keys?limit=200', org.key)).body.data.find((k: { id: string }) => k.id === created.body.id);
    expect(listed.revokedAt).toEqual(expect.any(String));
    expect(JSON.stringify(listed)).not.toContain(key);
  });

  it('rate-limits per key with 429 and Retry-After', async () => {
    const limited = await TestApi.start({ RATE_LIMIT_MAX: '5', RATE_LIMIT_WINDOW_SECONDS: '60' });
    try {
      const other = await limited.createOrganization('rate-limited');
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) statuses.push((await limited.get('/api/v1/agents', other.key)).status);
      expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
      const blocked = await limited.get('/api/v1/agents', other.key);
      expectProblem(blocked, 429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      // another key has its own budget
      const second = await limited.request('POST', '/api/v1/organizations', { key: TEST_ADMIN_TOKEN, body: { name: 'rl2', ownerEmail: 'o@rl2.test' } });
      expect((await limited.get('/api/v1/agents', second.body.apiKey.key)).status).toBe(200);
      // health is never limited
      expect((await limited.get('/health')).status).toBe(200);
    } finally {
      await limited.close();
    }
  });
});
