import http from 'node:http';
import pg from 'pg';
import { agentBody, conversationBody, describeOnPostgres, messageBody, testDatabaseDirectUrl } from '@agenthub/db/testing';
import type { ApiResponse } from './support/api-harness';
import { ApiProcess, SseClient, TEST_ADMIN_TOKEN, describeExit, type Json, type SseEvent } from './support/api-process';
import { FreezableProxy } from './support/freezable-proxy';

/**
 * The API as real processes on one PostgreSQL database: what only several processes can show — live events
 * crossing replicas, kill -9 in the middle of concurrent writes, SIGTERM with requests in flight, and what the
 * process really writes to stdout/stderr. PostgreSQL only: the embedded test database serves one process.
 */
const LIVE_DEADLINE_MS = 1000; // the functional requirement: an event reaches another replica's subscribers within 1 s

interface Fixture {
  key: string;
  agentId: string;
}

async function seedOrganization(api: ApiProcess): Promise<Fixture> {
  const org = await api.createOrganization();
  const agent = await api.post('/api/v1/agents', org.key, agentBody());
  if (agent.status !== 201) throw new Error(`agent: ${agent.status} ${agent.text}`);
  return { key: org.key, agentId: agent.body.id };
}

async function newConversation(api: ApiProcess, fixture: Fixture): Promise<string> {
  const res = await api.post('/api/v1/conversations', fixture.key, conversationBody(fixture.agentId));
  if (res.status !== 201) throw new Error(`conversation: ${res.status} ${res.text}`);
  return res.body.id;
}

/** Every message of a conversation, oldest first, through the API's pagination. */
interface StoredMessage {
  id: string;
  seq: number;
  clientId: string | null;
}

