import pg from 'pg';
import { agentBody, conversationBody, describeOnPostgres, messageBody, testDatabaseDirectUrl } from '@agenthub/db/testing';
import { expectProblem, TestApi, type TestOrg } from './support/api-harness';

describe('messages over HTTP', () => {
  let api: TestApi;
  let org: TestOrg;

  beforeAll(async () => {
    api = await TestApi.start();
    org = await api.createOrganization('messages');
  });
  afterAll(() => api.close());

  async function newConversation(): Promise<string> {
    const agent = await api.post('/api/v1/agents', org.key, agentBody());
    const conversation = await api.post('/api/v1/conversations', org.key, conversationBody(agent.body.id));
    expect(conversation.status).toBe(201);
    return conversation.body.id;
  }

  async function allMessages(conversationId: string) {
    const out: Array<{ seq: number; content: string; clientId: string | null; id: string }> = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { data: typeof out; nextCursor: string | null } } = await api.get(`/api/v1/conversations/${conversationId}/messages?limit=200${cursor ? `&cursor=${cursor}` : ''}`, org.key);
      expect(res.status).toBe(200);
      out.push(...res.body.data);
      cursor = res.body.nextCursor;
    } while (cursor);
    return out;
  }

  it('gives gap-free seq in request order to 50 concurrent writers, counters consistent', async () => {
    const conversationId = await newConversation();
    const writers = 50;
    const results = await Promise.all(
      Array.from({ length: writers }, (_, w) =>
        api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, {
          messages: [messageBody({ content: `w${w}-a` }), messageBody({ content: `w${w}-b`, role: 'assistant' })],
        }),
      ),
    );
    for (const res of results) expect(res.status).toBe(201);
    const stored = await allMessages(conversationId);
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: writers * 2 }, (_, i) => i + 1));
    // each request's two messages are adjacent and in request order
    for (const res of results) {
      const [first, second] = res.body.data;
      expect(second.seq).toBe(first.seq + 1);
      expect(first.content.replace(/-a$/, '')).toBe(second.content.replace(/-b$/, ''));
    }
    const conversation = await api.get(`/api/v1/conversations/${conversationId}`, org.key);
    expect(conversation.body.messageCount).toBe(writers * 2);
    const newest = stored[stored.length - 1] as unknown as { createdAt: string };
    expect(conversation.body.lastMessageAt).toBe(newest.createdAt);
  });

  it('returns the stored message for a repeated clientId, also under concurrency', async () => {
    const conversationId = await newConversation();
    const first = await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody({ clientId: 'c-1', content: 'original' }));
    expect(first.status).toBe(201);
    const again = await Promise.all(
      Array.from({ length: 12 }, () =>
        api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody({ clientId: 'c-2', content: 'raced' })),
      ),
    );
    for (const res of again) expect(res.status).toBe(201);
    expect(new Set(again.map((r) => r.body.data[0].id)).size).toBe(1);
    const replay = await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody({ clientId: 'c-1', content: 'changed' }));
    expect(replay.body.data[0]).toEqual(first.body.data[0]);
    const stored = await allMessages(conversationId);
    expect(stored.map((m) => m.clientId)).toEqual(['c-1', 'c-2']);
    expect((await api.get(`/api/v1/conversations/${conversationId}`, org.key)).body.messageCount).toBe(2);
  });

  it('honours Idempotency-Key: same body replays, another body is a 409, concurrent duplicates write once', async () => {
    const conversationId = await newConversation();
    const path = `/api/v1/conversations/${conversationId}/messages`;
    const body = { messages: [messageBody(), messageBody()] };
    const first = await api.post(path, org.key, body, { headers: { 'idempotency-key': 'append-1' } });
    const replay = await api.post(path, org.key, body, { headers: { 'idempotency-key': 'append-1' } });
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expectProblem(await api.post(path, org.key, { messages: [messageBody()] }, { headers: { 'idempotency-key': 'append-1' } }), 409);

    const raced = await Promise.all(
      Array.from({ length: 20 }, () => api.post(path, org.key, { role: 'user', content: 'once' }, { headers: { 'idempotency-key': 'append-2' } })),
    );
    for (const res of raced) expect(res.status).toBe(201);
    expect(new Set(raced.map((r) => r.body.data[0].id)).size).toBe(1);
    expect((await allMessages(conversationId)).length).toBe(3);

    // the same key on another route is another key
    const agent = await api.post('/api/v1/agents', org.key, agentBody(), { headers: { 'idempotency-key': 'append-1' } });
    expect(agent.status).toBe(201);
  });

  it('streams: chunks append in order, complete ends it, chunks after completion are a 409', async () => {
    const conversationId = await newConversation();
    const created = await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody({ role: 'assistant', content: '', isStreaming: true }));
    const id = created.body.data[0].id;
    expect(created.body.data[0]).toMatchObject({ isStreaming: true, isComplete: false, content: '' });
    for (const delta of ['Hel', 'lo, ', 'wörld']) {
      const res = await api.post(`/api/v1/messages/${id}/chunks`, org.key, { delta });
      expect(res.status).toBe(200);
    }
    const done = await api.post(`/api/v1/messages/${id}/complete`, org.key, { tokensUsed: 42 });
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ content: 'Hello, wörld', isStreaming: false, isComplete: true, tokensUsed: 42 });
    expectProblem(await api.post(`/api/v1/messages/${id}/chunks`, org.key, { delta: 'late' }), 409);
    expect((await api.get(`/api/v1/messages/${id}`, org.key)).body.content).toBe('Hello, wörld');
    // complete without a body is fine
    const other = await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, messageBody({ isStreaming: true }));
    expect((await api.request('POST', `/api/v1/messages/${other.body.data[0].id}/complete`, { key: org.key })).status).toBe(200);
  });

  it('pages messages by seq in both directions with afterSeq/beforeSeq', async () => {
    const conversationId = await newConversation();
    await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, {
      messages: Array.from({ length: 7 }, (_, i) => messageBody({ content: `m${i + 1}` })),
    });
    const page1 = await api.get(`/api/v1/conversations/${conversationId}/messages?limit=3`, org.key);
    expect(page1.body.data.map((m: { seq: number }) => m.seq)).toEqual([1, 2, 3]);
    const page2 = await api.get(`/api/v1/conversations/${conversationId}/messages?limit=3&cursor=${page1.body.nextCursor}`, org.key);
    expect(page2.body.data.map((m: { seq: number }) => m.seq)).toEqual([4, 5, 6]);
    const desc = await api.get(`/api/v1/conversations/${conversationId}/messages?order=desc&beforeSeq=6&limit=2`, org.key);
    expect(desc.body.data.map((m: { seq: number }) => m.seq)).toEqual([5, 4]);
    const after = await api.get(`/api/v1/conversations/${conversationId}/messages?afterSeq=5`, org.key);
    expect(after.body).toEqual({ data: expect.any(Array), nextCursor: null });
    expect(after.body.data.map((m: { seq: number }) => m.seq)).toEqual([6, 7]);
  });

  it('shows each message in a page exactly as the append and GET /messages/:id show it', async () => {
    const conversationId = await newConversation();
    const appended = await api.post(`/api/v1/conversations/${conversationId}/messages`, org.key, {
      messages: [
        messageBody({ content: 'plain' }),
        {
          role: 'tool',
          messageType: 'tool_response',
          content: 'quotes " and \\ backslashes, ünïcødé, a tab\tand a newline\n',
          toolName: 'lookup',
          toolCallId: 'call-1',
          toolArgs: { q: 'order 42', nested: { list: [1, 2.5, null, true], empty: {} } },
          metadata: { source: 'test', n: 3 },
          clientId: 'page-shape-1',
        },
        { role: 'assistant', content: '', model: 'gpt-4o', tokensUsed: 17, isStreaming: true },
      ],
    });
    expect(appended.status).toBe(201);
    const page = await api.get(`/api/v1/conversations/${conversationId}/messages?limit=2`, org.key);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^application\/json/);
    expect(page.body.data).toEqual(appended.body.data.slice(0, 2));
    const rest = await api.get(`/api/v1/conversations/${conversationId}/messages?limit=2&cursor=${page.body.nextCursor}`, org.key);
    expect(rest.body).toEqual({ data: [appended.body.data[2]], nextCursor: null });
    expect((await api.get(`/api/v1/messages/${appended.body.data[1].id}`, org.key)).body).toEqual(page.body.data[1]);
    const newest = await api.get(`/api/v1/conversations/${conversationId}/messages?order=desc&limit=1`, org.key);
    expect(newest.body.data).toEqual([appended.body.data[2]]);
    expect(newest.body.nextCursor).toEqual(expect.any(String));
    // a conversation without messages, and one that is not there
    const empty = await newConversation();
    expect((await api.get(`/api/v1/conversations/${empty}/messages`, org.key)).body).toEqual({ data: [], nextCursor: null });
    expectProblem(await api.get(`/api/v1/conversations/00000000-0000-4000-8000-000000000000/messages`, org.key), 404);
  });

  it('finds messages by clientId across the organization, and deletes one for good', async () => {
    const [a, b] = [await newConversation(), await newConversation()];
    const inA = await api.post(`/api/v1/conversations/${a}/messages`, org.key, { messages: [messageBody({ clientId: 'shared-id' }), messageBody({ clientId: 'only-a' }), messageBody()] });
    const inB = await api.post(`/api/v1/conversations/${b}/messages`, org.key, messageBody({ clientId: 'shared-id' }));
    const found = await api.get('/api/v1/messages?clientId=shared-id', org.key);
    expect(found.status).toBe(200);
    expect(found.body).toEqual({ data: [inA.body.data[0], inB.body.data[0]], nextCursor: null });
    expect((await api.get(`/api/v1/messages?clientId=shared-id&conversationId=${b}`, org.key)).body.data).toEqual([inB.body.data[0]]);
    expect((await api.get('/api/v1/messages?clientId=nobody', org.key)).body).toEqual({ data: [], nextCursor: null });
    expect(expectProblem(await api.get('/api/v1/messages', org.key), 400).errors).toEqual([expect.objectContaining({ path: 'clientId' })]);
    expect(expectProblem(await api.get('/api/v1/messages?clientId=%00abc', org.key), 400).errors).toEqual([expect.objectContaining({ path: 'clientId' })]);
    // another organization sees none of them, and cannot delete them
    const other = await api.createOrganization();
    expect((await api.get('/api/v1/messages?clientId=shared-id', other.key)).body.data).toEqual([]);
    expectProblem(await api.delete(`/api/v1/messages/${inA.body.data[1].id}`, other.key), 404);
    // a viewer cannot delete
    expectProblem(await api.delete(`/api/v1/messages/${inA.body.data[1].id}`, await api.createKey(org, 'viewer')), 403);

    const deleted = await api.delete(`/api/v1/messages/${inA.body.data[1].id}`, org.key);
    expect(deleted.status).toBe(204);
    expectProblem(await api.get(`/api/v1/messages/${inA.body.data[1].id}`, org.key), 404);
    expectProblem(await api.delete(`/api/v1/messages/${inA.body.data[1].id}`, org.key), 404);
    expect((await api.get('/api/v1/messages?clientId=only-a', org.key)).body.data).toEqual([]);
    const left = await allMessages(a);
    expect(left.map((m) => m.seq)).toEqual([1, 3]);
    // seqs are never reused; the clientId is free again
    const next = await api.post(`/api/v1/conversations/${a}/messages`, org.key, messageBody({ clientId: 'only-a' }));
    expect(next.body.data[0].seq).toBe(4);
    await api.delete(`/api/v1/messages/${next.body.data[0].id}`, org.key);
    const afterDelete = (await api.get(`/api/v1/conversations/${a}`, org.key)).body;
    expect(afterDelete.messageCount).toBe(2);
    expect(afterDelete.lastMessageAt).toBe((inA.body.data[2] as { createdAt: string }).createdAt);
    // the newest message deleted: lastMessageAt falls back to the one before; none left, null
    await api.delete(`/api/v1/messages/${inA.body.data[2].id}`, org.key);
    expect((await api.get(`/api/v1/conversations/${a}`, org.key)).body.lastMessageAt).toBe((inA.body.data[0] as { createdAt: string }).createdAt);
    await api.delete(`/api/v1/messages/${inA.body.data[0].id}`, org.key);
    expect((await api.get(`/api/v1/conversations/${a}`, org.key)).body).toMatchObject({ messageCount: 0, lastMessageAt: null });

    const audit = await api.get(`/api/v1/audit-logs?entityType=message&entityId=${inA.body.data[1].id}`, org.key);
    expect(audit.body.data).toEqual([
      expect.objectContaining({ action: 'message.delete', before: { conversationId: a, seq: 2, role: inA.body.data[1].role } }),
    ]);
  });
});

