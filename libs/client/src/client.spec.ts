import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentHubError, createAgentHubClient, decodeEmbedding, encodeEmbedding, paginate, retryAfterMs, serializeBody, subscribeEvents, takesIdempotencyKey } from './index';

interface Seen {
  method: string;
  url: string;
  authorization?: string;
  idempotencyKey?: string;
}

/**
 * A real HTTP server standing in for the API: `answers` are served in order (the last one repeats); `lose`
 * drops the connection without an answer for that many requests first.
 */
async function stubApi(answers: Array<{ status: number; headers?: Record<string, string>; body?: unknown }>, options: { lose?: number } = {}) {
  const seen: Seen[] = [];
  let lose = options.lose ?? 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, authorization: req.headers.authorization, idempotencyKey: req.headers['idempotency-key'] as string | undefined });
      if (lose > 0) {
        lose--;
        req.socket.destroy();
        return;
      }
      const answer = answers[Math.min(seen.length - 1 - (options.lose ?? 0), answers.length - 1)];
      const body = answer.body === undefined ? '' : typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': typeof answer.body === 'string' ? 'text/plain' : 'application/json', ...answer.headers });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { baseUrl, seen, close: () => new Promise((resolve) => server.close(resolve)) };
}

const AGENT = { id: 'a1', name: 'bot' };
const problem = (status: number, title: string) => ({ type: 'about:blank', title, status, detail: `${title} (detail)` });

