import pg from 'pg';
import type { ReplicaStatus } from '@agenthub/db';
import { agentBody, conversationBody, messageBody, testDatabaseDirectUrl } from '@agenthub/db/testing';
import { ApiProcess, TEST_ADMIN_TOKEN } from './support/api-process';
import { FreezableProxy } from './support/freezable-proxy';

/**
 * Read replicas (DATABASE_READ_URLS, issue 16) on a real streaming hot standby of the test server:
 * `tools/scripts/setup-replica.sh` creates one (CI runs it) and TEST_READ_REPLICA_URL names it (any database: the
 * test database's name is put in). The standby replays every database of the primary, the test's own included.
 * Its replay is paused (`pg_wal_replay_pause()`) to make it fall behind on purpose: a read must then still see the
 * client's own writes (the primary serves it), and a replica lagging past the bound is skipped.
 */
const REPLICA = process.env.TEST_READ_REPLICA_URL?.trim();
const describeWithReplica = process.env.AGENTHUB_TEST_DB_MODE === 'postgres' && REPLICA ? describe : describe.skip;

/** The replica URL on the test database (the server from TEST_READ_REPLICA_URL, the database of the test). */
function replicaUrlOfTestDatabase(): string {
  const url = new URL(REPLICA!);
  url.pathname = new URL(testDatabaseDirectUrl()).pathname;
  return url.toString();
}

