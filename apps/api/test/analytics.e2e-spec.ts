import { randomUUID } from 'node:crypto';
import { agentBody, conversationBody, messageBody, userBody } from '@agenthub/db/testing';
import { expectProblem, TestApi, type TestOrg } from './support/api-harness';

/**
 * Analytics: events ingested in batches, and usage per hour or day and agent, computed from the hourly rollup
 * (usage_rollups, fed by triggers through usage_rollup_deltas) and checked against known data.
 */
describe('analytics over HTTP', () => {
  let api: TestApi;
  let org: TestOrg;
  let agentA: string;
  let agentB: string;
  let userId: string;

  beforeAll(async () => {
    api = await TestApi.start();
    org = await api.createOrganization('analytics');
    agentA = (await api.post('/api/v1/agents', org.key, agentBody())).body.id;
    agentB = (await api.post('/api/v1/agents', org.key, agentBody())).body.id;
    userId = (await api.post('/api/v1/users', org.key, userBody())).body.id;
  });
  afterAll(() => api.close());

  const usage = (query: string, key = org.key) => api.get(`/api/v1/analytics/usage?${query}`, key);
  const row = (bucket: string, agentId: string | null, counts: Partial<Record<'conversations' | 'messages' | 'tokens' | 'events', number>>) => ({
    bucket,
    agentId,
    conversations: 0,
    messages: 0,
    tokens: 0,
    events: 0,
    ...counts,
  });

  it('ingests a batch (202) and counts events per hour and per day, by agent', async () => {
    const res = await api.post('/api/v1/events', org.key, {
      events: [
        { type: 'tool.called', agentId: agentA, userId, data: { tool: 'search' }, occurredAt: '2026-03-01T10:05:00.000Z' },
        { type: 'tool.called', agentId: agentA, occurredAt: '2026-03-01T10:59:59.999Z' },
        { type: 'tool.called', agentId: agentA, occurredAt: '2026-03-01T11:00:00.000Z' },
        { type: 'page.viewed', occurredAt: '2026-03-01T23:30:00.000Z' },
        { type: 'tool.called', agentId: agentB, occurredAt: '2026-03-02T00:00:00.000Z' },
        { type: 'tool.called', agentId: agentB, occurredAt: '2026-03-03T00:00:00.000Z' }, // outside the range below
      ],
    });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ accepted: 6 });

    const hourly = await usage('from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z&interval=hour');
    expect(hourly.body.data).toEqual([
      row('2026-03-01T10:00:00.000Z', agentA, { events: 2 }),
      row('2026-03-01T11:00:00.000Z', agentA, { events: 1 }),
      row('2026-03-01T23:00:00.000Z', null, { events: 1 }),
      row('2026-03-02T00:00:00.000Z', agentB, { events: 1 }),
    ]);
    const daily = await usage('from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z&interval=day');
    expect(daily.body.data).toEqual([
      row('2026-03-01T00:00:00.000Z', agentA, { events: 3 }),
      row('2026-03-01T00:00:00.000Z', null, { events: 1 }),
      row('2026-03-02T00:00:00.000Z', agentB, { events: 1 }),
    ]);
    const oneAgent = await usage(`from=2026-03-01T00:00:00Z&to=2026-03-04T00:00:00Z&interval=day&agentId=${agentB}`);
    expect(oneAgent.body.data).toEqual([row('2026-03-02T00:00:00.000Z', agentB, { events: 1 }), row('2026-03-03T00:00:00.000Z', agentB, { events: 1 })]);
    // A range that starts and ends inside an hour: the whole hours from the rollup, the edges from the raw rows.
    const partial = await usage('from=2026-03-01T10:30:00Z&to=2026-03-01T11:00:00.001Z&interval=hour');
    expect(partial.body.data).toEqual([row('2026-03-01T10:00:00.000Z', agentA, { events: 1 }), row('2026-03-01T11:00:00.000Z', agentA, { events: 1 })]);
  });

  it('counts conversations, messages and tokens (also tokens set when a stream completes) from the rollup', async () => {
    const day = (d: Date) => `${d.toISOString().slice(0, 10)}T00:00:00.000Z`;
    const from = new Date(Date.now() - 2 * 86_400_000).toISOString();
    const to = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const fresh = await api.createOrganization('analytics-live');
    const agent = (await api.post('/api/v1/agents', fresh.key, agentBody())).body.id;
    const before = new Date();
    for (let c = 0; c < 3; c++) {
      const conversation = (await api.post('/api/v1/conversations', fresh.key, conversationBody(agent))).body.id;
      const res = await api.post(`/api/v1/conversations/${conversation}/messages`, fresh.key, {
        messages: [messageBody({ tokensUsed: 10 }), messageBody({ role: 'assistant', tokensUsed: 32 }), messageBody({ role: 'assistant', content: '', isStreaming: true })],
      });
      await api.post(`/api/v1/messages/${res.body.data[2].id}/complete`, fresh.key, { tokensUsed: 100 });
    }
    await api.post('/api/v1/events', fresh.key, { events: Array.from({ length: 5 }, () => ({ type: 'ping', agentId: agent })) });
    const after = new Date();

    const res = await usage(`from=${from}&to=${to}&interval=day`, fresh.key);
    expect(res.status).toBe(200);
    const total = res.body.data.reduce(
      (acc: Record<string, number>, r: Record<string, number>) => ({
        conversations: acc.conversations + r.conversations,
        messages: acc.messages + r.messages,
        tokens: acc.tokens + r.tokens,
        events: acc.events + r.events,
      }),
      { conversations: 0, messages: 0, tokens: 0, events: 0 },
    );
    expect(total).toEqual({ conversations: 3, messages: 9, tokens: 3 * (10 + 32 + 100), events: 5 });
    expect(res.body.data.every((r: { agentId: string; bucket: string }) => r.agentId === agent && [day(before), day(after)].includes(r.bucket))).toBe(true);

    // Read from the rollup: the read folded every pending delta of the organization into usage_rollups.
    expect(await api.prisma.usageRollupDelta.count({ where: { organizationId: fresh.id } })).toBe(0);
    const rolled = await api.prisma.usageRollup.findMany({ where: { organizationId: fresh.id } });
    expect(rolled.reduce((n, r) => n + Number(r.tokens), 0)).toBe(3 * 142);
    // More activity lands in the deltas and is folded by the next read.
    await api.post('/api/v1/events', fresh.key, { events: [{ type: 'ping', agentId: agent }] });
    expect(await api.prisma.usageRollupDelta.count({ where: { organizationId: fresh.id } })).toBe(1);
    const again = await usage(`from=${from}&to=${to}&interval=day`, fresh.key);
    expect(again.body.data.reduce((n: number, r: { events: number }) => n + r.events, 0)).toBe(6);
  });

  it("refuses other organizations' ids with a 404 naming each event, and bad input with a 400, storing nothing", async () => {
    const other = await api.createOrganization('analytics-other');
    const theirAgent = (await api.post('/api/v1/agents', other.key, agentBody())).body.id;
    const stored = () => api.prisma.analyticsEvent.count({ where: { organizationId: org.id } });
    const before = await stored();
    const foreign = await api.post('/api/v1/events', org.key, { events: [{ type: 'ok', agentId: agentA }, { type: 'x', agentId: theirAgent }, { type: 'y', userId: randomUUID() }] });
    expect(expectProblem(foreign, 404).errors?.map((e) => e.path)).toEqual(['events.1.agentId', 'events.2.userId']);
    const cases: Array<[unknown, string]> = [
      [{ events: [] }, 'events'],
      [{ events: Array.from({ length: 10_001 }, () => ({ type: 'x' })) }, 'events'],
      [{ events: [{ type: '' }] }, 'events.0.type'],
      [{ events: [{ type: 'x', occurredAt: 'yesterday' }] }, 'events.0.occurredAt'],
      [{ events: [{ type: 'x', agentId: 'nope' }] }, 'events.0.agentId'],
      [{ events: [{ type: 'x', data: [1] }] }, 'events.0.data'],
      [{ events: [{ type: 'x\u0000y' }] }, 'events.0.type'],
    ];
    for (const [body, path] of cases) {
      const problem = expectProblem(await api.post('/api/v1/events', org.key, body), 400);
      expect(problem.errors?.map((e) => e.path)).toContain(path);
    }
    expect(await stored()).toBe(before);

    expectProblem(await usage('interval=week'), 400);
    expectProblem(await usage('from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z'), 400);
    expectProblem(await usage('from=yesterday'), 400);
    expectProblem(await usage('agentId=nope'), 400);
    expectProblem(await usage('from=2000-01-01T00:00:00Z&to=2026-01-01T00:00:00Z&interval=hour'), 400);
    // Another organization's agent simply has no usage here.
    expect((await usage(`from=2026-03-01T00:00:00Z&to=2026-03-03T00:00:00Z&agentId=${theirAgent}`)).body.data).toEqual([]);
    expectProblem(await api.post('/api/v1/events', await api.createKey(org, 'viewer'), { events: [{ type: 'x' }] }), 403);
  });
});