describe('AgentHub client', () => {
  let stub: Awaited<ReturnType<typeof stubApi>> | null = null;
  afterEach(async () => {
    await stub?.close();
    stub = null;
  });

  it('sends the key on every request and a new Idempotency-Key on every POST, the same on each retry of it', async () => {
    stub = await stubApi([{ status: 429, headers: { 'retry-after': '0' }, body: problem(429, 'Too Many Requests') }, { status: 201, body: AGENT }]);
    const hub = createAgentHubClient({ baseUrl: stub.baseUrl, apiKey: 'ahk_test', retryBaseMs: 1 });
    const { data } = await hub.POST('/api/v1/agents', { body: { name: 'bot' } });
    expect(data).toEqual(AGENT);
    expect(stub.seen).toHaveLength(2);
    expect(stub.seen.map((s) => s.authorization)).toEqual(['Bearer ahk_test', 'Bearer ahk_test']);
    expect(stub.seen[0].idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(stub.seen[1].idempotencyKey).toBe(stub.seen[0].idempotencyKey);
    await hub.POST('/api/v1/agents', { body: { name: 'bot' } });
    expect(stub.seen[2].idempotencyKey).not.toBe(stub.seen[0].idempotencyKey);
    await hub.GET('/api/v1/agents/{id}', { params: { path: { id: 'a1' } } });
    expect(stub.seen[3]).toMatchObject({ method: 'GET', url: '/api/v1/agents/a1', idempotencyKey: undefined });
  });

  it("keeps the caller's Idempotency-Key", async () => {
    stub = await stubApi([{ status: 201, body: AGENT }]);
    const hub = createAgentHubClient({ baseUrl: stub.baseUrl, apiKey: 'k' });
    await hub.POST('/api/v1/agents', { body: { name: 'bot' }, headers: { 'idempotency-key': 'order-42' } });
    expect(stub.seen[0].idempotencyKey).toBe('order-42');
  });

  it('gives up after its retries and throws the last answer as an AgentHubError with the problem fields', async () => {
    stub = await stubApi([{ status: 503, headers: { 'x-request-id': 'req-9' }, body: { ...problem(503, 'Service Unavailable'), errors: [{ path: 'x', message: 'y' }] } }]);
    const hub = createAgentHubClient({ baseUrl: stub.baseUrl, apiKey: 'k', retries: 2, retryBaseMs: 1 });
    const error = await hub.GET('/api/v1/agents').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AgentHubError);
    expect(error).toMatchObject({ status: 503, title: 'Service Unavailable', detail: 'Service Unavailable (detail)', errors: [{ path: 'x', message: 'y' }], requestId: 'req-9' });
    expect(stub.seen).toHaveLength(3);
  });

  it('does not retry other errors; a body that is not problem+json keeps its text', async () => {
    stub = await stubApi([{ status: 404, body: 'no such route' }]);
    const hub = createAgentHubClient({ baseUrl: stub.baseUrl, apiKey: 'k', retryBaseMs: 1 });
    await expect(hub.GET('/api/v1/agents')).rejects.toMatchObject({ name: 'AgentHubError', status: 404, detail: 'no such route' });
    expect(stub.seen).toHaveLength(1);
  });

  it('repeats a request that got no answer when it is safe to: a create the API de-duplicates by its key, a GET', async () => {
    stub = await stubApi([{ status: 201, body: AGENT }], { lose: 1 });
    const hub = createAgentHubClient({ baseUrl: stub.baseUrl, apiKey: 'k', retryBaseMs: 1 });
    expect((await hub.POST('/api/v1/agents', { body: { name: 'bot' } })).data).toEqual(AGENT);
    expect(stub.seen).toHaveLength(2);
    expect(stub.seen[1].idempotencyKey).toBe(stub.seen[0].idempotencyKey);
    await stub.close();
    stub = await stubApi([{ status: 200, body: AGENT }], { lose: 2 });
    const reader = createAgentHubClient({ baseUrl: stub.baseUrl, apiKey: 'k', retryBaseMs: 1 });
    expect((await reader.GET('/api/v1/agents/{id}', { params: { path: { id: 'a1' } } })).data).toEqual(AGENT);
    expect(stub.seen).toHaveLength(3);
  });

  it('never repeats a POST the API does not de-duplicate, and sends it no Idempotency-Key', async () => {
    stub = await stubApi([{ status: 200, body: {} }], { lose: 1 });
    const hub = createAgentHubClient({ baseUrl: stub.baseUrl, apiKey: 'k', retryBaseMs: 1 });
    await expect(hub.POST('/api/v1/messages/{id}/chunks', { params: { path: { id: 'm1' } }, body: { delta: 'x' } })).rejects.toThrow();
    expect(stub.seen).toHaveLength(1);
    expect(stub.seen[0].idempotencyKey).toBeUndefined();
  });

  it('knows which operations the API de-duplicates, from the OpenAPI document', () => {
    expect(takesIdempotencyKey('POST', 'http://h/api/v1/conversations/c1/messages')).toBe(true);
    expect(takesIdempotencyKey('POST', 'http://h/prefix/api/v1/payments')).toBe(true);
    expect(takesIdempotencyKey('POST', 'http://h/api/v1/messages/m1/complete')).toBe(false);
    expect(takesIdempotencyKey('GET', 'http://h/api/v1/agents')).toBe(false);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(retryAfterMs('2')).toBe(2000);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(retryAfterMs('soon')).toBeNull();
    expect(retryAfterMs(null)).toBeNull();
  });

  it('walks cursor pages until the last', async () => {
    const pages: Record<string, { data: number[]; nextCursor: string | null }> = { first: { data: [1, 2], nextCursor: 'c2' }, c2: { data: [3], nextCursor: null } };
    const cursors: Array<string | undefined> = [];
    const items: number[] = [];
    for await (const n of paginate(async (cursor) => (cursors.push(cursor), { data: pages[cursor ?? 'first'] }))) items.push(n);
    expect(items).toEqual([1, 2, 3]);
    expect(cursors).toEqual([undefined, 'c2']);
  });

  it('live events: reconnects after the stream ends, with Last-Event-ID of the last event, at the retry the server set', async () => {
    const lastEventIds: Array<string | undefined> = [];
    const server = http.createServer((req, res) => {
      lastEventIds.push(req.headers['last-event-id'] as string | undefined);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      if (lastEventIds.length === 1) {
        res.end('retry: 20\n: hello\n\nid: 1\nevent: message.created\ndata: {"seq":1}\n\nid: 2\nevent: message.created\ndata: {"seq":2}\n\n');
      } else {
        res.write('id: 3\nevent: message.delta\ndata: {"delta":"x"}\n\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const stop = new AbortController();
    try {
      const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const events = subscribeEvents({ baseUrl, apiKey: 'k' }, 'c1', { signal: stop.signal, reconnectMs: 5_000 });
      const got = [];
      for (let i = 0; i < 3; i++) got.push((await events.next()).value);
      expect(got).toEqual([
        { id: 1, type: 'message.created', data: { seq: 1 } },
        { id: 2, type: 'message.created', data: { seq: 2 } },
        { id: 3, type: 'message.delta', data: { delta: 'x' } },
      ]);
      expect(lastEventIds).toEqual([undefined, '2']);
      stop.abort();
      expect((await events.next()).done).toBe(true);
    } finally {
      stop.abort();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('sends the embeddings of a body as base64 float32 (numbers or Float32Array), and nothing else of it', () => {
    const values = [0.1, -2.5, 3.25];
    const body = JSON.parse(
      serializeBody({ content: 'x', embedding: values, tags: [1, 2], chunks: [{ embedding: new Float32Array(values) }], memories: [{ embedding: values }], metadata: { embedding: [1, 2] } }),
    );
    expect(body.embedding).toBe(encodeEmbedding(values));
    expect(body.chunks[0].embedding).toBe(encodeEmbedding(values));
    expect(body.memories[0].embedding).toBe(encodeEmbedding(values));
    expect(body.metadata).toEqual({ embedding: [1, 2] });
    expect(body.tags).toEqual([1, 2]);
    expect(Array.from(decodeEmbedding(body.embedding))).toEqual(Array.from(Float32Array.from(values)));
    expect(Buffer.from(encodeEmbedding(values), 'base64')).toHaveLength(12);
  });

  it('live events without a Last-Event-ID resume from where the API said the stream started, after a 503 too', async () => {
    const lastEventIds: Array<string | undefined> = [];
    const server = http.createServer((req, res) => {
      lastEventIds.push(req.headers['last-event-id'] as string | undefined);
      if (lastEventIds.length === 1) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end('retry: 10\n: connected to conversation c1; events after 7 follow\n\n'); // dropped before any event
      } else if (lastEventIds.length === 2) {
        res.writeHead(503, { 'retry-after': '0' });
        res.end();
      } else {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('id: 8\nevent: message.created\ndata: {"seq":8}\n\n');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const stop = new AbortController();
    try {
      const events = subscribeEvents({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: 'k' }, 'c1', { signal: stop.signal });
      expect((await events.next()).value).toEqual({ id: 8, type: 'message.created', data: { seq: 8 } });
      expect(lastEventIds).toEqual([undefined, '7', '7']);
    } finally {
      stop.abort();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
