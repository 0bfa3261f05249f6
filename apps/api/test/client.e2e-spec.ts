import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AgentHubError, createAgentHubClient, decodeEmbedding, paginate, type AgentHubClient } from '@agenthub/client';
import { TEST_ADMIN_TOKEN, TestApi } from './support/api-harness';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** The client's generator (libs/client/codegen) run on `document` in a child process, as `client:generate` runs it. */
function generatedTypes(document: object): string {
  const run = spawnSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), '--tsconfig', 'libs/client/tsconfig.json', 'libs/client/codegen/render.ts'],
    { cwd: ROOT, input: JSON.stringify(document), encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  if (run.status !== 0) throw new Error(`codegen failed: ${run.stderr}`);
  return run.stdout;
}

/** A TCP proxy in front of the API whose `cut()` drops every open connection, as a flaky network would. */
async function cuttingProxy(baseUrl: string) {
  const target = new URL(baseUrl);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    for (const [a, b] of [[client, upstream], [upstream, client]] as const) {
      a.pipe(b);
      a.on('error', () => b.destroy());
      sockets.add(a);
      a.on('close', () => sockets.delete(a));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    cut: () => sockets.forEach((s) => s.destroy()),
    close: () => new Promise((resolve) => (sockets.forEach((s) => s.destroy()), server.close(resolve))),
  };
}