async function allMessages(api: ApiProcess, key: string, conversationId: string): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  let cursor: string | null = null;
  do {
    const query = `limit=200&order=asc${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res: ApiResponse<{ data: StoredMessage[]; nextCursor: string | null }> = await api.get(`/api/v1/conversations/${conversationId}/messages?${query}`, key);
    if (res.status !== 200) throw new Error(`list messages: ${res.status} ${res.text}`);
    out.push(...res.body.data);
    cursor = res.body.nextCursor;
  } while (cursor);
  return out;
}

/** Status of a request on a fresh connection, or the connection error's code (refused, reset). */
function probe(baseUrl: string, urlPath: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get(baseUrl + urlPath, { agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describeOnPostgres('API processes (replicas, crash, shutdown, logs)', () => {
  const started: ApiProcess[] = [];
  const start = async (env: Record<string, string | undefined> = {}) => {
    const api = await ApiProcess.startOnTestDatabase(env);
    started.push(api);
    return api;
  };

  afterAll(async () => {
    await Promise.all(started.map((api) => api.stop()));
  });

  describe('key revocation across replicas', () => {
    const REVOCATION_DEADLINE_MS = 1000; // issue 16: every replica refuses a revoked key within 1 s

    it('is honoured within 1 s by a replica whose LISTEN connection went silent (no error, no reset), which keeps serving valid keys', async () => {
      const url = new URL(testDatabaseDirectUrl());
      const proxy = await FreezableProxy.start({ host: url.hostname, port: Number(url.port || 5432) });
      try {
        // B's LISTEN connection goes through the proxy (DATABASE_DIRECT_URL); its pool does not.
        const [a, b] = await Promise.all([start(), start({ DATABASE_DIRECT_URL: proxy.urlFor(testDatabaseDirectUrl()) })]);
        const org = await a.createOrganization();
        const created = async (name: string) => {
          const res = await a.post('/api/v1/api-keys', org.key, { name, role: 'member' });
          if (res.status !== 201) throw new Error(`api key: ${res.status} ${res.text}`);
          return { id: res.body.id as string, key: res.body.key as string };
        };
        const [doomed, kept] = [await created('doomed'), await created('kept')];
        for (const k of [doomed, kept]) expect((await b.get('/api/v1/agents', k.key)).status).toBe(200); // cached on B

        proxy.freeze();
        expect((await a.request('DELETE', `/api/v1/api-keys/${doomed.id}`, { key: org.key })).status).toBe(204);
        const revokedAt = Date.now(); // the revocation has committed

        // Every request B receives from the deadline on is refused; until then the answer may be either. (revokedAt
        // is when the DELETE answered, just after its commit: the deadline checked is a few ms late at most.)
        const late: number[] = [];
        while (late.length < 5) {
          const sentAt = Date.now();
          const res = await b.get('/api/v1/agents', doomed.key);
          if (sentAt - revokedAt >= REVOCATION_DEADLINE_MS) late.push(res.status);
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(late).toEqual([401, 401, 401, 401, 401]);
        // The valid key still works on B (looked up each time while its LISTEN connection is silent).
        expect((await b.get('/api/v1/agents', kept.key)).status).toBe(200);
        proxy.thaw();
        expect((await b.get('/api/v1/agents', kept.key)).status).toBe(200);
        expect((await b.get('/api/v1/agents', doomed.key)).status).toBe(401);
      } finally {
        proxy.thaw();
        await proxy.close();
      }
    });
  });

  // Redis runs beside PostgreSQL on every machine this suite runs on (REDIS_URL overrides where it is elsewhere).
  describe('rate limit across replicas (RATE_LIMIT_REDIS_URL)', () => {
    const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
    // Counters of this run only: another run within the window would otherwise share the admin token's budget.
    const prefix = `agenthub-test:${process.pid}:${Date.now()}:`;
    const LIMIT = 10;

    it('holds for a key across two replicas: exactly the limit is admitted, whichever replica serves', async () => {
      const env = { RATE_LIMIT_REDIS_URL: redisUrl, RATE_LIMIT_REDIS_PREFIX: prefix, RATE_LIMIT_MAX: String(LIMIT), RATE_LIMIT_WINDOW_SECONDS: '60' };
      const [a, b] = await Promise.all([start(env), start(env)]);
      const org = await a.createOrganization();
      const statuses: number[] = [];
      for (let i = 0; i < 2 * LIMIT; i++) statuses.push((await (i % 2 ? b : a).get('/api/v1/agents', org.key)).status);
      // Per replica, each would have admitted all 10 of its requests.
      expect(statuses).toEqual([...Array(LIMIT).fill(200), ...Array(LIMIT).fill(429)]);
      const blocked = await b.get('/api/v1/agents', org.key);
      expect(blocked.status).toBe(429);
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
      // Another key has its own budget.
      const other = await b.createOrganization();
      expect((await a.get('/api/v1/agents', other.key)).status).toBe(200);
    });

    it('while Redis cannot be reached, counts per replica and keeps serving (a warning says so)', async () => {
      const api = await start({ RATE_LIMIT_REDIS_URL: 'redis://127.0.0.1:1', RATE_LIMIT_REDIS_PREFIX: prefix, RATE_LIMIT_MAX: String(LIMIT), RATE_LIMIT_WINDOW_SECONDS: '60' });
      const org = await api.createOrganization();
      const statuses: number[] = [];
      for (let i = 0; i < LIMIT + 2; i++) statuses.push((await api.get('/api/v1/agents', org.key)).status);
      expect(statuses).toEqual([...Array(LIMIT).fill(200), 429, 429]);
      expect(api.output).toMatch(/rate-limit store \(Redis\) unavailable, counting per replica meanwhile/);
    });
  });

  describe('live events across replicas', () => {
    let a: ApiProcess;
    let b: ApiProcess;
    let fixture: Fixture;
    let conversationId: string;
    const seen: SseEvent[] = [];

    beforeAll(async () => {
      [a, b] = await Promise.all([start(), start()]);
      fixture = await seedOrganization(b);
      conversationId = await newConversation(b, fixture);
    });

    it('delivers every change made on replica B to a subscriber on replica A within 1 s, in order', async () => {
      const sse = await SseClient.connect(a.baseUrl, `/api/v1/conversations/${conversationId}/events`, fixture.key);
      expect(sse.status).toBe(200);
      let expected = 0;
      /** Performs a write on B, then requires the resulting events on A before the deadline. */
      const writeOnB = async (write: () => Promise<{ status: number; body: Json; text: string }>, events: number) => {
        const res = await write();
        if (res.status >= 300) throw new Error(`write on B: ${res.status} ${res.text}`);
        expected += events;
        const got = await sse.waitForCount(expected, LIVE_DEADLINE_MS);
        expect({ arrivedWithin1s: got.length }).toEqual({ arrivedWithin1s: expected });
        return { body: res.body, events: got.slice(expected - events) };
      };

      const single = await writeOnB(() => b.post(`/api/v1/conversations/${conversationId}/messages`, fixture.key, messageBody()), 1);
      expect(single.events[0].event).toBe('message.created');
      expect(JSON.parse(single.events[0].data)).toEqual(expect.objectContaining({ id: single.body.data[0].id, seq: 1 }));

      const batch = await writeOnB(
        () => b.post(`/api/v1/conversations/${conversationId}/messages`, fixture.key, { messages: [messageBody(), messageBody(), messageBody()] }),
        3,
      );
      expect(batch.events.map((e) => e.event)).toEqual(['message.created', 'message.created', 'message.created']);
      expect(batch.events.map((e) => JSON.parse(e.data).seq)).toEqual([2, 3, 4]);

      const streaming = await writeOnB(
        () => b.post(`/api/v1/conversations/${conversationId}/messages`, fixture.key, messageBody({ role: 'assistant', content: '', isStreaming: true })),
        1,
      );
      const messageId = streaming.body.data[0].id;
      expect(JSON.parse(streaming.events[0].data)).toEqual(expect.objectContaining({ id: messageId, isStreaming: true }));

      for (const delta of ['Hel', 'lo ', 'world']) {
        const chunk = await writeOnB(() => b.post(`/api/v1/messages/${messageId}/chunks`, fixture.key, { delta }), 1);
        expect(chunk.events[0].event).toBe('message.delta');
        expect(JSON.parse(chunk.events[0].data)).toEqual(expect.objectContaining({ messageId, delta }));
      }

      const completed = await writeOnB(() => b.post(`/api/v1/messages/${messageId}/complete`, fixture.key, { tokensUsed: 3 }), 1);
      expect(completed.events[0].event).toBe('message.completed');
      expect(JSON.parse(completed.events[0].data)).toEqual(expect.objectContaining({ id: messageId, content: 'Hello world', isComplete: true }));

      const patched = await writeOnB(() => b.patch(`/api/v1/conversations/${conversationId}`, fixture.key, { title: 'renamed on B' }), 1);
      expect(patched.events[0].event).toBe('conversation.updated');
      expect(JSON.parse(patched.events[0].data)).toEqual(expect.objectContaining({ id: conversationId, title: 'renamed on B' }));

      // Event ids are the conversation's event seq: increasing by one, nothing skipped or repeated.
      const ids = sse.events.map((e) => Number(e.id));
      expect(ids).toEqual(ids.map((_, i) => ids[0] + i));
      seen.push(...sse.events);
      await sse.close();
    });

    it('replays exactly the missed events, in order, to a client reconnecting with Last-Event-ID', async () => {
      expect(seen.length).toBeGreaterThan(0); // needs the first test's stream
      const lastId = seen[seen.length - 1].id!;
      // Written while nobody is subscribed anywhere.
      const missed = await b.post(`/api/v1/conversations/${conversationId}/messages`, fixture.key, { messages: [messageBody(), messageBody()] });
      expect(missed.status).toBe(201);
      expect((await b.patch(`/api/v1/conversations/${conversationId}`, fixture.key, { title: 'while away' })).status).toBe(200);

      const sse = await SseClient.connect(a.baseUrl, `/api/v1/conversations/${conversationId}/events`, fixture.key, lastId);
      expect(sse.status).toBe(200);
      const replayed = await sse.waitForCount(3, 10_000);
      expect(replayed.map((e) => [Number(e.id), e.event])).toEqual([
        [Number(lastId) + 1, 'message.created'],
        [Number(lastId) + 2, 'message.created'],
        [Number(lastId) + 3, 'conversation.updated'],
      ]);
      expect(replayed.slice(0, 2).map((e) => JSON.parse(e.data).id)).toEqual(missed.body.data.map((m: { id: string }) => m.id));
      expect(JSON.parse(replayed[2].data).title).toBe('while away');

      // Live again after the replay, and nothing was sent twice: the next event is exactly the 4th one.
      const live = await b.post(`/api/v1/conversations/${conversationId}/messages`, fixture.key, messageBody());
      expect(live.status).toBe(201);
      const all = await sse.waitForCount(4, LIVE_DEADLINE_MS);
      expect(all.map((e) => Number(e.id))).toEqual([1, 2, 3, 4].map((i) => Number(lastId) + i));
      expect(JSON.parse(all[3].data).id).toBe(live.body.data[0].id);
      await sse.close();
      expect(sse.events).toHaveLength(4);
    });
  });

  it('keeps every acknowledged message exactly once, with gap-free seqs, when the API is killed (-9) under concurrent appends', async () => {
    let api = await start();
    const fixture = await seedOrganization(api);
    const conversationId = await newConversation(api, fixture);
    const acknowledged = new Map<string, { id: string; seq: number }>();
    const unknown: string[] = []; // requests that got no answer: stored or not, the client cannot tell
    const WRITERS = 8;
    const KILL_AFTER = 80; // acknowledged appends before the kill, so that the kill lands mid-stream
    let killed: Promise<unknown> | null = null;

    const writer = async (w: number) => {
      for (let i = 0; ; i++) {
        const clientId = `w${w}-m${i}`;
        try {
          const res = await api.post(`/api/v1/conversations/${conversationId}/messages`, fixture.key, messageBody({ clientId }));
          if (res.status !== 201) throw new Error(`append: ${res.status} ${res.text}`);
          acknowledged.set(clientId, { id: res.body.data[0].id, seq: res.body.data[0].seq });
          if (acknowledged.size >= KILL_AFTER && !killed) killed = api.kill('SIGKILL');
        } catch (error) {
          if (!killed) {
            killed = api.kill('SIGKILL'); // stops the other writers too
            throw error; // an error before the kill is a real failure
          }
          unknown.push(clientId);
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
    const exit = await killed!;
    expect(describeExit(exit as never)).toBe('signal SIGKILL');

    api = await start();
    // Clients retry what got no answer with the same clientId: stored at most once either way.
    for (const clientId of unknown) {
      const res = await api.post(`/api/v1/conversations/${conversationId}/messages`, fixture.key, messageBody({ clientId }));
      expect(res.status).toBe(201);
    }
    // A replay of an acknowledged clientId returns the stored message, not a new one.
    const [someClientId, someStored] = [...acknowledged.entries()][0];
    const replay = await api.post(`/api/v1/conversations/${conversationId}/messages`, fixture.key, messageBody({ clientId: someClientId }));
    expect(replay.body.data[0]).toEqual(expect.objectContaining({ id: someStored.id, seq: someStored.seq }));

    const stored = await allMessages(api, fixture.key, conversationId);
    const n = stored.length;
    expect(stored.map((m) => m.seq)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    const byClientId = new Map<string, number>();
    for (const m of stored) byClientId.set(m.clientId!, (byClientId.get(m.clientId!) ?? 0) + 1);
    expect([...byClientId.values()].filter((count) => count !== 1)).toEqual([]);
    for (const [clientId, ack] of acknowledged) {
      expect({ clientId, stored: stored.find((m) => m.clientId === clientId) }).toEqual({ clientId, stored: expect.objectContaining(ack) });
    }
    expect(n).toBe(acknowledged.size + unknown.length);
    const conversation = await api.get(`/api/v1/conversations/${conversationId}`, fixture.key);
    expect(conversation.body.messageCount).toBe(n);
  });

  it('on SIGTERM finishes in-flight requests, refuses new ones, ends live streams and exits 0', async () => {
    const api = await start({ SHUTDOWN_GRACE_MS: '60000' });
    const fixture = await seedOrganization(api);
    const conversationId = await newConversation(api, fixture);
    const sse = await SseClient.connect(api.baseUrl, `/api/v1/conversations/${conversationId}/events`, fixture.key);
    expect(sse.status).toBe(200);

    // Large batch appends whose headers the server has accepted before the signal (it answered
    // `100 Continue`), and whose bodies are sent only after it: certainly in flight during the shutdown.
    const BATCHES = 3;
    const PER_BATCH = 1000;
    const inFlight = await Promise.all(
      Array.from({ length: BATCHES }, (_, b) => {
        const body = JSON.stringify({
          messages: Array.from({ length: PER_BATCH }, (_, i) => messageBody({ clientId: `b${b}-${i}`, content: `batch ${b} message ${i} `.repeat(8) })),
        });
        return new Promise<{ send: () => Promise<{ status: number; text: string }> }>((resolve, reject) => {
          const req = http.request(`${api.baseUrl}/api/v1/conversations/${conversationId}/messages`, {
            method: 'POST',
            agent: false,
            headers: {
              authorization: `Bearer ${fixture.key}`,
              'content-type': 'application/json',
              'content-length': Buffer.byteLength(body),
              expect: '100-continue',
            },
          });
          const response = new Promise<{ status: number; text: string }>((done, fail) => {
            req.on('response', (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => (text += c));
              res.on('end', () => done({ status: res.statusCode ?? 0, text }));
            });
            req.on('error', fail);
          });
          req.on('continue', () => resolve({ send: () => (req.end(body), response) }));
          req.on('error', reject);
          req.flushHeaders();
        });
      }),
    );

    const exited = api.exited;
    api.child.kill('SIGTERM');
    await api.waitForLine(/SIGTERM: finishing in-flight requests/);
    // A new connection now is refused, or answered 503: never served as if nothing happened.
    const fresh = await probe(api.baseUrl, '/health/ready');
    expect([503, 'ECONNREFUSED', 'ECONNRESET']).toContain(fresh);

    const results = await Promise.all(inFlight.map((r) => r.send()));
    expect(results.map((r) => r.status)).toEqual(Array(BATCHES).fill(201));
    expect(await sse.ended).toBe('end');
    const exit = await exited;
    // code 0 also means "within the grace period": when it runs out main.ts exits 1.
    expect({ exit: describeExit(exit), output: exit.code === 0 ? '' : api.output }).toEqual({ exit: 'code 0', output: '' });
    expect(api.stdout).toContain('agenthub api: stopped');

    // All of every batch is stored, nothing twice, nothing partial.
    const db = new pg.Client({ connectionString: testDatabaseDirectUrl() });
    await db.connect();
    try {
      const { rows } = await db.query<{ count: number; max: number; distinct_clients: number; message_count: number }>(
        `select count(*)::int as count, max(m.seq)::int as max, count(distinct m.client_id)::int as distinct_clients,
                (select message_count from conversations where id = $1) as message_count
           from messages m where m.conversation_id = $1`,
        [conversationId],
      );
      expect(rows[0]).toEqual({ count: BATCHES * PER_BATCH, max: BATCHES * PER_BATCH, distinct_clients: BATCHES * PER_BATCH, message_count: BATCHES * PER_BATCH });
    } finally {
      await db.end();
    }
  });

  // Found by this test: shutdown closed the pool under running handlers (their clients gone, the server had no
  // socket left to wait for) — "Unknown transaction status", a leaked pool client, exit 1 after the grace period.
  // PrismaService.onModuleDestroy now waits for running transactions (whenIdle) before $disconnect.
  it('on SIGTERM also waits for requests whose client has gone away, then exits 0', async () => {
    // Clients (or a proxy timing out) may drop a connection while its request still runs. The server then has
    // no open socket to wait for, but the handler is still inside its transaction or waiting for a pool
    // connection: shutdown must let it finish before closing the pool.
    const api = await start({ DATABASE_POOL_SIZE: '2', SHUTDOWN_GRACE_MS: '8000' });
    const fixture = await seedOrganization(api);
    const conversationId = await newConversation(api, fixture);
    expect((await api.post(`/api/v1/conversations/${conversationId}/messages`, fixture.key, messageBody())).status).toBe(201); // key cached

    // Holding the conversation's row lock parks the appends: two inside their transactions (the pool has 2
    // connections), the others waiting for a connection.
    const locker = new pg.Client({ connectionString: testDatabaseDirectUrl() });
    // Another session: pg_stat_activity is a snapshot taken once per transaction, so the locker cannot watch.
    const watcher = new pg.Client({ connectionString: testDatabaseDirectUrl() });
    await Promise.all([locker.connect(), watcher.connect()]);
    try {
      await locker.query('begin');
      await locker.query('select 1 from conversations where id = $1 for update', [conversationId]);
      const clientIds = ['gone-1', 'gone-2', 'gone-3', 'gone-4'];
      const requests = clientIds.map((clientId) => {
        const req = http.request(`${api.baseUrl}/api/v1/conversations/${conversationId}/messages`, {
          method: 'POST',
          agent: false,
          headers: { authorization: `Bearer ${fixture.key}`, 'content-type': 'application/json' },
        });
        req.on('error', () => undefined); // destroyed below on purpose
        req.end(JSON.stringify(messageBody({ clientId })));
        return req;
      });
      // No event to await for "blocked on the lock": poll the server's view of it (bounded).
      const pollUntil = Date.now() + 30_000;
      for (;;) {
        const { rows } = await watcher.query<{ n: number }>(
          // the first waiter waits for the locker's transaction, the next one behind its tuple lock
          `select count(*)::int as n from pg_stat_activity
            where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        );
        if (rows[0].n >= 2) break;
        if (Date.now() > pollUntil) throw new Error(`only ${rows[0].n} appends blocked on the lock:\n${api.output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const req of requests) req.destroy();

      const exited = api.exited;
      api.child.kill('SIGTERM');
      await api.waitForLine(/SIGTERM: finishing in-flight requests/);
      await locker.query('commit');
      const exit = await exited;
      expect({ exit: describeExit(exit), errors: api.stdout.filter((l) => /"level":50/.test(l)) }).toEqual({ exit: 'code 0', errors: [] });

      // Each dropped request is all or nothing (its client will retry it with the same clientId).
      const { rows } = await watcher.query<{ client_id: string; n: number }>(
        'select client_id, count(*)::int as n from messages where conversation_id = $1 and client_id = any($2) group by client_id',
        [conversationId, clientIds],
      );
      expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    } finally {
      await Promise.all([locker.end(), watcher.end()]);
    }
  });

  it('writes one JSON object per log line, with the request id, and never a key or the admin token', async () => {
    const api = await start({ LOG_LEVEL: 'info' });
    const org = await api.post('/api/v1/organizations', TEST_ADMIN_TOKEN, { name: 'logs org', ownerEmail: 'owner@logs.test' }, { headers: { 'x-request-id': 'log-test-admin' } });
    expect(org.status).toBe(201);
    const key: string = org.body.apiKey.key;
    const bogusKey = `${key.slice(0, -6)}XXXXXX`;
    const requests = [
      { id: 'log-test-ok', status: 200, send: () => api.get('/api/v1/organization', key, { headers: { 'x-request-id': 'log-test-ok' } }) },
      { id: 'log-test-invalid', status: 400, send: () => api.post('/api/v1/agents', key, { name: '' }, { headers: { 'x-request-id': 'log-test-invalid' } }) },
      { id: 'log-test-bad-key', status: 401, send: () => api.get('/api/v1/organization', bogusKey, { headers: { 'x-request-id': 'log-test-bad-key' } }) },
      { id: 'log-test-x-api-key', status: 401, send: () => api.get('/api/v1/organization', null, { headers: { 'x-request-id': 'log-test-x-api-key', 'x-api-key': key } }) },
    ];
    for (const r of requests) {
      const res = await r.send();
      expect({ id: r.id, status: res.status }).toEqual({ id: r.id, status: r.status });
      expect(res.headers.get('x-request-id')).toBe(r.id);
    }
    // SIGTERM flushes the logger; then everything the process wrote is in.
    expect(describeExit(await api.stop())).toBe('code 0');

    const parsed: Array<Record<string, Json>> = [];
    for (const line of api.stdout) {
      if (line.startsWith('agenthub api: ')) continue; // the start-up/shutdown banner, for humans
      let entry: unknown;
      expect(() => (entry = JSON.parse(line))).not.toThrow();
      expect({ line, isObject: typeof entry === 'object' && entry !== null }).toEqual({ line, isObject: true });
      parsed.push(entry as Record<string, Json>);
    }
    expect(api.stderr).toEqual([]);
    for (const r of [{ id: 'log-test-admin', status: 201 }, ...requests]) {
      const lines = parsed.filter((e) => e.req?.id === r.id || e.requestId === r.id || e.reqId === r.id);
      expect({ id: r.id, logged: lines.length > 0 }).toEqual({ id: r.id, logged: true });
      expect(lines.some((e) => e.res?.statusCode === r.status)).toBe(true);
    }
    const output = api.output;
    for (const secret of [key, bogusKey, TEST_ADMIN_TOKEN, key.slice(-16)]) {
      expect({ leaked: output.includes(secret) }).toEqual({ leaked: false });
    }
  });
});
