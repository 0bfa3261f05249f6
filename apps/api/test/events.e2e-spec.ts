import { agentBody, conversationBody, messageBody } from '@agenthub/db/testing';
import { expectProblem, TestApi, type TestOrg } from './support/api-harness';
import { SseClient } from './support/sse-client';

describe('live events (SSE), one replica', () => {
  let api: TestApi;
  let org: TestOrg;
  let conversationId: string;
  const streams: SseClient[] = [];

  beforeAll(async () => {
    api = await TestApi.start();
    org = await api.createOrganization('events');
    const agent = await api.post('/api/v1/agents', org.key, agentBody());
    conversationId = (await api.post('/api/v1/conversations', org.key, conversationBody(agent.body.id))).body.id;
  });
  afterAll(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await api.close();
  });

  const open = async (lastEventId?: string) => {
    const stream = await SseClient.connect(api.baseUrl, `/api/v1/conversations/${conversationId}/events`, org.key, lastEventId);
    streams.push(stream);
    return stream;
  };
  /** The first `count` events, their data parsed; fails with what arrived when they are not all there in 5 s. */
  const received = async (stream: SseClient, count: number) => {
    const events = await stream.waitForCount(count, 5000);
    expect(events.length).toBeGreaterThanOrEqual(count);
    return events.slice(0, count).map((e) => ({ ...e, data: JSON.parse(e.data) }));
  };

  it('delivers message.created, message.delta, message.completed and conversation.updated in order', async () => {
    const stream = await open();
    expect(stream.status).toBe(200);
    expect(stream.contentType).toMatch(/^text\/event-stream/);
    const created = await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody({ role: 'assistant', content: '', isStreaming: true }));
    const messageId = created.body.data[0].id;
    await api.post(`/api/v1/messages/${messageId}/chunks`, org.key, { delta: 'Hi' });
    await api.post(`/api/v1/messages/${messageId}/complete`, org.key, { tokensUsed: 3 });
    await api.patch(`/api/v1/conversations/${conversationId}`, org.key, { title: 'renamed' });
    const events = await received(stream, 4);
    expect(events.map((e) => e.event)).toEqual(['message.created', 'message.delta', 'message.completed', 'conversation.updated']);
    expect(events.map((e) => Number(e.id))).toEqual([1, 2, 3, 4]);
    expect(events[0].data).toMatchObject({ id: messageId, seq: 1, isStreaming: true });
    expect(events[1].data).toEqual({ messageId, seq: 1, delta: 'Hi' });
    expect(events[2].data).toMatchObject({ id: messageId, content: 'Hi', isComplete: true, tokensUsed: 3 });
    expect(events[3].data).toMatchObject({ id: conversationId, title: 'renamed' });
  });

  it('replays what was written meanwhile to a client that reconnects with Last-Event-ID', async () => {
    const first = await open();
    await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody({ content: 'seen' }));
    const [seen] = await received(first, 1);
    await first.close();
    await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, {
      messages: [messageBody({ content: 'missed 1' }), messageBody({ content: 'missed 2' })],
    });
    const again = await open(seen.id!);
    await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody({ content: 'live' }));
    const events = await received(again, 3);
    expect(events.map((e) => e.data.content)).toEqual(['missed 1', 'missed 2', 'live']);
    expect(events.map((e) => Number(e.id))).toEqual([Number(seen.id) + 1, Number(seen.id) + 2, Number(seen.id) + 3]);
    // a replayed clientId is not a new event
    await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody({ clientId: 'once' }));
    await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody({ clientId: 'once' }));
    await api.patch(`/api/v1/conversations/${conversationId}`, org.key, { title: 'after' });
    const more = await received(again, 5);
    expect(more.slice(3).map((e) => e.event)).toEqual(['message.created', 'conversation.updated']);
  });

  it('message.created carries each written message exactly as the append returned it, once and in seq order', async () => {
    const stream = await open();
    const rich = { role: 'tool', content: 'quote " backslash \\ unicode é ✓', messageType: 'tool_response', toolName: 'search', toolCallId: 'call-1', toolArgs: { q: 'x', nested: { n: [1, 2.5, null] } }, metadata: { k: 'v', deep: { a: true } }, clientId: 'exact-1' };
    const single = await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody(rich));
    // A batch with the first clientId again (a replay: no event), a new clientId, and none.
    const batch = await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, {
      messages: [messageBody({ clientId: 'exact-1' }), messageBody({ clientId: 'exact-2', tokensUsed: 7 }), messageBody({ isStreaming: true, content: '' })],
    });
    expect([single.status, batch.status]).toEqual([201, 201]);
    expect(batch.body.data[0]).toEqual(single.body.data[0]);
    const events = await received(stream, 3);
    expect(events.map((e) => e.event)).toEqual(['message.created', 'message.created', 'message.created']);
    expect(events.map((e) => e.data)).toEqual([single.body.data[0], batch.body.data[1], batch.body.data[2]]);
    expect(events.map((e) => Number(e.id) - Number(events[0].id))).toEqual([0, 1, 2]);
  });

  it("answers 404 for another organization's conversation, 401 without a key, 400 for a bad Last-Event-ID", async () => {
    const other = await api.createOrganization('events-other');
    const path = `/api/v1/conversations/${conversationId}/events`;
    const foreign = await SseClient.connect(api.baseUrl, path, other.key);
    const anonymous = await SseClient.connect(api.baseUrl, path, null);
    streams.push(foreign, anonymous);
    expect(foreign.status).toBe(404);
    expect(anonymous.status).toBe(401);
    expectProblem(await api.get(`/api/v1/conversations/${conversationId}/events`, org.key, { headers: { 'last-event-id': 'abc' } }), 400);
  });
});