/** @agenthub/client against the real API over HTTP: the generated types, errors, idempotency, paging, retries. */
describe('@agenthub/client against the API', () => {
  let api: TestApi;
  let hub: AgentHubClient;
  let orgKey: string;

  beforeAll(async () => {
    api = await TestApi.start();
    const admin = createAgentHubClient({ baseUrl: api.baseUrl, apiKey: TEST_ADMIN_TOKEN });
    const { data } = await admin.POST('/api/v1/organizations', { body: { name: 'client-e2e', ownerEmail: 'owner@client-e2e.test' } });
    orgKey = data!.apiKey.key;
    hub = createAgentHubClient({ baseUrl: api.baseUrl, apiKey: orgKey });
  });
  afterAll(() => api.close());

  it('its generated types are what the running API serves (regenerate with `npx nx run client:generate` when this fails)', async () => {
    const served = (await api.get('/api/docs-json')).body as object;
    const committed = fs.readFileSync(path.join(ROOT, 'libs/client/src/generated/openapi.ts'), 'utf8');
    expect(generatedTypes(served)).toBe(committed);
  });

  it('creates and reads with typed bodies; a create retried with its Idempotency-Key is done once', async () => {
    const { data: agent } = await hub.POST('/api/v1/agents', { body: { name: 'support-bot', tools: ['search'] }, headers: { 'idempotency-key': 'agent-once' } });
    expect(agent).toMatchObject({ name: 'support-bot', tools: ['search'] });
    const { data: again } = await hub.POST('/api/v1/agents', { body: { name: 'support-bot', tools: ['search'] }, headers: { 'idempotency-key': 'agent-once' } });
    expect(again!.id).toBe(agent!.id);
    const { data: read } = await hub.GET('/api/v1/agents/{id}', { params: { path: { id: agent!.id } } });
    expect(read).toEqual(agent);
    const { data: conversation } = await hub.POST('/api/v1/conversations', { body: { agentId: agent!.id, title: 'hello' } });
    const { data: appended } = await hub.POST('/api/v1/conversations/{id}/messages', {
      params: { path: { id: conversation!.id } },
      body: { messages: [{ role: 'user', content: 'Hi' }, { role: 'assistant', content: 'Hello!' }] },
    });
    expect(appended!.data.map((m) => [m.seq, m.role, m.content])).toEqual([[1, 'user', 'Hi'], [2, 'assistant', 'Hello!']]);
  });

  it('throws problem+json answers as AgentHubError, with the fields and the request id', async () => {
    const missing = await hub.GET('/api/v1/agents/{id}', { params: { path: { id: '00000000-0000-4000-8000-000000000000' } } }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AgentHubError);
    expect(missing).toMatchObject({ status: 404, requestId: expect.any(String) });
    const invalid = await hub.POST('/api/v1/agents', { body: { name: '' } }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 400, errors: [expect.objectContaining({ path: 'name' })] });
  });

  it('walks every page of a list', async () => {
    for (let i = 0; i < 7; i++) await hub.POST('/api/v1/users', { body: { externalId: `pager-${i}`, name: `User ${i}` } });
    const seen: string[] = [];
    for await (const user of paginate((cursor) => hub.GET('/api/v1/users', { params: { query: { cursor, limit: 3 } } }))) seen.push(user.externalId ?? '');
    expect(seen.filter((id) => id.startsWith('pager-')).sort()).toEqual(Array.from({ length: 7 }, (_, i) => `pager-${i}`));
  });

  it('follows live events across a dropped connection, resuming with Last-Event-ID: nothing missed, nothing twice', async () => {
    const { data: agent } = await hub.POST('/api/v1/agents', { body: { name: 'live-bot' } });
    const { data: conversation } = await hub.POST('/api/v1/conversations', { body: { agentId: agent!.id } });
    const id = conversation!.id;
    const say = (content: string) => hub.POST('/api/v1/conversations/{id}/messages', { params: { path: { id } }, body: { role: 'user', content } });
    const proxy = await cuttingProxy(api.baseUrl);
    const stop = new AbortController();
    try {
      const viaProxy = createAgentHubClient({ baseUrl: proxy.baseUrl, apiKey: orgKey });
      // From the start of the conversation (no event yet), so that nothing depends on when the stream connects.
      const events = viaProxy.events(id, { signal: stop.signal, reconnectMs: 50, lastEventId: 0 });
      const seen: Array<{ id: number; type: string; content?: string }> = [];
      const next = async () => {
        const { value } = await events.next();
        const event = value as { id: number; type: string; data: { content?: string } };
        seen.push({ id: event.id, type: event.type, content: event.data.content });
      };
      await say('one');
      await next();
      await say('two');
      await next();
      proxy.cut(); // the subscription's connection drops…
      await say('three'); // …while these are written
      await say('four');
      await next();
      await next();
      expect(seen.map((e) => [e.type, e.content])).toEqual([
        ['message.created', 'one'],
        ['message.created', 'two'],
        ['message.created', 'three'],
        ['message.created', 'four'],
      ]);
      expect(seen.map((e) => e.id)).toEqual([seen[0].id, seen[0].id + 1, seen[0].id + 2, seen[0].id + 3]);
      stop.abort();
      expect((await events.next()).done).toBe(true);
    } finally {
      stop.abort();
      await proxy.close();
    }
  });

  it('ends a subscription to a conversation that does not exist with an AgentHubError 404', async () => {
    const events = hub.events('00000000-0000-4000-8000-000000000000');
    await expect(events.next()).rejects.toMatchObject({ name: 'AgentHubError', status: 404 });
  });

  it('sends embeddings compactly and gets the same stored values back, as numbers or as base64', async () => {
    const dimensions = api.config.EMBEDDING_DIMENSIONS;
    const values = Array.from({ length: dimensions }, (_, i) => Math.sin(i + 1) / 3);
    const { data: memory } = await hub.POST('/api/v1/memories', { body: { content: 'compact', embedding: values } });
    const float32 = Array.from(Float32Array.from(values));
    const { data: asNumbers } = await hub.GET('/api/v1/memories/{id}', { params: { path: { id: memory!.id } } });
    expect(asNumbers!.embedding).toEqual(float32);
    const { data: asBase64 } = await hub.GET('/api/v1/memories/{id}', { params: { path: { id: memory!.id }, query: { embeddingFormat: 'base64' } } });
    expect(Array.from(decodeEmbedding(asBase64!.embedding as string))).toEqual(float32);
    const { data: hits } = await hub.POST('/api/v1/memories/search', { body: { embedding: values, k: 1 } });
    expect(hits!.data[0]).toMatchObject({ id: memory!.id });
  });

  it("waits out the API's 429s (Retry-After) instead of failing", async () => {
    const limited = await TestApi.start({ RATE_LIMIT_MAX: '2', RATE_LIMIT_WINDOW_SECONDS: '1' });
    try {
      const admin = createAgentHubClient({ baseUrl: limited.baseUrl, apiKey: TEST_ADMIN_TOKEN, retries: 5 });
      const { data } = await admin.POST('/api/v1/organizations', { body: { name: 'client-429', ownerEmail: 'owner@client-429.test' } });
      const client = createAgentHubClient({ baseUrl: limited.baseUrl, apiKey: data!.apiKey.key, retries: 5 });
      // Six at once against two a second: at least three fall into one window, whichever way the windows cut.
      const raw = await Promise.all(Array.from({ length: 6 }, () => limited.get('/api/v1/organization', data!.apiKey.key)));
      expect(raw.map((r) => r.status)).toContain(429);
      const answers = await Promise.all(Array.from({ length: 4 }, () => client.GET('/api/v1/organization')));
      expect(answers.map((a) => a.data!.id)).toEqual(Array(4).fill(data!.organization.id));
    } finally {
      await limited.close();
    }
  });
});
