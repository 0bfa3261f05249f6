import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { MessageRepository, type PrismaService } from '@agenthub/db';
import { makeOrganization } from '@agenthub/db/testing';
import { AGENTOS_T0, makeAgentosFile } from '../../test/fixtures/legacy-stores';
import { tenantSnapshot } from '../../test/fixtures/snapshots';
import { ImportService } from './import.service';
import { AgentosSqliteSource } from './sources/agentos-sqlite.source';
import { openImportKit } from '../../test/import-kit';
import { interruptedAfter } from './testing/import-test-sources';

describe(ImportService.name, () => {
  let kit: ReturnType<typeof openImportKit>;
  let prisma: PrismaService;
  let sut: ImportService;
  let dir: string;
  beforeAll(() => ({ prisma, service: sut, dir } = kit = openImportKit('agenthub-import-')));
  afterAll(() => kit.close());

  async function importAgentos(file: string, organizationId: string, options: Partial<Parameters<ImportService['run']>[1]> = {}) {
    const source = await AgentosSqliteSource.open(file);
    try {
      return await sut.run(source, { organizationId, ...options });
    } finally {
      await source.close();
    }
  }

  describe('AgentOS SQLite', () => {
    it('maps conversations, turns, users and agents faithfully and verifies them', async () => {
      const file = makeAgentosFile(path.join(dir, 'edge.sqlite3'), { edgeCases: true });
      const org = await makeOrganization(prisma);
      const summary = await importAgentos(file, org.id);

      expect(summary.status).toBe('completed');
      expect(summary.verification?.ok).toBe(true);
      expect(summary.counts['conversations']).toEqual({ read: 4, written: 3, updated: 0, skipped: 0, rejected: 1 });
      expect(summary.counts['messages']).toEqual({ read: 10, written: 8, updated: 0, skipped: 0, rejected: 2 });
      expect(summary.rejections).toEqual(
        expect.arrayContaining([
          { entity: 'messages', sourceId: 'o1', reason: 'conversation c-gone does not exist' },
          { entity: 'conversations', sourceId: 'c-badtime', reason: expect.stringContaining('createdAt -5') },
          { entity: 'messages', sourceId: 'b1', reason: 'its conversation c-badtime was rejected' },
        ]),
      );
      expect(summary.warnings.map((w) => `${w.sourceId}: ${w.reason}`)).toEqual(
        expect.arrayContaining([expect.stringMatching(/^t5: metadata is not valid JSON/), expect.stringMatching(/^t5: tool_calls is not valid JSON/), 't6: NUL characters removed from content']),
      );

      const snap = await tenantSnapshot(prisma, org.id);
      expect(snap.agents.map((a) => a.name)).toEqual(['sales-bot', 'support-bot']);
      expect(snap.users.map((u) => u.externalId)).toEqual(['u-1', 'u-2']);
      const edge = snap.conversations.find((c) => c.sessionId === 'c-edge')!;
      expect(edge).toMatchObject({
        title: 'Edge cases',
        agent: { name: 'support-bot' },
        user: { externalId: 'u-1' },
        messageCount: 7,
        lastSeq: 7,
        createdAt: new Date(AGENTOS_T0),
        lastActivityAt: new Date(AGENTOS_T0 + 60_000),
        lastMessageAt: new Date(AGENTOS_T0 + 5000),
        metadata: { summary: 'a summary', persona: { tone: 'friendly', name: 'Ava' }, source: { kind: 'agentos-sqlite', conversationId: 'c-edge' } },
      });
      // seq 1..n in timestamp order, ties by storageId
      expect(edge.messages.map((m) => [m.seq, m.clientId])).toEqual([
        [1, 'agentos:t1'], [2, 'agentos:t2'], [3, 'agentos:t3a'], [4, 'agentos:t3b'], [5, 'agentos:t4'], [6, 'agentos:t5'], [7, 'agentos:t6'],
      ]);
      const [system, user, call, , toolResponse, malformed, nul] = edge.messages;
      expect(system).toMatchObject({ role: 'system', content: 'You are helpful.', messageType: 'text', createdAt: new Date(AGENTOS_T0) });
      expect(user).toMatchObject({ content: 'Wetter in Zürich? 🌦️', metadata: expect.objectContaining({ legacy: { lang: 'de' } }) });
      expect(call).toMatchObject({
        role: 'assistant',
        content: '',
        messageType: 'tool_call',
        toolName: 'get_weather',
        toolArgs: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Zürich"}' } }],
        model: 'gpt-4o',
        tokensUsed: 15,
        metadata: expect.objectContaining({ tokens: { prompt: 10, completion: 5, total: 15 } }),
      });
      expect(toolResponse).toMatchObject({ role: 'tool', messageType: 'tool_response', toolCallId: 'call_1', content: '{"temp":3}' });
      expect(malformed).toMatchObject({ messageType: 'text', toolArgs: null, metadata: expect.objectContaining({ toolCallsRaw: '[{"broken', legacyRaw: 'not json' }) });
      expect(nul).toMatchObject({ content: 'nulbyte', tokensUsed: 7 });
      expect(snap.conversations.find((c) => c.sessionId === 'c-noagent')).toMatchObject({ agent: { name: 'sales-bot' }, user: { externalId: 'u-2' }, messageCount: 1 });
      expect(snap.conversations.find((c) => c.sessionId === 'c-empty')).toMatchObject({ messageCount: 0, lastSeq: 0, messages: [] });

      const run = await prisma.importRun.findUniqueOrThrow({ where: { id: summary.runId } });
      expect(run).toMatchObject({ status: 'completed', source: 'agentos-sqlite', organizationId: org.id, dryRun: false });
    });

    it('reads the older schema without persona and rejects rows its missing CHECK let in', async () => {
      const file = makeAgentosFile(path.join(dir, 'legacy.sqlite3'), { edgeCases: true, legacy: true });
      const org = await makeOrganization(prisma);
      const summary = await importAgentos(file, org.id);
      expect(summary.status).toBe('completed');
      expect(summary.verification?.ok).toBe(true);
      expect(summary.rejections).toContainEqual({ entity: 'messages', sourceId: 't7', reason: 'role "robot" is not user, assistant, system or tool' });
      const edge = (await tenantSnapshot(prisma, org.id)).conversations.find((c) => c.sessionId === 'c-edge')!;
      expect(edge.metadata).not.toHaveProperty('persona');
      expect(edge.messageCount).toBe(7);
    });

    it('rejects a turn whose integer does not fit a JavaScript number instead of failing the import', async () => {
      const file = makeAgentosFile(path.join(dir, 'huge.sqlite3'), { conversations: 1, turnsPerConversation: 2 });
      const db = new DatabaseSync(file);
      db.exec(`UPDATE conversation_turns SET total_tokens = 9007199254740993 WHERE storageId = 'conv-000000-t0000'`);
      db.exec(`UPDATE conversation_turns SET timestamp = 9223372036854775807 WHERE storageId = 'conv-000000-t0001'`);
      db.close();
      const org = await makeOrganization(prisma);
      const summary = await importAgentos(file, org.id);
      expect(summary.status).toBe('completed');
      expect(summary.verification?.ok).toBe(true);
      expect(summary.counts['messages']).toMatchObject({ read: 2, written: 1, rejected: 1 });
      expect(summary.rejections).toContainEqual({ entity: 'messages', sourceId: 'conv-000000-t0001', reason: 'timestamp 9223372036854775807 is not an epoch-milliseconds time' });
      const [kept] = (await tenantSnapshot(prisma, org.id)).conversations[0].messages;
      expect(kept).toMatchObject({ clientId: 'agentos:conv-000000-t0000', tokensUsed: null });
    });

    it('dry run reports what a real run writes and writes nothing', async () => {
      const file = makeAgentosFile(path.join(dir, 'dry.sqlite3'), { edgeCases: true });
      const org = await makeOrganization(prisma);
      const dry = await importAgentos(file, org.id, { dryRun: true });
      expect(dry).toMatchObject({ status: 'completed', dryRun: true });
      expect(dry.verification?.ok).toBe(true);
      expect(await prisma.conversation.count({ where: { organizationId: org.id } })).toBe(0);
      expect(await prisma.agent.count({ where: { organizationId: org.id } })).toBe(0);
      expect(await prisma.user.count({ where: { organizationId: org.id } })).toBe(0);
      const real = await importAgentos(file, org.id);
      expect(real.counts).toEqual(dry.counts);
    });

    it('re-run with skip changes nothing; replace restores source values; fail stops with a clear error', async () => {
      const file = makeAgentosFile(path.join(dir, 'rerun.sqlite3'), { edgeCases: true, conversations: 3, turnsPerConversation: 4 });
      const org = await makeOrganization(prisma);
      await importAgentos(file, org.id);
      const before = await tenantSnapshot(prisma, org.id);

      const again = await importAgentos(file, org.id);
      expect(again.status).toBe('completed');
      expect(again.resumed).toBe(false);
      for (const c of Object.values(again.counts)) expect([c.written, c.updated]).toEqual([0, 0]);
      expect(again.counts['messages'].skipped).toBe(20);
      expect(await tenantSnapshot(prisma, org.id)).toEqual(before);

      // Someone edits imported rows; replace puts the source values back (and touches nothing else).
      const conv = await prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id, sessionId: 'c-edge' } });
      await prisma.message.updateMany({ where: { conversationId: conv.id, clientId: 'agentos:t2' }, data: { content: 'edited' } });
      await prisma.conversation.update({ where: { id: conv.id }, data: { title: 'edited' } });
      const skipped = await importAgentos(file, org.id);
      expect(skipped.verification?.ok).toBe(false);
      expect(skipped.verification?.mismatches.join('\n')).toContain('conversation c-edge');
      const replaced = await importAgentos(file, org.id, { onConflict: 'replace' });
      expect(replaced.counts['messages']).toMatchObject({ written: 0, updated: 1 });
      expect(replaced.counts['conversations']).toMatchObject({ written: 0, updated: 1 });
      expect(replaced.verification?.ok).toBe(true);
      const after = await tenantSnapshot(prisma, org.id);
      expect(after.conversations.map((c) => c.messages.map((m) => [m.seq, m.content]))).toEqual(before.conversations.map((c) => c.messages.map((m) => [m.seq, m.content])));
      expect(after.conversations.find((c) => c.sessionId === 'c-edge')?.title).toBe('Edge cases');

      const failed = await importAgentos(file, org.id, { onConflict: 'fail' });
      expect(failed.status).toBe('failed');
      expect(failed.error).toMatch(/already exists in the target .*--on-conflict fail/);
      expect(await prisma.importRun.findUniqueOrThrow({ where: { id: failed.runId } })).toMatchObject({ status: 'failed' });
      expect(await tenantSnapshot(prisma, org.id)).toEqual(after);
    });

    it('a re-run after the source grew appends the new turns after what the conversation has, as the API appends', async () => {
      const file = makeAgentosFile(path.join(dir, 'grown.sqlite3'), { conversations: 2, turnsPerConversation: 3 });
      const org = await makeOrganization(prisma);
      await importAgentos(file, org.id);
      const conv = await prisma.conversation.findFirstOrThrow({ where: { organizationId: org.id, sessionId: 'conv-000000' } });
      // An agent went on talking through the API (seq 4), and the legacy store got two more turns.
      await new MessageRepository(prisma).append(org.id, conv.id, [{ role: 'user', content: 'through the API', clientId: 'api-1' }]);
      const later = AGENTOS_T0 + 3_600_000;
      const sqlite = new DatabaseSync(file);
      const add = sqlite.prepare(`INSERT INTO conversation_turns (storageId, userId, conversationId, agentId, role, content, timestamp)
                                  VALUES (?, 'user-0', 'conv-000000', 'agent-0', ?, ?, ?)`);
      add.run('conv-000000-t0004', 'assistant', 'late answer', later + 10);
      add.run('conv-000000-t0003', 'user', 'late question', later);
      sqlite.close();

      const grown = await importAgentos(file, org.id);
      expect(grown.status).toBe('completed');
      expect(grown.counts['messages']).toMatchObject({ written: 2, skipped: 6 });
      const messages = await prisma.message.findMany({ where: { conversationId: conv.id }, orderBy: { seq: 'asc' } });
      expect(messages.map((m) => [m.seq, m.content])).toEqual([
        [1, expect.stringMatching(/^message 0 /)],
        [2, expect.stringMatching(/^message 1 /)],
        [3, expect.stringMatching(/^message 2 /)],
        [4, 'through the API'],
        [5, 'late question'],
        [6, 'late answer'],
      ]);
      expect(messages[4].createdAt.getTime()).toBe(later);
      const after = await prisma.conversation.findUniqueOrThrow({ where: { id: conv.id } });
      expect(after).toMatchObject({ messageCount: 6, lastSeq: 6 });
      // The imported turns are older than the API's message: lastMessageAt and activity do not move back.
      expect(after.lastMessageAt).toEqual(messages[3].createdAt);
      expect(after.lastActivityAt.getTime()).toBeGreaterThanOrEqual(messages[3].createdAt.getTime());
      // The other conversation is untouched; a further re-run writes nothing.
      expect(await prisma.message.count({ where: { organizationId: org.id } })).toBe(3 + 6);
      expect((await importAgentos(file, org.id)).counts['messages']).toMatchObject({ written: 0 });
    });

    it('an interrupted import resumes where it stopped and ends as an uninterrupted one', async () => {
      const file = makeAgentosFile(path.join(dir, 'resume.sqlite3'), { edgeCases: true, conversations: 30, turnsPerConversation: 7 });
      const straight = await makeOrganization(prisma);
      const reference = await importAgentos(file, straight.id, { batchSize: 20 });
      expect(reference.verification?.ok).toBe(true);

      const org = await makeOrganization(prisma);
      const source = await AgentosSqliteSource.open(file);
      const crashed = await sut.run(interruptedAfter(source, 3), { organizationId: org.id, batchSize: 20, onConflict: 'fail' });
      await source.close();
      expect(crashed).toMatchObject({ status: 'failed', error: 'simulated crash' });
      const partial = await prisma.message.count({ where: { organizationId: org.id } });
      expect(partial).toBeGreaterThan(0);
      expect(partial).toBeLessThan(218);

      // fail mode would stop at the first row the crashed run wrote, unless the run really resumes after it
      const resumed = await importAgentos(file, org.id, { batchSize: 20, onConflict: 'fail' });
      expect(resumed).toMatchObject({ status: 'completed', resumed: true, runId: crashed.runId });
      expect(resumed.verification?.ok).toBe(true);
      expect(resumed.counts).toEqual(reference.counts);
      expect(await tenantSnapshot(prisma, org.id)).toEqual(await tenantSnapshot(prisma, straight.id));
    });

    it('lets only one process at a time import a source into an organization', async () => {
      const file = makeAgentosFile(path.join(dir, 'lock.sqlite3'), { conversations: 30, turnsPerConversation: 7 });
      const org = await makeOrganization(prisma);
      const results = await Promise.allSettled([importAgentos(file, org.id, { batchSize: 20 }), importAgentos(file, org.id, { batchSize: 20 })]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const refused = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
      expect(refused.reason.message).toMatch(/another import of this agentos-sqlite source into organization .* is running/);
      expect(await prisma.message.count({ where: { organizationId: org.id } })).toBe(210);
      // the lock is released afterwards
      expect((await importAgentos(file, org.id)).status).toBe('completed');
    });

    it('refuses an unknown organization and a file that is not an AgentOS store, changing nothing', async () => {
      const file = makeAgentosFile(path.join(dir, 'ok.sqlite3'), { conversations: 1 });
      await expect(importAgentos(file, '00000000-0000-4000-8000-000000000000')).rejects.toThrow(/organization .* does not exist/);
      const other = path.join(dir, 'other.sqlite3');
      const db = new DatabaseSync(other);
      db.exec('CREATE TABLE x (y int)');
      db.close();
      await expect(AgentosSqliteSource.open(other)).rejects.toThrow(/not an AgentOS memory file: table conversations is missing/);
      await expect(AgentosSqliteSource.open(path.join(dir, 'missing.sqlite3'))).rejects.toThrow(/no such file/);
      const text = path.join(dir, 'text.sqlite3');
      fs.writeFileSync(text, 'just some text, not SQLite');
      await expect(AgentosSqliteSource.open(text)).rejects.toThrow(/not an AgentOS memory file: file is not a database/);
    });
  });
});