describeOnPostgres('writes of one organization wait only on the rows they touch', () => {
  let api: TestApi;
  let org: TestOrg;
  let locker: pg.Client;
  let watcher: pg.Client;

  beforeAll(async () => {
    api = await TestApi.start();
    org = await api.createOrganization('no-org-lock');
    locker = new pg.Client({ connectionString: testDatabaseDirectUrl() });
    // pg_stat_activity is a snapshot per transaction: the locker cannot watch its own waiters.
    watcher = new pg.Client({ connectionString: testDatabaseDirectUrl() });
    await Promise.all([locker.connect(), watcher.connect()]);
  });
  afterAll(async () => {
    await Promise.all([locker.end(), watcher.end()]);
    await api.close();
  });

  it('a long transaction on one conversation holds up appends to it, not to another conversation of the organization', async () => {
    const agent = await api.post('/api/v1/agents', org.key, agentBody());
    const [a, b] = await Promise.all(
      [1, 2].map(async () => (await api.post('/api/v1/conversations', org.key, conversationBody(agent.body.id))).body.id as string),
    );
    // Both conversations have been written once (keys cached, the audit chain head exists).
    for (const id of [a, b]) expect((await api.post(`/api/v1/conversations/${id}/messages`, org.key, messageBody())).status).toBe(201);
    const lockedAppends = async () =>
      (
        await watcher.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        )
      ).rows[0].n;

    // The long transaction: it holds conversation A's row and, as a sealer would, the organization's audit chain
    // head — what the organization-wide lock used to be.
    await locker.query('begin');
    try {
      await locker.query('select 1 from conversations where id = $1 for update', [a]);
      await locker.query('select 1 from audit_chain_heads where organization_id = $1 for update', [org.id]);
      const toA = api.post(`/api/v1/conversations/${a}/messages`, org.key, messageBody({ content: 'waits for the lock' }));
      const pollUntil = Date.now() + 30_000;
      while ((await lockedAppends()) < 1) {
        if (Date.now() > pollUntil) throw new Error('the append to the locked conversation never waited on its lock');
        await new Promise((r) => setTimeout(r, 20));
      }
      // With A's append parked on the lock, appends to B (same organization) complete: were they held up, this
      // await would not return before the transaction ends, and the test would time out.
      for (let i = 0; i < 3; i++) {
        const toB = await api.post(`/api/v1/conversations/${b}/messages`, org.key, messageBody({ content: `b-${i}` }));
        expect(toB.status).toBe(201);
        expect(toB.body.data[0].seq).toBe(i + 2);
      }
      expect(await lockedAppends()).toBe(1); // A's append still waits
      await locker.query('commit');
      const done = await toA;
      expect(done.status).toBe(201);
      expect(done.body.data[0].seq).toBe(2);
    } finally {
      await locker.query('rollback').catch(() => undefined);
    }
    const verify = await api.get('/api/v1/audit-logs/verify', org.key);
    expect(verify.body.ok).toBe(true);
  });
});
