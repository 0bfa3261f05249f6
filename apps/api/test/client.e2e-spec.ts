import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { AgentHubError, createAgentHubClient, paginate, type AgentHubClient } from '@agenthub/client';
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

/** @agenthub/client against the real API over HTTP: the generated types, errors, idempotency, paging, retries. */
describe('@agenthub/client against the API', () => {
  let api: TestApi;
  let hub: AgentHubClient;

  beforeAll(async () => {
    api = await TestApi.start();
    const admin = createAgentHubClient({ baseUrl: api.baseUrl, apiKey: TEST_ADMIN_TOKEN });
    const { data } = await admin.POST('/api/v1/organizations', { body: { name: 'client-e2e', ownerEmail: 'owner@client-e2e.test' } });
    hub = createAgentHubClient({ baseUrl: api.baseUrl, apiKey: data!.apiKey.key });
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
