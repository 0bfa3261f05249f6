import { expectProblem, TestApi, type TestOrg } from './support/api-harness';

const b64 = (text: string) => Buffer.from(text).toString('base64');

/** The LangGraph checkpoint routes over real HTTP (what @agenthub/langgraph's AgentHubSaver calls). */
describe('LangGraph checkpoints', () => {
  let api: TestApi;
  let org: TestOrg;

  beforeAll(async () => {
    api = await TestApi.start();
    org = await api.createOrganization('langgraph');
  });
  afterAll(() => api.close());

  const put = (thread: string, id: string, body: Record<string, unknown>, key = org.key) =>
    api.request('PUT', `/api/v1/langgraph/threads/${encodeURIComponent(thread)}/checkpoints/${id}`, { key, body });

  it('stores checkpoints with channel values kept once per version, and reads them back newest first with pending writes', async () => {
    const big = b64('x'.repeat(100_000));
    expect((await put('t/1', '0001', { checkpoint: { id: '0001', channel_versions: { messages: '1', big: '1' } }, metadata: { step: 0, source: 'input' }, blobs: [{ channel: 'messages', version: '1', type: 'json', data: b64('["hi"]') }, { channel: 'big', version: '1', type: 'json', data: big }] })).body).toEqual({ threadId: 't/1', checkpointNs: '', checkpointId: '0001' });
    // The next checkpoint moves only `messages`; `big` stays at version 1 and is not sent again.
    await put('t/1', '0002', { parentCheckpointId: '0001', checkpoint: { id: '0002', channel_versions: { messages: '2', big: '1' } }, metadata: { step: 1, source: 'loop' }, blobs: [{ channel: 'messages', version: '2', type: 'json', data: b64('["hi","there"]') }] });
    const writes = await api.request('PUT', `/api/v1/langgraph/threads/t%2F1/checkpoints/0002/writes/task-a`, { key: org.key, body: { writes: [{ idx: 0, channel: 'messages', type: 'json', data: b64('"w"') }] } });
    expect(writes.status).toBe(204);

    const page = await api.get('/api/v1/langgraph/threads/t%2F1/checkpoints', org.key);
    expect(page.body.data.map((c: { checkpointId: string }) => c.checkpointId)).toEqual(['0002', '0001']);
    const [latest, first] = page.body.data;
    expect(latest).toMatchObject({ threadId: 't/1', checkpointNs: '', parentCheckpointId: '0001', metadata: { step: 1, source: 'loop' }, pendingWrites: [{ taskId: 'task-a', idx: 0, channel: 'messages', type: 'json', data: b64('"w"'), taskPath: '' }] });
    const byChannel = (c: { blobs: Array<{ channel: string; data: string }> }) => Object.fromEntries(c.blobs.map((b) => [b.channel, Buffer.from(b.data, 'base64').toString()]));
    expect(byChannel(latest)).toEqual({ messages: '["hi","there"]', big: 'x'.repeat(100_000) });
    expect(byChannel(first)).toEqual({ messages: '["hi"]', big: 'x'.repeat(100_000) });
    expect(first.pendingWrites).toEqual([]);
    const blobs = await api.prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM langgraph_checkpoint_blobs WHERE organization_id = ${org.id}::uuid AND channel = 'big'`;
    expect(blobs[0].n).toBe(1);

    expect((await api.get('/api/v1/langgraph/threads/t%2F1/checkpoints?limit=1', org.key)).body.data.map((c: { checkpointId: string }) => c.checkpointId)).toEqual(['0002']);
    expect((await api.get('/api/v1/langgraph/threads/t%2F1/checkpoints?before=0002', org.key)).body.data.map((c: { checkpointId: string }) => c.checkpointId)).toEqual(['0001']);
    expect((await api.get('/api/v1/langgraph/threads/t%2F1/checkpoints?checkpointId=0001', org.key)).body.data).toHaveLength(1);
  });

  it('searches by metadata across threads, pages with a cursor, deletes a thread with everything in it', async () => {
    const own = await api.createOrganization('langgraph-search');
    for (const [thread, id, source] of [['s1', 'a1', 'input'], ['s1', 'a2', 'loop'], ['s2', 'b1', 'loop'], ['s2', 'b2', 'loop']] as const) {
      await put(thread, id, { checkpointNs: thread === 's2' ? 'sub' : '', checkpoint: { id, channel_versions: {} }, metadata: { source, tags: ['x'] } }, own.key);
    }
    const search = async (body: Record<string, unknown>) => (await api.post('/api/v1/langgraph/checkpoints/search', own.key, body)).body;
    expect((await search({ filter: { source: 'loop' } })).data.map((c: { checkpointId: string }) => c.checkpointId)).toEqual(['b2', 'b1', 'a2']);
    expect((await search({ filter: { source: 'loop' }, checkpointNs: 'sub', threadId: 's2' })).data).toHaveLength(2);
    const first = await search({ filter: { tags: ['x'] }, limit: 3 });
    expect(first.data).toHaveLength(3);
    const rest = await search({ filter: { tags: ['x'] }, limit: 3, cursor: first.nextCursor });
    expect([...first.data, ...rest.data].map((c: { checkpointId: string }) => c.checkpointId)).toEqual(['b2', 'b1', 'a2', 'a1']);
    expect(rest.nextCursor).toBeNull();

    expect((await api.delete('/api/v1/langgraph/threads/s2', own.key)).status).toBe(204);
    expect((await search({ threadId: 's2' })).data).toEqual([]);
    expectProblem(await api.delete('/api/v1/langgraph/threads/s2', own.key), 404);
    expect((await search({ threadId: 's1' })).data).toHaveLength(2);
  });

  it('keeps organizations apart, lets viewers read only, and refuses bad input with problem+json', async () => {
    await put('shared-name', 'c1', { checkpoint: { id: 'c1' } });
    const other = await api.createOrganization('langgraph-other');
    expect((await api.get('/api/v1/langgraph/threads/shared-name/checkpoints', other.key)).body.data).toEqual([]);
    expectProblem(await api.delete('/api/v1/langgraph/threads/shared-name', other.key), 404);
    const viewer = await api.createKey(org, 'viewer');
    expect((await api.get('/api/v1/langgraph/threads/shared-name/checkpoints', viewer)).body.data).toHaveLength(1);
    expect((await api.post('/api/v1/langgraph/checkpoints/search', viewer, { threadId: 'shared-name' })).body.data).toHaveLength(1);
    // Thread ids are text, percent-encoded in the path (a path segment holds up to 100 characters so encoded).
    const long = `user:${'7'.repeat(36)}:session:${'é'.repeat(3)}${'x'.repeat(30)}`;
    const longPut = await put(long, 'l1', { checkpoint: { id: 'l1' } });
    expect(longPut.text).toContain('"checkpointId":"l1"');
    expect((await api.get(`/api/v1/langgraph/threads/${encodeURIComponent(long)}/checkpoints`, org.key)).body.data.map((c: { threadId: string }) => c.threadId)).toEqual([long]);
    expectProblem(await put('shared-name', 'c2', { checkpoint: { id: 'c2' } }, viewer), 403);
    expectProblem(await put('shared-name', 'c3', { checkpoint: 'not an object' }), 400);
    expectProblem(await put('shared-name', 'c3', { checkpoint: {}, blobs: [{ channel: 'x', version: '1', type: 'json', data: 'not base64!' }] }), 400);
    expectProblem(await api.post('/api/v1/langgraph/checkpoints/search', org.key, { cursor: 'nope' }), 400);
    expect((await api.get('/api/v1/langgraph/threads/shared-name/checkpoints', org.key)).body.data).toHaveLength(1);
  });

  it('store: a batch in one transaction, TTLs that a read restarts (or not), expired items invisible, bad batches refused whole', async () => {
    const own = await api.createOrganization('langgraph-store');
    const batch = (operations: unknown[]) => api.post('/api/v1/langgraph/store/batch', own.key, { operations });
    const put = await batch([
      { op: 'put', namespace: ['users', 'u1'], key: 'a', value: { v: 1 }, ttlMinutes: 10 },
      { op: 'put', namespace: ['users', 'u1'], key: 'b', value: { v: 2 }, ttlMinutes: 10 },
      { op: 'put', namespace: ['users', 'u1'], key: 'c', value: { v: 3 } },
    ]);
    expect(put.body).toEqual({ results: [{}, {}, {}] });
    const expiresAt = async (key: string) =>
      (await api.prisma.$queryRaw<Array<{ s: number | null }>>`SELECT extract(epoch FROM expires_at - now())::float8 AS s FROM langgraph_store_items WHERE organization_id = ${own.id}::uuid AND key = ${key}`)[0]?.s;
    await api.prisma.$executeRaw`UPDATE langgraph_store_items SET expires_at = now() + interval '5 seconds' WHERE organization_id = ${own.id}::uuid AND key IN ('a', 'b')`;
    const read = await batch([
      { op: 'get', namespace: ['users', 'u1'], key: 'a' },
      { op: 'get', namespace: ['users', 'u1'], key: 'b', refreshTtl: false },
    ]);
    expect(read.body.results.map((r: { item: { value: unknown } }) => r.item.value)).toEqual([{ v: 1 }, { v: 2 }]);
    expect(await expiresAt('a')).toBeGreaterThan(500); // restarted: 10 minutes again
    expect(await expiresAt('b')).toBeLessThan(10); // left alone
    expect(await expiresAt('c')).toBeNull();
    await api.prisma.$executeRaw`UPDATE langgraph_store_items SET expires_at = now() - interval '1 second' WHERE organization_id = ${own.id}::uuid AND key = 'b'`;
    const after = await batch([
      { op: 'get', namespace: ['users', 'u1'], key: 'b' },
      { op: 'search', namespacePrefix: ['users'] },
      { op: 'listNamespaces' },
    ]);
    expect(after.body.results[0]).toEqual({ item: null });
    expect(after.body.results[1].items.map((i: { key: string }) => i.key)).toEqual(['a', 'c']);
    expect(after.body.results[2]).toEqual({ namespaces: [['users', 'u1']] });

    expectProblem(await batch([{ op: 'put', namespace: ['ok'], key: 'x', value: { v: 1 } }, { op: 'put', namespace: ['bad.label'], key: 'y', value: {} }]), 400);
    expectProblem(await batch([{ op: 'nope' }]), 400);
    expect((await batch([{ op: 'get', namespace: ['ok'], key: 'x' }])).body.results[0]).toEqual({ item: null });
    const viewer = await api.createKey(own, 'viewer');
    expectProblem(await api.post('/api/v1/langgraph/store/batch', viewer, { operations: [{ op: 'put', namespace: ['v'], key: 'k', value: {} }] }), 403);
  });
});
