import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { type PrismaService } from '@agenthub/db';
import { describeOnPostgres, ensureSiblingDatabase, makeOrganization } from '@agenthub/db/testing';
import { makeAdkPostgres, makeAdkSqlite } from '../../../test/fixtures/legacy-stores';
import { ImportService } from '../import.service';
import { AdkSource } from './adk.source';
import { openImportKit } from '../../../test/import-kit';

describe(AdkSource.name, () => {
  let kit: ReturnType<typeof openImportKit>;
  let prisma: PrismaService;
  let service: ImportService;
  let dir: string;
  beforeAll(() => ({ prisma, service, dir } = kit = openImportKit('agenthub-adk-')));
  afterAll(() => kit.close());

  async function importFrom(location: string, options: { dryRun?: boolean } = {}) {
    const org = await makeOrganization(prisma);
    const sut = await AdkSource.open(location);
    try {
      return { org, summary: await service.run(sut, { organizationId: org.id, ...options }) };
    } finally {
      await sut.close();
    }
  }

  async function conversationsOf(organizationId: string) {
    return prisma.conversation.findMany({
      where: { organizationId },
      orderBy: { sessionId: 'asc' },
      select: {
        sessionId: true, title: true, metadata: true, createdAt: true, lastActivityAt: true, messageCount: true,
        agent: { select: { name: true, metadata: true } },
        user: { select: { externalId: true, metadata: true } },
        messages: { orderBy: { seq: 'asc' }, select: { seq: true, role: true, content: true, messageType: true, toolName: true, toolArgs: true, toolCallId: true, tokensUsed: true, clientId: true, createdAt: true, metadata: true } },
      },
    });
  }

  /** `legacy`: the older events table has no usage_metadata column, so no token counts. */
  function expectFaithful(conversations: Awaited<ReturnType<typeof conversationsOf>>, legacy = false) {
    const [alice, bob] = conversations;
    expect(alice).toMatchObject({
      sessionId: 's-1',
      title: 'Alice asks',
      createdAt: new Date('2025-01-23T10:00:00.000Z'),
      lastActivityAt: new Date('2025-01-23T10:01:40.000Z'),
      metadata: { state: { topic: 'weather', title: 'Alice asks' }, source: { kind: 'adk', appName: 'weather_app', userId: 'alice', sessionId: 's-1' } },
      agent: { name: 'weather_app', metadata: expect.objectContaining({ adkState: { 'app:units': 'metric' } }) },
      user: { externalId: 'alice', metadata: expect.objectContaining({ adkState: { weather_app: { 'user:home': 'Paris' } } }) },
      messageCount: 5,
    });
    // the partial event e2 and the state-only event e6 are not messages
    expect(alice.messages.map((m) => [m.seq, m.role, m.messageType, m.clientId])).toEqual([
      [1, 'user', 'text', 'adk:e1'],
      [2, 'assistant', 'thinking', 'adk:e3#thought'],
      [3, 'assistant', 'tool_call', 'adk:e3#1'],
      [4, 'tool', 'tool_response', 'adk:e4#0'],
      [5, 'assistant', 'text', 'adk:e5'],
    ]);
    expect(alice.messages[0]).toMatchObject({ content: 'Weather in Paris?', createdAt: new Date('2025-01-23T10:00:01.000Z') });
    expect(alice.messages[2]).toMatchObject({ toolName: 'get_weather', toolArgs: { city: 'Paris' }, toolCallId: 'fc-1', tokensUsed: legacy ? null : 120 });
    expect(alice.messages[3]).toMatchObject({ toolName: 'get_weather', toolCallId: 'fc-1', content: '{"temp":12}', metadata: expect.objectContaining({ response: { temp: 12 } }) });
    expect(alice.messages[4]).toMatchObject({ content: 'It is 12 °C in Paris.', metadata: expect.objectContaining({ turnComplete: true }) });
    expect(bob.messages.map((m) => [m.role, m.messageType, m.content])).toEqual([
      ['user', 'text', 'Hello'],
      ['assistant', 'error', 'blocked by safety filter'],
    ]);
  }

  it.each([
    ['current schema (event_data JSON)', false],
    ['older schema (one column per event field)', true],
  ])('imports a SQLite store, %s', async (_name, legacy) => {
    const file = makeAdkSqlite(path.join(dir, `adk-${legacy ? 'v0' : 'v1'}.db`), { legacy });
    const { org, summary } = await importFrom(file);
    expect(summary.status).toBe('completed');
    expect(summary.verification?.ok).toBe(true);
    expect(summary.counts['adkEvents']).toMatchObject({ read: 10, rejected: 2 });
    expect(summary.counts['adkPartialEvents']).toMatchObject({ read: 1 });
    expect(summary.counts['messages']).toMatchObject({ written: 7 });
    expect(summary.rejections).toEqual(
      expect.arrayContaining([
        { entity: 'adkEvents', sourceId: 'e9', reason: expect.stringMatching(/not valid JSON/) },
        { entity: 'adkEvents', sourceId: 'e10', reason: 'session s-gone does not exist' },
      ]),
    );
    expectFaithful(await conversationsOf(org.id), legacy);
  });

  it('reads an integer beyond 2^53 as the nearest number instead of failing the import', async () => {
    const file = makeAdkSqlite(path.join(dir, 'adk-huge.db'), { legacy: true });
    const db = new DatabaseSync(file);
    db.exec(`UPDATE events SET turn_complete = 9223372036854775807 WHERE id = 'e5'`);
    db.close();
    const { org, summary } = await importFrom(file);
    expect(summary.status).toBe('completed');
    expectFaithful(await conversationsOf(org.id), true);
  });

  it('a second run changes nothing and a dry run writes nothing', async () => {
    const file = makeAdkSqlite(path.join(dir, 'adk-rerun.db'));
    const { org } = await importFrom(file);
    const before = await conversationsOf(org.id);
    const sut = await AdkSource.open(file);
    const again = await service.run(sut, { organizationId: org.id });
    await sut.close();
    expect(again.counts['messages']).toMatchObject({ written: 0, updated: 0, skipped: 7 });
    expect(await conversationsOf(org.id)).toEqual(before);

    const { org: dryOrg, summary: dry } = await importFrom(file, { dryRun: true });
    expect(dry.counts['messages']).toMatchObject({ written: 7 });
    expect(dry.verification?.ok).toBe(true);
    expect(await prisma.conversation.count({ where: { organizationId: dryOrg.id } })).toBe(0);
  });

  it('refuses a file that is not an ADK store', async () => {
    const file = path.join(dir, 'not-adk.json');
    fs.writeFileSync(file, '{}');
    await expect(AdkSource.open(file)).rejects.toThrow(/is not an ADK session store: file is not a database/);
  });

  describeOnPostgres('from a PostgreSQL database', () => {
    it('imports JSONB state and events with UTC timestamps', async () => {
      const url = await ensureSiblingDatabase(process.env.TEST_DATABASE_URL!, 'adk_source');
      await makeAdkPostgres(url);
      const { org, summary } = await importFrom(url);
      expect(summary.status).toBe('completed');
      expect(summary.verification?.ok).toBe(true);
      expect(summary.rejections).toEqual([{ entity: 'adkEvents', sourceId: 'e10', reason: 'session s-gone does not exist' }]);
      expectFaithful(await conversationsOf(org.id));
    });
  });
});
