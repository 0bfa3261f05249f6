import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SqlStorageAdapter, type IConversationMessage, type IStorageAdapter } from '@framers/agentos';
import { REPO_ROOT } from '@agenthub/client/testing';
import { AgentHubStorageAdapter } from '../src';
import { apiBaseUrl, apiDatabaseUrl, newOrganizationKey } from './support';

/**
 * An AgentOS SQLite file written by AgentOS's own SqlStorageAdapter, imported with `agenthub import agentos-sqlite`,
 * reads back through AgentHubStorageAdapter as AgentOS's adapter reads the file: every read compared as a pair. On
 * PostgreSQL only: the importer writes to the API's database, which on the embedded path only the API process opens.
 */
describe.skipIf(!apiDatabaseUrl())('AgentOS data imported from SQLite, read through AgentHubStorageAdapter', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentos-import-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads conversations and messages as AgentOS reads its file', async () => {
    const file = path.join(dir, 'agentos.db');
    const open = async () => {
      const s = new SqlStorageAdapter({ priority: ['sqljs'], filePath: file, quiet: true } as ConstructorParameters<typeof SqlStorageAdapter>[0]);
      await s.initialize();
      return s;
    };
    const t0 = 1_764_000_000_000;
    const source = await open();
    await source.createConversation({ id: 'imp-1', userId: 'ada', agentId: 'travel', createdAt: t0, lastActivity: t0, title: 'Lisbon', metadata: { channel: 'web', tags: ['trip'] } });
    await source.createConversation({ id: 'imp-2', userId: 'ada', createdAt: t0 + 1, lastActivity: t0 + 1 });
    const messages: IConversationMessage[] = [
      { id: 'u1', conversationId: 'imp-1', role: 'user', content: 'Book me a flight', timestamp: t0 + 10, metadata: { locale: 'pt' } },
      {
        id: 'a1',
        conversationId: 'imp-1',
        role: 'assistant',
        content: '',
        timestamp: t0 + 20,
        model: 'gpt-4o',
        usage: { promptTokens: 12, completionTokens: 4, totalTokens: 16, cacheReadTokens: 3 },
        toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'book', arguments: '{"to":"LIS"}' } }],
      },
      { id: 't1', conversationId: 'imp-1', role: 'tool', content: '{"ok":true}', timestamp: t0 + 30, toolCallId: 'call_1', name: 'book' },
      { id: 'a2', conversationId: 'imp-1', role: 'assistant', content: 'Booked.', timestamp: t0 + 30, model: 'gpt-4o', usage: { promptTokens: 20, completionTokens: 2, totalTokens: 22 } },
      { id: 's1', conversationId: 'imp-2', role: 'system', content: 'Be brief.', timestamp: t0 + 5 },
    ];
    for (const m of messages) await source.storeMessage(m);
    await source.close();

    const apiKey = await newOrganizationKey();
    const organization = (await (await fetch(`${apiBaseUrl()}/api/v1/organization`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as { id: string };
    await promisify(execFile)(process.execPath, ['apps/worker/bin/agenthub.js', 'import', 'agentos-sqlite', file, '--org', organization.id], {
      cwd: REPO_ROOT,
      env: { ...process.env, DATABASE_URL: apiDatabaseUrl()! },
      encoding: 'utf8',
      timeout: 120_000,
    });

    const reads = async (s: IStorageAdapter) => ({
      conversations: [await s.getConversation('imp-1'), await s.getConversation('imp-2')],
      listed: await s.listConversations('ada'),
      byAgent: await s.listConversations('ada', { agentId: 'travel' }),
      messages: await s.getMessages('imp-1'),
      newestFirst: await s.getMessages('imp-1', { order: 'desc', limit: 3 }),
      other: await s.getMessages('imp-2'),
      one: await s.getMessage('a1'),
      count: await s.getMessageCount('imp-1'),
      usage: await s.getConversationTokenUsage('imp-1'),
    });
    const reference = await open();
    const expected = await reads(reference);
    await reference.close();
    const hub = new AgentHubStorageAdapter({ baseUrl: apiBaseUrl(), apiKey });
    expect(await reads(hub)).toEqual(expected);
    expect(expected.messages).toHaveLength(4);

    // and the imported conversation goes on as a live one: a new message, the same id refused, as in AgentOS
    await hub.storeMessage({ id: 'u2', conversationId: 'imp-1', role: 'user', content: 'Thanks', timestamp: t0 + 40 });
    await expect(hub.storeMessage({ ...messages[0], content: 'changed' })).rejects.toThrow(/already exists/);
    expect((await hub.getMessages('imp-1')).map((m) => m.id)).toEqual(['u1', 'a1', 't1', 'a2', 'u2']);
    expect((await hub.getConversation('imp-1'))!.lastActivity).toBe(t0 + 40);
  });
});