async function replicas(api: ApiProcess): Promise<ReplicaStatus[]> {
  const res = await api.get('/health/ready', null);
  if (res.status !== 200) throw new Error(`ready: ${res.status} ${res.text}`);
  return res.body.replicas;
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describeWithReplica('read replicas (DATABASE_READ_URLS) on a streaming standby', () => {
  const started: ApiProcess[] = [];
  let standby: pg.Client;

  beforeAll(async () => {
    standby = new pg.Client({ connectionString: replicaUrlOfTestDatabase() });
    await standby.connect();
    const { rows } = await standby.query<{ recovering: boolean }>('select pg_is_in_recovery() as recovering');
    if (!rows[0].recovering) throw new Error(`${REPLICA} is not a hot standby: run tools/scripts/setup-replica.sh`);
  });

  afterEach(async () => {
    // Never leave the shared standby paused.
    await standby.query('select pg_wal_replay_resume()');
    await Promise.all(started.splice(0).map((api) => api.stop()));
  });

  afterAll(async () => {
    await standby?.end();
  });

  const start = async (env: Record<string, string>) => {
    const api = await ApiProcess.startOnTestDatabase(env);
    started.push(api);
    return api;
  };

  /** Pauses the standby's replay and waits until it has stopped. */
  const pauseReplay = async () => {
    await standby.query('select pg_wal_replay_pause()');
    await until('replay paused', async () => (await standby.query<{ s: string }>('select pg_get_wal_replay_pause_state() as s')).rows[0].s === 'paused');
  };

  const onStandby = async (sql: string, values: unknown[]) => (await standby.query(sql, values)).rowCount;

  it('serves reads from the replica, and a client reads its own writes while the replica has fallen behind', async () => {
    // A generous lag bound: here the replica stays in use while paused, and the freshness check alone protects.
    const api = await start({ DATABASE_READ_URLS: replicaUrlOfTestDatabase(), DATABASE_READ_MAX_LAG_MS: '600000' });
    await until('the replica in use', async () => (await replicas(api))[0].healthy);
    const org = await api.createOrganization();
    const agent = await api.post('/api/v1/agents', org.key, agentBody());
    const conversation = await api.post('/api/v1/conversations', org.key, conversationBody(agent.body.id));
    expect(conversation.status).toBe(201);
    const page = `/api/v1/conversations/${conversation.body.id}/messages?limit=50`;

    // Caught up: reads (raw and Prisma routes) go to the replica.
    const before = (await replicas(api))[0];
    expect((await api.post(`/api/v1/conversations/${conversation.body.id}/messages`, org.key, messageBody())).status).toBe(201);
    const first = await until('the first message on a replica read', async () => {
      const res = await api.get(page, org.key);
      return res.status === 200 && res.body.data.length === 1 && res;
    });
    expect(first.body.data).toHaveLength(1);
    expect((await api.get(`/api/v1/agents/${agent.body.id}`, org.key)).status).toBe(200);
    const served = (await replicas(api))[0];
    expect(served.reads).toBeGreaterThan(before.reads);

    // Fallen behind: the replica replays nothing more. Every read right after a write still sees it.
    await pauseReplay();
    for (let i = 0; i < 5; i++) {
      const appended = await api.post(`/api/v1/conversations/${conversation.body.id}/messages`, org.key, messageBody({ clientId: `behind-${i}` }));
      expect(appended.status).toBe(201);
      const read = await api.get(page, org.key);
      expect(read.status).toBe(200);
      expect(read.body.data.map((m: { clientId: string | null }) => m.clientId)).toContain(`behind-${i}`);
      const created = await api.post('/api/v1/agents', org.key, agentBody());
      expect((await api.get(`/api/v1/agents/${created.body.id}`, org.key)).status).toBe(200);
      const listed = await api.get('/api/v1/agents?limit=100', org.key);
      expect(listed.body.data.map((a: { id: string }) => a.id)).toContain(created.body.id);
      // The replica really lacks them: had it served these reads, they would have missed the writes.
      expect(await onStandby('select 1 from agents where id = $1', [created.body.id])).toBe(0);
    }
    const whileBehind = (await replicas(api))[0];
    expect(whileBehind.behind).toBeGreaterThanOrEqual(before.behind + 15);

    // Caught up again: the replica serves again, and has everything.
    await standby.query('select pg_wal_replay_resume()');
    const resumed = await until('the replica serving again', async () => {
      const res = await api.get(page, org.key);
      const status = (await replicas(api))[0];
      return res.body.data.length === 6 && status.reads > whileBehind.reads && status;
    });
    expect(resumed.healthy).toBe(true);
  });

  it('skips a replica lagging past DATABASE_READ_MAX_LAG_MS and one that is down; reads stay correct and the API ready', async () => {
    const down = 'postgresql://postgres@127.0.0.1:1/agenthub';
    const api = await start({ DATABASE_READ_URLS: `${replicaUrlOfTestDatabase()},${down}`, DATABASE_READ_MAX_LAG_MS: '300' });
    const [healthy, unreachable] = await until('the first poll', async () => {
      const [a, b] = await replicas(api);
      return a.healthy && b.reason === 'unreachable' && [a, b];
    });
    expect(healthy.lagMs).toBeLessThanOrEqual(300);
    // Public: a reason, never the host or the driver's message (those go to the log).
    expect(unreachable).toEqual({ healthy: false, reason: 'unreachable', lagMs: null, reads: 0, behind: 0 });
    expect(await api.waitForLine(/read replica postgresql:\/\/postgres@127\.0\.0\.1:1\/agenthub skipped: unreachable/)).toBeTruthy();

    const org = await api.createOrganization();
    await pauseReplay();
    // Writes move the primary on while the replica stands still: its lag grows past the bound.
    const lagging = await until('the replica skipped for lag', async () => {
      await api.post('/api/v1/agents', org.key, agentBody());
      const [a] = await replicas(api);
      return !a.healthy && a.reason === 'lagging' && a;
    });
    expect(lagging.lagMs).toBeGreaterThan(300);
    const created = await api.post('/api/v1/agents', org.key, agentBody());
    const reads = (await replicas(api))[0].reads;
    for (let i = 0; i < 3; i++) expect((await api.get(`/api/v1/agents/${created.body.id}`, org.key)).status).toBe(200);
    expect((await replicas(api))[0].reads).toBe(reads); // none went to the skipped replica
    expect((await api.get('/health/ready', null)).status).toBe(200);

    await standby.query('select pg_wal_replay_resume()');
    await until('the replica back in use', async () => (await replicas(api))[0].healthy);
  });

  it('skips a replica whose connections went silent (no error, no reset) within seconds, and reads go on', async () => {
    const replica = new URL(replicaUrlOfTestDatabase());
    const proxy = await FreezableProxy.start({ host: replica.hostname, port: Number(replica.port || 5432) });
    try {
      const api = await start({ DATABASE_READ_URLS: proxy.urlFor(replicaUrlOfTestDatabase()) });
      await until('the replica in use', async () => (await replicas(api))[0].healthy);
      const org = await api.createOrganization();
      const agent = await api.post('/api/v1/agents', org.key, agentBody());
      await until('a read served by the replica', async () => (await api.get(`/api/v1/agents/${agent.body.id}`, org.key)).status === 200 && (await replicas(api))[0].reads > 0);
      proxy.freeze();
      const frozenAt = Date.now();
      const skipped = await until('the silent replica skipped', async () => {
        const [r] = await replicas(api);
        return !r.healthy && r;
      });
      expect(skipped.reason).toBe('unreachable');
      expect(Date.now() - frozenAt).toBeLessThan(5_000);
      const reads = skipped.reads;
      for (let i = 0; i < 3; i++) expect((await api.get(`/api/v1/agents/${agent.body.id}`, org.key)).status).toBe(200);
      expect((await replicas(api))[0].reads).toBe(reads);
      proxy.thaw();
    } finally {
      proxy.thaw();
      await proxy.close();
    }
  });

  it('refuses a DATABASE_READ_URLS that is not a list of PostgreSQL URLs, naming the variable', async () => {
    const api = ApiProcess.spawn({ env: { DATABASE_URL: process.env.TEST_DATABASE_URL, DATABASE_READ_URLS: 'mysql://replica/agenthub', AGENTHUB_ADMIN_TOKEN: TEST_ADMIN_TOKEN } });
    const exit = await api.exited;
    expect(exit.code).not.toBe(0);
    expect(api.output).toMatch(/DATABASE_READ_URLS: must be postgres:\/\/ or postgresql:\/\/ URLs/);
  });
});
