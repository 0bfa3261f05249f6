import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { PrismaService } from '@agenthub/db';
import { makeOrganization } from '@agenthub/db/testing';
import { makeAgentosFile } from '../../../test/fixtures/legacy-stores';
import { tenantSnapshot } from '../../../test/fixtures/snapshots';
import { openImportKit } from '../../../test/import-kit';
import { ImportService } from '../import.service';
import { AGENTOS_TODAY_T0 as T0, interruptedAfter, makeAgentosTodayFiles, memorySnapshot, type AgentosTodayFiles } from '../testing/import-test-sources';
import { AgentosSqliteSource } from './agentos-sqlite.source';

/** A copy of a fixture file, changed as files in the wild are (NULLs, malformed JSON, rows AgentOS would not write). */
function damaged(file: string, to: string, sql: string): string {
  fs.copyFileSync(file, to);
  // node:sqlite enforces foreign keys by default; AgentOS's files (sql.js) do not, and orphans occur in them.
  const db = new DatabaseSync(to, { enableForeignKeyConstraints: false });
  db.exec(sql);
  db.close();
  return to;
}

/** Float32 little-endian, as AgentOS's NodeBlobCodec writes embeddings. */
const blob = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

describe(`${AgentosSqliteSource.name} (files today's AgentOS writes)`, () => {
  let kit: ReturnType<typeof openImportKit>;
  let prisma: PrismaService;
  let sut: ImportService;
  let dir: string;
  let dims: number;
  let files: AgentosTodayFiles;

  beforeAll(async () => {
    ({ prisma, service: sut, dir } = kit = openImportKit('agenthub-agentos-today-'));
    dims = await sut.embeddingDimensions();
    files = makeAgentosTodayFiles(dir, dims);
  });
  afterAll(() => kit.close());

  async function importFile(file: string, organizationId: string, options: Partial<Parameters<ImportService['run']>[1]> = {}) {
    const source = await AgentosSqliteSource.open(file, dims);
    try {
      return await sut.run(source, { organizationId, ...options });
    } finally {
      await source.close();
    }
  }

  /** ConversationManager's file with the damage real files carry. */
  function wildConversationManagerFile(name: string): string {
    return damaged(
      files.conversationManager,
      path.join(dir, name),
      `INSERT INTO conversations (id, user_id, gmi_instance_id, title, language, session_details, is_archived, tags, created_at, updated_at)
         VALUES ('cm-4', 'user-b', NULL, NULL, NULL, '{"activePersonaId":', NULL, 'not json', ${T0}, ${T0 + 90_000}),
                ('cm-5', 'user-b', 'gmi-instance-0005', 'bad time', NULL, '{}', 0, '[]', 'yesterday', ${T0});
       INSERT INTO conversation_messages (id, conversation_id, role, content, timestamp, tool_calls, tool_call_id, metadata) VALUES
         ('w-tie-b', 'cm-4', 'user', 'written first', ${T0 + 1000}, NULL, NULL, NULL),
         ('w-tie-a', 'cm-4', 'user', 'written second', ${T0 + 1000}, NULL, NULL, 'not json'),
         ('w-iso', 'cm-4', 'assistant', 'at an ISO time', '2025-01-23T10:00:05.000Z', '[{"broken', NULL, '{}'),
         ('w-robot', 'cm-4', 'robot', 'beep', ${T0 + 6000}, NULL, NULL, '{}'),
         ('w-orphan', 'cm-gone', 'user', 'nobody', ${T0}, NULL, NULL, '{}'),
         ('w-badtime', 'cm-5', 'user', 'lost', ${T0}, NULL, NULL, '{}');`,
    );
  }

  it('detects each schema from its tables, and still the SqliteMemoryAdapter one', async () => {
    const old = makeAgentosFile(path.join(dir, 'v2.sqlite3'), { conversations: 1 });
    const layouts = [];
    for (const file of [old, files.conversationManager, files.storageAdapter, files.brain]) {
      const source = await AgentosSqliteSource.open(file, dims);
      layouts.push(source.layout);
      await source.close();
    }
    expect(layouts).toEqual(['memory-adapter', 'conversation-manager', 'storage-adapter', 'brain']);
  });

  it('imports a ConversationManager file faithfully, with what the wild adds', async () => {
    const file = wildConversationManagerFile('cm-wild.sqlite');
    const org = await makeOrganization(prisma);
    const summary = await importFile(file, org.id);

    expect(summary.status).toBe('completed');
    expect(summary.verification?.ok).toBe(true);
    expect(summary.counts['conversations']).toEqual({ read: 5, written: 4, updated: 0, skipped: 0, rejected: 1 });
    expect(summary.counts['messages']).toEqual({ read: 17, written: 14, updated: 0, skipped: 0, rejected: 3 });
    expect(summary.rejections).toEqual(
      expect.arrayContaining([
        { entity: 'conversations', sourceId: 'cm-5', reason: 'createdAt yesterday is not a time (epoch milliseconds or ISO text)' },
        { entity: 'messages', sourceId: 'w-badtime', reason: 'its conversation cm-5 was rejected' },
        { entity: 'messages', sourceId: 'w-orphan', reason: 'conversation cm-gone does not exist' },
        { entity: 'messages', sourceId: 'w-robot', reason: 'role "robot" is not user, assistant, system or tool (or summary, error, thought)' },
      ]),
    );
    expect(summary.warnings.map((w) => `${w.sourceId}: ${w.reason}`)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^cm-4: sessionDetails is not valid JSON/),
        expect.stringMatching(/^cm-4: tags is not valid JSON/),
        expect.stringMatching(/^w-tie-a: metadata is not valid JSON/),
        expect.stringMatching(/^w-iso: tool_calls is not valid JSON/),
      ]),
    );

    const snap = await tenantSnapshot(prisma, org.id);
    // Agents are the personas the sessions ran; a session without one is its GMI instance, else agentos-default
    // (as for SqliteMemoryAdapter files, agents and users of rejected conversations are created too).
    expect(snap.agents.map((a) => a.name)).toEqual(['agentos-default', 'gmi-instance-0003', 'gmi-instance-0005', 'v_assistant', 'v_researcher']);
    expect(snap.users.map((u) => u.externalId)).toEqual(['user-a', 'user-b']);
    const source = new DatabaseSync(file, { readOnly: true });
    const cm1 = source.prepare(`SELECT * FROM conversations WHERE id = 'cm-1'`).get() as { created_at: number; updated_at: number; session_details: string };
    const research = snap.conversations.find((c) => c.sessionId === 'cm-1')!;
    expect(research).toMatchObject({
      title: 'Research chat',
      agent: { name: 'v_researcher' },
      user: { externalId: 'user-a' },
      messageCount: 8,
      createdAt: new Date(Number(cm1.created_at)),
      lastActivityAt: new Date(Number(cm1.updated_at)),
      metadata: {
        source: { kind: 'agentos-sqlite', conversationId: 'cm-1', schema: 'conversation-manager' },
        gmiInstanceId: 'gmi-instance-0001',
        language: 'de',
        isArchived: true,
        tags: ['work', 'urgent'],
        sessionDetails: JSON.parse(cm1.session_details),
      },
    });
    // Source against target, message by message: order (timestamp, then id), role and content.
    const rows = source.prepare(`SELECT id, role, content FROM conversation_messages WHERE conversation_id = 'cm-1' ORDER BY timestamp, id`).all() as Array<{ id: string; role: string; content: string }>;
    source.close();
    expect(research.messages.map((m) => m.clientId)).toEqual(rows.map((r) => `agentos:${r.id}`));
    const [system, user, call, tool, thought, parts, summaryMsg, error] = research.messages;
    expect(system).toMatchObject({ role: 'system', content: 'You are a researcher.', messageType: 'text', createdAt: new Date(T0) });
    expect(user).toMatchObject({ role: 'user', content: 'Wetter in Zürich? 🌦️', tokensUsed: 6, metadata: expect.objectContaining({ legacy: { language: 'de', tokenCount: 6 } }) });
    expect(call).toMatchObject({
      role: 'assistant',
      content: '',
      messageType: 'tool_call',
      toolName: 'get_weather',
      toolArgs: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Zürich' } }],
      model: 'gpt-4o',
      tokensUsed: 15,
      metadata: expect.objectContaining({ agentos: { content: null } }),
    });
    expect(tool).toMatchObject({ role: 'tool', messageType: 'tool_response', toolCallId: 'call_1', content: '{"temp":3}' });
    expect(thought).toMatchObject({ role: 'assistant', messageType: 'thinking', content: 'It is cold; suggest a coat.', metadata: expect.objectContaining({ agentos: { role: 'thought' } }) });
    expect(parts).toMatchObject({
      role: 'assistant',
      content: 'Es ist kalt.',
      metadata: expect.objectContaining({
        agentos: {
          contentParts: [{ type: 'text', text: 'Es ist kalt.' }],
          multimodalData: { images: [{ url: 'https://example.com/coat.png' }] },
          audioUrl: 'https://example.com/a.mp3',
          audioTranscript: 'Es ist kalt.',
          voiceSettings: { voice: 'alloy', speed: 1.1 },
        },
      }),
    });
    expect(summaryMsg).toMatchObject({ role: 'system', messageType: 'text', metadata: expect.objectContaining({ agentos: { role: 'summary' }, legacy: { summarizedMessageIds: ['m1', 'm2'] } }) });
    expect(error).toMatchObject({ role: 'assistant', messageType: 'error', content: 'Rate limited', metadata: expect.objectContaining({ agentos: { role: 'error' } }) });

    const wild = snap.conversations.find((c) => c.sessionId === 'cm-4')!;
    expect(wild).toMatchObject({ title: null, agent: { name: 'agentos-default' }, metadata: { sessionDetailsRaw: '{"activePersonaId":', tagsRaw: 'not json', gmiInstanceId: null } });
    expect(wild.metadata).not.toHaveProperty('language');
    expect(wild.messages.map((m) => [m.clientId, m.content, m.createdAt])).toEqual([
      // equal timestamps in the order written (rowid), as ConversationManager reads them back — not by id
      ['agentos:w-tie-b', 'written first', new Date(T0 + 1000)],
      ['agentos:w-tie-a', 'written second', new Date(T0 + 1000)],
      ['agentos:w-iso', 'at an ISO time', new Date(T0 + 5000)],
    ]);
    expect(wild.messages[1].metadata).toMatchObject({ legacyRaw: 'not json' });
    expect(wild.messages[2]).toMatchObject({ messageType: 'text', toolArgs: null, metadata: expect.objectContaining({ toolCallsRaw: '[{"broken' }) });
    expect(snap.conversations.find((c) => c.sessionId === 'cm-3')).toMatchObject({ agent: { name: 'gmi-instance-0003' }, messageCount: 1 });
  });

  it('imports a SqlStorageAdapter file: token columns, model, tool name, conversation metadata', async () => {
    const org = await makeOrganization(prisma);
    const summary = await importFile(files.storageAdapter, org.id);
    expect(summary).toMatchObject({ status: 'completed', verification: { ok: true } });
    expect(summary.counts['messages']).toEqual({ read: 5, written: 5, updated: 0, skipped: 0, rejected: 0 });
    const snap = await tenantSnapshot(prisma, org.id);
    expect(snap.agents.map((a) => a.name)).toEqual(['agentos-default', 'support-bot']);
    const billing = snap.conversations.find((c) => c.sessionId === 'sa-1')!;
    expect(billing).toMatchObject({
      title: 'Billing',
      agent: { name: 'support-bot' },
      user: { externalId: 'user-a' },
      createdAt: new Date(T0),
      lastActivityAt: new Date(T0 + 3000),
      metadata: { legacy: { channel: 'web' }, source: { schema: 'storage-adapter' } },
    });
    // sa-m3 and sa-m4 share a timestamp: by id
    expect(billing.messages.map((m) => m.clientId)).toEqual(['agentos:sa-m1', 'agentos:sa-m2', 'agentos:sa-m3', 'agentos:sa-m4']);
    const [, call, tool, answer] = billing.messages;
    expect(call).toMatchObject({
      messageType: 'tool_call',
      toolName: 'find_invoice',
      model: 'claude-sonnet',
      tokensUsed: 15,
      metadata: expect.objectContaining({ tokens: { prompt: 10, completion: 5, total: 15, cacheRead: 4, cacheCreation: null }, legacy: { traceId: 'tr-1' } }),
    });
    expect(tool).toMatchObject({ role: 'tool', messageType: 'tool_response', toolName: 'find_invoice', toolCallId: 'call_9', metadata: expect.objectContaining({ agentos: { name: 'find_invoice' } }) });
    expect(answer).toMatchObject({ tokensUsed: 24, model: null });
    expect(snap.conversations.find((c) => c.sessionId === 'sa-2')).toMatchObject({ agent: { name: 'agentos-default' }, user: { externalId: 'user-c' }, title: null });
  });

  /** The brain with traces AgentHub cannot take: tombstoned, no embedding, another dimension, a malformed column. */
  function wildBrainFile(name: string): string {
    const file = damaged(
      files.brain,
      path.join(dir, name),
      `INSERT INTO memory_traces (brain_id, id, type, scope, content, embedding, strength, created_at, tags, emotions, metadata, deleted) VALUES
         ('companion-alice', 'mt_deleted', 'semantic', 'user', 'forgotten', NULL, 0.5, ${T0}, '[]', '{}', '{}', 1),
         ('companion-alice', 'mt_noembed', 'semantic', 'user', 'not yet embedded', NULL, 0.5, ${T0}, '[]', '{}', '{"scopeId":"user-z"}', 0),
         ('companion-alice', 'mt_wrongdim', 'semantic', 'organization', 'other model', X'0000803F0000803F', 0.5, ${T0}, '[]', '{}', '{}', 0),
         ('companion-alice', 'mt_wild', 'prospective', 'user', 'call mom', NULL, 1.7, '2025-01-23T10:00:00Z', 'not json', '{"valence":', '{"scopeId":"user-b"}', 0);
       INSERT INTO archived_traces (brain_id, trace_id, agent_id, verbatim_content, content_hash, trace_type, emotional_context, entities, tags, created_at, archived_at, archive_reason, byte_size)
         VALUES ('companion-alice', 'mt_archived_2', 'companion-bob', 'bob said hi', 'h2', 'semantic', 'oops', '[]', '[]', ${T0}, ${T0 + 1}, 'lifecycle_archive', 11);`,
    );
    const db = new DatabaseSync(file);
    db.prepare(`UPDATE memory_traces SET embedding = ? WHERE id = 'mt_wild'`).run(blob(Array.from({ length: dims }, (_, i) => (i === 1 ? 0.5 : 0))));
    db.close();
    return file;
  }

  it('imports the cognitive memory: traces as memories with their embeddings, archived traces as documents', async () => {
    const file = wildBrainFile('brain-wild.sqlite');
    const org = await makeOrganization(prisma);
    const summary = await importFile(file, org.id);
    expect(summary).toMatchObject({ status: 'completed', verification: { ok: true } });
    expect(summary.verification?.checks).toContainEqual({ name: 'memories present', expected: 4, actual: 4, ok: true });
    expect(summary.counts['memories']).toEqual({ read: 7, written: 4, updated: 0, skipped: 0, rejected: 3 });
    expect(summary.counts['documents']).toEqual({ read: 2, written: 2, updated: 0, skipped: 0, rejected: 0 });
    expect(summary.rejections).toEqual(
      expect.arrayContaining([
        { entity: 'memories', sourceId: 'agentos:companion-alice:mt_deleted', reason: expect.stringContaining('deleted in AgentOS') },
        { entity: 'memories', sourceId: 'agentos:companion-alice:mt_noembed', reason: expect.stringContaining('has no embedding') },
        { entity: 'memories', sourceId: 'agentos:companion-alice:mt_wrongdim', reason: `its embedding has 2 dimensions, the target's memories ${dims}` },
      ]),
    );
    expect(summary.warnings.map((w) => `${w.sourceId}: ${w.reason}`)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^agentos:companion-alice:mt_wild: tags is not valid JSON/),
        'agentos:companion-alice:mt_wild: strength 1.7 is outside 0..1; importance clamped',
        expect.stringMatching(/^agentos-archive:companion-alice:mt_archived_2: emotionalContext is not valid JSON/),
      ]),
    );

    // Source against target: every imported trace's content, type, strength and embedding (float32, as pgvector stores it).
    const { memories, documents } = await memorySnapshot(prisma, org.id);
    const db = new DatabaseSync(file, { readOnly: true });
    const traces = db.prepare(`SELECT * FROM memory_traces WHERE id NOT IN ('mt_deleted', 'mt_noembed', 'mt_wrongdim') ORDER BY content`).all() as Array<Record<string, unknown>>;
    db.close();
    expect(memories.map((m) => [m['content'], m['kind']])).toEqual(traces.map((t) => [t['content'], t['type']]));
    for (const [i, t] of traces.entries()) {
      // pgvector prints float4 values shortest-first; Math.fround gives back the float32 each stands for.
      const stored = (JSON.parse(memories[i]['embedding'] as string) as number[]).map(Math.fround);
      const bytes = t['embedding'] as Uint8Array;
      expect(stored).toEqual(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)));
    }
    const byContent = new Map(memories.map((m) => [m['content'], m]));
    expect(byContent.get('User prefers dark mode')).toMatchObject({
      agent: 'companion-alice',
      user: 'user-a',
      importance: 0.8,
      kind: 'semantic',
      metadata: {
        source: { kind: 'agentos-sqlite', brainId: 'companion-alice', traceId: files.traces[0] },
        agentos: { scope: 'user', strength: 0.8, retrievalCount: 0, tags: ['ui'], emotions: {}, metadata: expect.objectContaining({ scopeId: 'user-a', entities: ['dark mode'] }) },
      },
    });
    // persona scope `<user>::<persona>`: the persona is the agent, as for conversations
    expect(byContent.get('Met Bob at the conference')).toMatchObject({ agent: 'v_researcher', user: 'user-a', kind: 'episodic', importance: 0.6 });
    expect(byContent.get('Always greet in German')).toMatchObject({ agent: 'companion-alice', user: null, kind: 'procedural', importance: 1 });
    expect(byContent.get('call mom')).toMatchObject({
      user: 'user-b',
      importance: 1,
      created_at: new Date(T0),
      metadata: { agentos: { tagsRaw: 'not json', emotionsRaw: '{"valence":' } },
    });

    expect(documents).toEqual([
      {
        title: 'mt_archived_1',
        content: 'The user said: call me Ali.',
        agent: { name: 'companion-alice' },
        createdAt: new Date(T0),
        metadata: {
          kind: 'agentos_archive',
          source: { kind: 'agentos-sqlite', brainId: 'companion-alice', traceId: 'mt_archived_1' },
          agentosArchive: {
            brainId: 'companion-alice',
            agentId: 'companion-alice',
            contentHash: 'abc123',
            traceType: 'episodic',
            emotionalContext: { valence: 0.4, arousal: 0.2 },
            entities: ['Ali'],
            tags: ['name'],
            createdAt: T0,
            archivedAt: T0 + 86_400_000,
            archiveReason: 'temporal_gist',
            byteSize: 27,
          },
        },
      },
      expect.objectContaining({ title: 'mt_archived_2', agent: { name: 'companion-bob' }, metadata: expect.objectContaining({ agentosArchive: expect.objectContaining({ emotionalContextRaw: 'oops' }) }) }),
    ]);
    const snap = await tenantSnapshot(prisma, org.id);
    expect(snap.agents.map((a) => a.name)).toEqual(['companion-alice', 'companion-bob', 'v_researcher']);
    expect(snap.users.map((u) => u.externalId)).toEqual(['user-a', 'user-b', 'user-z']);
  });

  it('dry run writes nothing; a re-run changes nothing; replace restores an edited memory', async () => {
    const brain = wildBrainFile('brain-rerun.sqlite');
    const cm = wildConversationManagerFile('cm-rerun.sqlite');
    for (const file of [brain, cm]) {
      const fresh = await makeOrganization(prisma);
      const dry = await importFile(file, fresh.id, { dryRun: true });
      expect(dry).toMatchObject({ status: 'completed', dryRun: true, verification: { ok: true } });
      expect(await prisma.agent.count({ where: { organizationId: fresh.id } })).toBe(0);
      expect(await prisma.$queryRaw`SELECT count(*)::int AS n FROM memories WHERE organization_id = ${fresh.id}::uuid`).toEqual([{ n: 0 }]);
      expect(await prisma.document.count({ where: { organizationId: fresh.id } })).toBe(0);
      expect(await prisma.conversation.count({ where: { organizationId: fresh.id } })).toBe(0);
      expect((await importFile(file, fresh.id)).counts).toEqual(dry.counts);
    }
    const org = await makeOrganization(prisma);
    await importFile(brain, org.id);
    await importFile(cm, org.id);
    const before = { ...(await tenantSnapshot(prisma, org.id)), ...(await memorySnapshot(prisma, org.id)) };
    for (const file of [brain, cm]) {
      const again = await importFile(file, org.id);
      expect(again).toMatchObject({ status: 'completed', resumed: false, verification: { ok: true } });
      for (const c of Object.values(again.counts)) expect([c.written, c.updated]).toEqual([0, 0]);
    }
    expect({ ...(await tenantSnapshot(prisma, org.id)), ...(await memorySnapshot(prisma, org.id)) }).toEqual(before);

    await prisma.$executeRaw`UPDATE memories SET content = 'edited', importance = 0 WHERE organization_id = ${org.id}::uuid AND content = 'call mom'`;
    const replaced = await importFile(brain, org.id, { onConflict: 'replace' });
    expect(replaced.counts['memories']).toMatchObject({ written: 0, updated: 1 });
    expect(replaced.counts['documents']).toMatchObject({ written: 0, updated: 0 });
    expect((await memorySnapshot(prisma, org.id)).memories).toEqual(before.memories);
    const failed = await importFile(brain, org.id, { onConflict: 'fail' });
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringMatching(/already exists in the target/) });
  });

  it('an interrupted import of a brain and of a ConversationManager file resumes and ends as an uninterrupted one', async () => {
    const brain = wildBrainFile('brain-resume.sqlite');
    const cm = wildConversationManagerFile('cm-resume.sqlite');
    for (const file of [cm, brain]) {
      const straight = await makeOrganization(prisma);
      const org = await makeOrganization(prisma);
      const reference = await importFile(file, straight.id, { batchSize: 2 });
      expect(reference.verification?.ok).toBe(true);
      const source = await AgentosSqliteSource.open(file, dims);
      const crashed = await sut.run(interruptedAfter(source, 2), { organizationId: org.id, batchSize: 2, onConflict: 'fail' });
      await source.close();
      expect(crashed).toMatchObject({ status: 'failed', error: 'simulated crash' });
      // fail mode would stop at the first row the crashed run wrote, unless the run really resumes after it
      const resumed = await importFile(file, org.id, { batchSize: 2, onConflict: 'fail' });
      expect(resumed).toMatchObject({ status: 'completed', resumed: true, runId: crashed.runId, verification: { ok: true } });
      expect(resumed.counts).toEqual(reference.counts);
      expect(await tenantSnapshot(prisma, org.id)).toEqual(await tenantSnapshot(prisma, straight.id));
      expect(await memorySnapshot(prisma, org.id)).toEqual(await memorySnapshot(prisma, straight.id));
    }
  });

  it("imports a brain's own conversations and messages", async () => {
    const file = damaged(
      files.brain,
      path.join(dir, 'brain-conversations.sqlite'),
      `INSERT INTO conversations (brain_id, id, title, created_at, updated_at, metadata) VALUES ('companion-alice', 'bc-1', 'Imported chat', ${T0}, ${T0 + 10}, '{"from":"chatgpt"}');
       INSERT INTO messages (brain_id, id, conversation_id, role, content, created_at, metadata) VALUES
         ('companion-alice', 'bm-2', 'bc-1', 'assistant', 'hello', ${T0 + 2}, '{}'),
         ('companion-alice', 'bm-1', 'bc-1', 'user', 'hi', ${T0 + 1}, '{}');`,
    );
    const org = await makeOrganization(prisma);
    const summary = await importFile(file, org.id);
    expect(summary).toMatchObject({ status: 'completed', verification: { ok: true } });
    expect(summary.counts['memories']).toMatchObject({ written: 3 });
    const [conversation] = (await tenantSnapshot(prisma, org.id)).conversations;
    expect(conversation).toMatchObject({
      sessionId: 'bc-1',
      title: 'Imported chat',
      agent: { name: 'companion-alice' },
      user: null,
      metadata: { brainId: 'companion-alice', legacy: { from: 'chatgpt' }, source: { schema: 'brain' } },
    });
    expect(conversation.messages.map((m) => [m.role, m.content])).toEqual([['user', 'hi'], ['assistant', 'hello']]);
  });

  it('reads a v1 brain (no brain_id: the brain is named after the file, as AgentOS does) and a brain without embeddings', async () => {
    const file = path.join(dir, 'old-brain.sqlite');
    const db = new DatabaseSync(file);
    // memory_traces as v1 created it (migrations/v1-to-v2.js adds brain_id), and no conversation tables
    db.exec(`CREATE TABLE memory_traces (id TEXT PRIMARY KEY, type TEXT NOT NULL, scope TEXT NOT NULL, content TEXT NOT NULL, embedding BLOB,
               strength REAL NOT NULL DEFAULT 1.0, created_at INTEGER NOT NULL, last_accessed INTEGER, retrieval_count INTEGER NOT NULL DEFAULT 0,
               tags TEXT NOT NULL DEFAULT '[]', emotions TEXT NOT NULL DEFAULT '{}', metadata TEXT NOT NULL DEFAULT '{}', deleted INTEGER NOT NULL DEFAULT 0)`);
    const add = db.prepare(`INSERT INTO memory_traces (id, type, scope, content, embedding, created_at, last_accessed) VALUES (?, 'semantic', 'user', ?, ?, ?, ?)`);
    add.run('t1', 'likes tea', blob(Array.from({ length: dims }, (_, i) => i + 1)), T0, T0 + 5);
    add.run('t2', 'no vector', null, T0, null);
    db.close();
    const org = await makeOrganization(prisma);
    const summary = await importFile(file, org.id);
    expect(summary).toMatchObject({ status: 'completed', verification: { ok: true } });
    expect(summary.counts['memories']).toEqual({ read: 2, written: 1, updated: 0, skipped: 0, rejected: 1 });
    const { memories } = await memorySnapshot(prisma, org.id);
    expect(memories).toEqual([
      expect.objectContaining({ content: 'likes tea', agent: 'old-brain', user: null, metadata: expect.objectContaining({ agentos: expect.objectContaining({ lastAccessed: new Date(T0 + 5).toISOString() }) }) }),
    ]);
  });
});
