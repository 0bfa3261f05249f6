import { agentBody, conversationBody, messageBody, userBody } from '@agenthub/db/testing';
import { expectProblem, TEST_ADMIN_TOKEN, TestApi, type TestOrg } from './support/api-harness';

describe('organizations, users, agents and conversations', () => {
  let api: TestApi;
  let org: TestOrg;

  beforeAll(async () => {
    api = await TestApi.start();
    org = await api.createOrganization('resources');
  });
  afterAll(() => api.close());

  it('creates organizations with an owner and a key shown once; the operator lists them', async () => {
    const res = await api.post('/api/v1/organizations', TEST_ADMIN_TOKEN, { name: 'Shown Once', ownerEmail: 'Boss@Example.TEST' });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      organization: { id: expect.any(String), name: 'Shown Once', createdAt: expect.any(String) },
      user: expect.objectContaining({ email: 'boss@example.test', role: 'owner' }),
      apiKey: { id: expect.any(String), key: expect.stringMatching(/^ahk_/), role: 'owner' },
    });
    const keys = await api.get('/api/v1/api-keys', res.body.apiKey.key);
    expect(keys.body.data).toEqual([expect.objectContaining({ id: res.body.apiKey.id, role: 'owner', prefix: res.body.apiKey.key.slice(0, 12) })]);
    expect(JSON.stringify(keys.body)).not.toContain(res.body.apiKey.key);
    const all: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { body: { data: Array<{ id: string }>; nextCursor: string | null } } = await api.get(
        `/api/v1/organizations?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        TEST_ADMIN_TOKEN,
      );
      all.push(...page.body.data.map((o) => o.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(all).toEqual(expect.arrayContaining([org.id, res.body.organization.id]));
    expect(new Set(all).size).toBe(all.length);
  });

  it('manages users: unique email/externalId per organization, patch (If-Match on the version), delete revokes their keys', async () => {
    const body = userBody();
    const created = await api.post('/api/v1/users', org.key, body);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ email: body.email, externalId: body.externalId, name: body.name, role: 'member' });
    expectProblem(await api.post('/api/v1/users', org.key, { email: body.email }), 409);
    expect(created.body.version).toBe(1);
    const patched = await api.patch(`/api/v1/users/${created.body.id}`, org.key, { name: 'Renamed' }, { headers: { 'if-match': '1' } });
    expect(patched.body).toMatchObject({ name: 'Renamed', version: 2 });
    expectProblem(await api.patch(`/api/v1/users/${created.body.id}`, org.key, { name: 'Stale' }, { headers: { 'if-match': '1' } }), 409);
    expect((await api.get(`/api/v1/users/${created.body.id}`, org.key)).body).toMatchObject({ name: 'Renamed', version: 2 });
    const key = await api.post('/api/v1/api-keys', org.key, { name: 'for user', role: 'member', userId: created.body.id });
    expect((await api.get('/api/v1/agents', key.body.key)).status).toBe(200);
    expect((await api.delete(`/api/v1/users/${created.body.id}`, org.key)).status).toBe(204);
    expectProblem(await api.get(`/api/v1/users/${created.body.id}`, org.key), 404);
    expectProblem(await api.get('/api/v1/agents', key.body.key), 401);
  });

  it('versions agents, honours If-Match, soft-deletes and refuses new conversations with a deleted agent', async () => {
    const created = await api.post('/api/v1/agents', org.key, agentBody({ name: 'versioned' }));
    expect(created.body).toMatchObject({ version: 1, isActive: true, usageCount: 0, lastUsedAt: null, subAgentIds: [] });
    const id = created.body.id;
    const v2 = await api.patch(`/api/v1/agents/${id}`, org.key, { description: 'v2' }, { headers: { 'if-match': '1' } });
    expect(v2.body).toMatchObject({ version: 2, description: 'v2', name: 'versioned' });
    expectProblem(await api.patch(`/api/v1/agents/${id}`, org.key, { description: 'stale' }, { headers: { 'if-match': '1' } }), 409);
    const conversation = await api.post('/api/v1/conversations', org.key, conversationBody(id));
    expect(conversation.status).toBe(201);
    const used = await api.get(`/api/v1/agents/${id}`, org.key);
    expect(used.body.usageCount).toBe(1);
    expect(used.body.lastUsedAt).toEqual(expect.any(String));

    expect((await api.delete(`/api/v1/agents/${id}`, org.key)).status).toBe(204);
    const deleted = await api.get(`/api/v1/agents/${id}`, org.key);
    expect(deleted.body.isActive).toBe(false);
    const ids = async (q: string) => (await api.get(`/api/v1/agents?limit=200${q}`, org.key)).body.data.map((a: { id: string }) => a.id);
    expect(await ids('')).not.toContain(id);
    expect(await ids('&includeInactive=true')).toContain(id);
    expectProblem(await api.post('/api/v1/conversations', org.key, conversationBody(id)), 409);
  });

  it('lists conversations newest activity first with filters, archives, and hides deleted ones everywhere', async () => {
    const agent = (await api.post('/api/v1/agents', org.key, agentBody())).body;
    const user = (await api.post('/api/v1/users', org.key, userBody())).body;
    const c1 = (await api.post('/api/v1/conversations', org.key, conversationBody(agent.id, { userId: user.id }))).body;
    const c2 = (await api.post('/api/v1/conversations', org.key, conversationBody(agent.id))).body;
    const c3 = (await api.post('/api/v1/conversations', org.key, conversationBody(agent.id, { userId: user.id }))).body;
    await api.post(`/api/v1/conversations/${c1.id}/messages`, org.key, messageBody());
    const list = async (q: string) => (await api.get(`/api/v1/conversations?agentId=${agent.id}${q}`, org.key)).body.data.map((c: { id: string }) => c.id);
    expect(await list('')).toEqual([c1.id, c3.id, c2.id]);
    expect(await list(`&userId=${user.id}`)).toEqual([c1.id, c3.id]);
    const archived = await api.patch(`/api/v1/conversations/${c3.id}`, org.key, { status: 'archived' });
    expect(archived.body.status).toBe('archived');
    expect(await list('&status=archived')).toEqual([c3.id]);
    expect(await list('&status=active')).toEqual([c1.id, c2.id]);

    expect((await api.delete(`/api/v1/conversations/${c1.id}`, org.key)).status).toBe(204);
    expectProblem(await api.get(`/api/v1/conversations/${c1.id}`, org.key), 404);
    expectProblem(await api.get(`/api/v1/conversations/${c1.id}/messages`, org.key), 404);
    expectProblem(await api.post(`/api/v1/conversations/${c1.id}/messages`, org.key, messageBody()), 404);
    expect(await list('')).toEqual([c3.id, c2.id]);
    expectProblem(await api.delete(`/api/v1/conversations/${c1.id}`, org.key), 404);
  });

  it('looks up agents by name, users by externalId and conversations by sessionId (exact matches, lists as usual)', async () => {
    const name = `lookup-${Date.now()}`;
    const a1 = (await api.post('/api/v1/agents', org.key, agentBody({ name }))).body;
    const a2 = (await api.post('/api/v1/agents', org.key, agentBody({ name: `  ${name}  ` }))).body;
    await api.post('/api/v1/agents', org.key, agentBody({ name: `${name}-other` }));
    const agents = async (q: string) => (await api.get(`/api/v1/agents?${q}`, org.key)).body.data.map((a: { id: string }) => a.id);
    expect((await agents(`name=${encodeURIComponent(name)}`)).sort()).toEqual([a1.id, a2.id].sort());
    expect((await agents(`name=${encodeURIComponent(` ${name}`)}`)).sort()).toEqual([a1.id, a2.id].sort());
    expect(await agents(`name=${encodeURIComponent(name.toUpperCase())}`)).toEqual([]);
    await api.delete(`/api/v1/agents/${a2.id}`, org.key);
    expect(await agents(`name=${encodeURIComponent(name)}`)).toEqual([a1.id]);
    expect((await agents(`name=${encodeURIComponent(name)}&includeInactive=true`)).sort()).toEqual([a1.id, a2.id].sort());

    const user = (await api.post('/api/v1/users', org.key, userBody({ externalId: `ext/${name}` }))).body;
    const users = async (q: string) => (await api.get(`/api/v1/users?${q}`, org.key)).body.data.map((u: { id: string }) => u.id);
    expect(await users(`externalId=${encodeURIComponent(`ext/${name}`)}`)).toEqual([user.id]);
    expect(await users(`externalId=${encodeURIComponent(`ext/${name}x`)}`)).toEqual([]);
    expectProblem(await api.get('/api/v1/users?externalId=', org.key), 400);

    const c1 = (await api.post('/api/v1/conversations', org.key, conversationBody(a1.id, { userId: user.id, sessionId: 's-1' }))).body;
    const c2 = (await api.post('/api/v1/conversations', org.key, conversationBody(a1.id, { sessionId: 's-1' }))).body;
    await api.post('/api/v1/conversations', org.key, conversationBody(a1.id, { userId: user.id, sessionId: 's-2' }));
    const conversations = async (q: string) => (await api.get(`/api/v1/conversations?agentId=${a1.id}&${q}`, org.key)).body.data.map((c: { id: string }) => c.id);
    expect((await conversations('sessionId=s-1')).sort()).toEqual([c1.id, c2.id].sort());
    expect(await conversations(`sessionId=s-1&userId=${user.id}`)).toEqual([c1.id]);
    await api.delete(`/api/v1/conversations/${c1.id}`, org.key);
    expect(await conversations(`sessionId=s-1&userId=${user.id}`)).toEqual([]);
  });

  it('starts a conversation with an initial message in one go', async () => {
    const agent = (await api.post('/api/v1/agents', org.key, agentBody())).body;
    const res = await api.post('/api/v1/conversations', org.key, conversationBody(agent.id, { initialMessage: messageBody({ content: 'first' }) }));
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ status: 'active', messageCount: 1, initialMessage: { seq: 1, content: 'first' } });
    expect(res.body.lastMessageAt).toBe(res.body.initialMessage.createdAt);
  });

  it('reports stats for the caller only', async () => {
    const fresh = await api.createOrganization('stats');
    const agent = (await api.post('/api/v1/agents', fresh.key, agentBody())).body;
    await api.post('/api/v1/agents', fresh.key, agentBody());
    await api.delete(`/api/v1/agents/${agent.id}`, fresh.key);
    const active = (await api.get('/api/v1/agents', fresh.key)).body.data[0];
    const c = (await api.post('/api/v1/conversations', fresh.key, conversationBody(active.id))).body;
    await api.post(`/api/v1/conversations/${c.id}/messages`, fresh.key, { messages: [messageBody(), messageBody(), messageBody()] });
    const stats = await api.get('/api/v1/stats', fresh.key);
    expect(stats.body).toEqual({
      agents: 2,
      activeAgents: 1,
      conversations: 1,
      messages: 3,
      memories: 0,
      documents: 0,
      payments: { count: 0, volume: {} },
    });
  });

  it('serves health and readiness without credentials', async () => {
    expect((await api.get('/health')).body).toEqual({ status: 'ok' });
    const ready = await api.get('/health/ready');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({ status: 'ok', database: 'up', migrations: { pending: 0 } });
  });
});
