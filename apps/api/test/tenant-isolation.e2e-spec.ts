import { Prisma, enterTenant } from '@agenthub/db';
import { expectProblem, seedTenant, TestApi, type TenantResources } from './support/api-harness';

/**
 * Two organizations; every route of one is tried against the other's ids. All answer 404 (existence is not
 * leaked) and the other organization's data is exactly as before. Then the second wall: inside a tenant
 * transaction, PostgreSQL's row-level security hides and refuses the other organization's rows even for SQL
 * that forgets the organization filter.
 */
describe('tenant isolation', () => {
  let api: TestApi;
  let a: TenantResources;
  let b: TenantResources;

  beforeAll(async () => {
    api = await TestApi.start();
    a = await seedTenant(api, await api.createOrganization('isolation-a'));
    b = await seedTenant(api, await api.createOrganization('isolation-b'));
  });
  afterAll(() => api.close());

  /** Everything organization B can see, to compare before and after A's attempts. */
  async function snapshotOf(t: TenantResources) {
    const k = t.org.key;
    const get = async (path: string) => (await api.get(path, k)).body;
    return {
      users: await get('/api/v1/users?limit=200'),
      keys: (await get('/api/v1/api-keys?limit=200')).data.map((x: { id: string; revokedAt: string | null }) => [x.id, x.revokedAt]),
      agents: await get('/api/v1/agents?includeInactive=true&limit=200'),
      conversations: await get('/api/v1/conversations?limit=200'),
      messages: await get(`/api/v1/conversations/${t.conversationId}/messages?limit=200`),
      stats: await get('/api/v1/stats'),
    };
  }

  it("answers 404 on every route for another organization's ids and changes nothing", async () => {
    const before = await snapshotOf(b);
    const key = a.org.key;
    const attempts: Array<[string, string, unknown?]> = [
      ['GET', `/api/v1/users/${b.userId}`],
      ['PATCH', `/api/v1/users/${b.userId}`, { name: 'taken over' }],
      ['DELETE', `/api/v1/users/${b.userId}`],
      ['DELETE', `/api/v1/api-keys/${b.keyId}`],
      ['POST', '/api/v1/api-keys', { name: 'x', role: 'member', userId: b.userId }],
      ['GET', `/api/v1/agents/${b.agentId}`],
      ['PATCH', `/api/v1/agents/${b.agentId}`, { name: 'taken over' }],
      ['DELETE', `/api/v1/agents/${b.agentId}`],
      ['POST', '/api/v1/agents', { name: 'child', subAgentIds: [b.agentId] }],
      ['POST', '/api/v1/conversations', { agentId: b.agentId }],
      ['POST', '/api/v1/conversations', { agentId: a.agentId, userId: b.userId }],
      ['GET', `/api/v1/conversations/${b.conversationId}`],
      ['PATCH', `/api/v1/conversations/${b.conversationId}`, { title: 'taken over' }],
      ['DELETE', `/api/v1/conversations/${b.conversationId}`],
      ['GET', `/api/v1/conversations/${b.conversationId}/messages`],
      ['POST', `/api/v1/conversations/${b.conversationId}/messages`, { role: 'user', content: 'injected' }],
      ['GET', `/api/v1/conversations/${b.conversationId}/events`],
      ['GET', `/api/v1/messages/${b.messageId}`],
      ['POST', `/api/v1/messages/${b.streamingMessageId}/chunks`, { delta: 'injected' }],
      ['POST', `/api/v1/messages/${b.streamingMessageId}/complete`, {}],
    ];
    for (const [method, path, body] of attempts) {
      const res = await api.request(method, path, { key, body });
      expect([method, path, res.status]).toEqual([method, path, 404]);
      expectProblem(res, 404);
    }
    expect(await snapshotOf(b)).toEqual(before);
  });

  it("never lists another organization's rows", async () => {
    const key = a.org.key;
    const ids = (res: { body: { data: Array<{ id: string }> } }) => res.body.data.map((x) => x.id);
    expect(ids(await api.get('/api/v1/users?limit=200', key))).not.toContain(b.userId);
    expect(ids(await api.get('/api/v1/api-keys?limit=200', key))).not.toContain(b.keyId);
    expect(ids(await api.get('/api/v1/agents?includeInactive=true&limit=200', key))).not.toContain(b.agentId);
    expect(ids(await api.get('/api/v1/conversations?limit=200', key))).not.toContain(b.conversationId);
    expect(ids(await api.get(`/api/v1/conversations?agentId=${b.agentId}`, key))).toEqual([]);
    expect((await api.get('/api/v1/organization', key)).body.id).toBe(a.org.id);
  });

  it('row-level security hides and refuses other organizations even to SQL without a filter', async () => {
    const prisma = api.prisma;
    await prisma.tenantTransaction(a.org.id, async (tx) => {
      const rows = await tx.$queryRaw<Array<{ organization_id: string }>>`select distinct organization_id::text from conversations`;
      expect(rows.map((r) => r.organization_id)).toEqual([a.org.id]);
      const keys = await tx.$queryRaw<Array<{ n: number }>>`select count(*)::int as n from api_keys where organization_id = ${b.org.id}::uuid`;
      expect(keys[0].n).toBe(0);
      const updated = await tx.$executeRaw`update agents set name = 'taken over' where id = ${b.agentId}::uuid`;
      expect(updated).toBe(0);
    });
    await expect(
      prisma.tenantTransaction(a.org.id, (tx) =>
        tx.$executeRaw(Prisma.sql`insert into agents (id, organization_id, name, updated_at) values (gen_random_uuid(), ${b.org.id}::uuid, 'planted', now())`),
      ),
    ).rejects.toThrow(/row-level security/);
    // The API's transactions run as a role that cannot bypass the policies.
    await prisma.transaction(async (tx) => {
      await enterTenant(tx, a.org.id);
      const [role] = await tx.$queryRaw<Array<{ bypass: boolean }>>`
        select rolsuper or rolbypassrls as bypass from pg_roles where rolname = current_user`;
      expect(role.bypass).toBe(false);
    });
    expect((await api.get(`/api/v1/agents/${b.agentId}`, b.org.key)).body.name).not.toBe('taken over');
  });
});
