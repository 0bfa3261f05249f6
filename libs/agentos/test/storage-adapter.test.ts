import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SqlStorageAdapter, type IConversationMessage, type IStorageAdapter } from '@framers/agentos';
import { AgentHubStorageAdapter } from '../src';
import { apiBaseUrl, newOrganizationKey } from './support';

/**
 * AgentOS's IStorageAdapter, paired: every case runs on AgentOS's own SqlStorageAdapter (SQLite through sql.js, an
 * in-memory database) and on AgentHubStorageAdapter (a fresh organization on the real API), and the two results
 * must be equal — a difference in behaviour fails as a pair. Cases where AgentHub deliberately differs are at the end,
 * each saying why.
 */
type Side = { name: string; storage: IStorageAdapter };
let n = 0;

/** A fresh SQLite file per side (sql.js otherwise opens ./db_data/app.sqlite3, shared by every instance). */
async function sqlite(): Promise<Side> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentos-sqlite-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const storage = new SqlStorageAdapter({ priority: ['sqljs'], filePath: path.join(dir, 'agentos.db'), quiet: true } as ConstructorParameters<typeof SqlStorageAdapter>[0]);
  await storage.initialize();
  return { name: 'AgentOS SqlStorageAdapter (sql.js)', storage };
}

async function agenthub(key?: string): Promise<Side> {
  const storage = new AgentHubStorageAdapter({ baseUrl: apiBaseUrl(), apiKey: key ?? (await newOrganizationKey()) });
  await storage.initialize();
  return { name: 'AgentHubStorageAdapter', storage };
}

/**
 * Runs `scenario` on both sides, one after the other with the same message ids (msg() numbers from the same start),
 * and returns both results (an Error becomes `{ error: true }`: the two word their errors differently).
 */
async function paired<T>(scenario: (s: IStorageAdapter) => Promise<T>): Promise<[unknown, unknown]> {
  const start = n;
  const results: unknown[] = [];
  for (const side of [await sqlite(), await agenthub()]) {
    n = start;
    try {
      results.push(await scenario(side.storage));
    } catch {
      results.push({ error: true });
    } finally {
      await side.storage.close();
    }
  }
  return [results[0], results[1]];
}

async function expectSame<T>(scenario: (s: IStorageAdapter) => Promise<T>): Promise<unknown> {
  const [reference, subject] = await paired(scenario);
  expect(subject).toEqual(reference);
  return reference;
}

const t0 = 1_764_000_000_000;
const conv = (id: string, extra: Record<string, unknown> = {}) => ({ id, userId: 'user-1', createdAt: t0, lastActivity: t0, ...extra });
const msg = (conversationId: string, extra: Partial<IConversationMessage> = {}): IConversationMessage => ({
  id: `m-${++n}`,
  conversationId,
  role: 'user',
  content: `message ${n}`,
  timestamp: t0 + n * 1000,
  ...extra,
});

describe('IStorageAdapter: AgentOS SqlStorageAdapter and AgentHubStorageAdapter side by side', () => {
  it('creates, reads, updates and deletes conversations', async () => {
    const result = await expectSame(async (s) => {
      const created = await s.createConversation(conv('c-1', { agentId: 'agent-coding', title: 'Build a component', metadata: { tags: ['react'], starred: true } }));
      const bare = await s.createConversation(conv('c-2', { title: '', agentId: '' }));
      const read = [await s.getConversation('c-1'), await s.getConversation('c-2'), await s.getConversation('missing')];
      const updated = await s.updateConversation('c-1', { title: 'Renamed', lastActivity: t0 + 5, metadata: { starred: false } });
      const afterUpdate = await s.getConversation('c-1');
      const missingUpdate = await s.updateConversation('missing', { title: 'x' }).catch((e: Error) => e.message.replace(/:.*/, ''));
      const deleted = [await s.deleteConversation('c-2'), await s.deleteConversation('c-2'), await s.deleteConversation('missing')];
      return { created, bare, read, updated, afterUpdate, missingUpdate, deleted, gone: await s.getConversation('c-2') };
    });
    expect(result).toMatchObject({ afterUpdate: { title: 'Renamed', lastActivity: t0 + 5, metadata: { starred: false } }, deleted: [true, false, false] });
  });

  it('refuses a second conversation with the same id', async () => {
    const result = await expectSame(async (s) => {
      await s.createConversation(conv('dup'));
      await s.createConversation(conv('dup', { title: 'again' }));
      return 'created twice';
    });
    expect(result).toEqual({ error: true });
  });

  it('lists a user’s conversations by lastActivity, newest first, with agent filter, limit and offset', async () => {
    await expectSame(async (s) => {
      await s.createConversation(conv('a', { agentId: 'x', lastActivity: t0 + 3 }));
      await s.createConversation(conv('b', { agentId: 'y', lastActivity: t0 + 9 }));
      await s.createConversation(conv('c', { agentId: 'x', lastActivity: t0 + 1 }));
      await s.createConversation(conv('d', { userId: 'user-2', agentId: 'x', lastActivity: t0 + 7 }));
      const ids = (list: Array<{ id: string }>) => list.map((c) => c.id);
      return {
        all: ids(await s.listConversations('user-1')),
        agentX: ids(await s.listConversations('user-1', { agentId: 'x' })),
        page: ids(await s.listConversations('user-1', { limit: 2, offset: 1 })),
        firstTwo: ids(await s.listConversations('user-1', { limit: 2 })),
        other: await s.listConversations('user-2'),
        nobody: await s.listConversations('nobody'),
        unknownAgent: await s.listConversations('user-1', { agentId: 'none' }),
      };
    });
  });

  it('stores messages with every field, reads them back as stored, and moves lastActivity', async () => {
    const result = await expectSame(async (s) => {
      await s.createConversation(conv('m'));
      const full = msg('m', {
        role: 'assistant',
        content: 'Here you go',
        model: 'gpt-4o',
        usage: { promptTokens: 10, completionTokens: 50, totalTokens: 60, cacheReadTokens: 0 },
        toolCalls: [{ id: 'call_1', type: 'function', function: { name: 'search', arguments: '{"q":"ts"}' } }],
        metadata: { latencyMs: 120, nested: { a: [1, 2] } },
      });
      const tool = msg('m', { role: 'tool', content: '{"hits":3}', toolCallId: 'call_1', name: 'search' });
      const bare = msg('m', { role: 'system', content: '', model: '', usage: { promptTokens: 0, completionTokens: 0, totalTokens: 0 }, toolCallId: '', name: '' });
      const stored = [await s.storeMessage(full), await s.storeMessage(tool), await s.storeMessage(bare)];
      return {
        stored,
        read: [await s.getMessage(full.id), await s.getMessage(tool.id), await s.getMessage(bare.id), await s.getMessage('missing')],
        lastActivity: (await s.getConversation('m'))!.lastActivity,
        count: await s.getMessageCount('m'),
        noCount: await s.getMessageCount('missing'),
      };
    });
    expect(result).toMatchObject({ count: 3, noCount: 0, read: [{ model: 'gpt-4o', usage: { cacheReadTokens: 0 } }, { toolCallId: 'call_1' }, { content: '' }, null] });
  });

  it('refuses a message to a conversation that is not there, and a second message under a stored id', async () => {
    await expectSame(async (s) => {
      await s.createConversation(conv('r'));
      const m = msg('r');
      await s.storeMessage(m);
      const results = [];
      await s.createConversation(conv('r2'));
      const attempts = [
        () => s.storeMessage(msg('nowhere')),
        () => s.storeMessage({ ...m, content: 'other content' }),
        () => s.storeMessage({ ...m, conversationId: 'r2' }), // the same id in another conversation
      ];
      for (const attempt of attempts) {
        results.push(await attempt().then(() => 'stored', () => 'refused'));
      }
      return { results, messages: await s.getMessages('r'), other: await s.getMessages('r2') };
    });
  });

  it('queries messages by time, role and order with limit and offset', async () => {
    await expectSame(async (s) => {
      await s.createConversation(conv('q'));
      await s.createConversation(conv('other'));
      const roles = ['user', 'assistant', 'tool', 'user', 'assistant', 'system'] as const;
      const ms = roles.map((role) => msg('q', { role }));
      ms.push(msg('q', { role: 'user', timestamp: ms[2].timestamp })); // a tie on timestamp
      for (const m of ms) await s.storeMessage(m);
      await s.storeMessage(msg('other'));
      const ids = (list: IConversationMessage[]) => list.map((m) => m.id);
      return {
        all: ids(await s.getMessages('q')),
        desc: ids(await s.getMessages('q', { order: 'desc' })),
        since: ids(await s.getMessages('q', { since: ms[2].timestamp })),
        until: ids(await s.getMessages('q', { until: ms[2].timestamp })),
        window: ids(await s.getMessages('q', { since: ms[1].timestamp, until: ms[4].timestamp })),
        sinceZero: ids(await s.getMessages('q', { since: 0 })),
        roles: ids(await s.getMessages('q', { roles: ['assistant', 'system'] })),
        lastTwoUser: ids(await s.getMessages('q', { roles: ['user'], order: 'desc', limit: 2 })),
        paged: ids(await s.getMessages('q', { limit: 2, offset: 3 })),
        missing: await s.getMessages('missing'),
      };
    });
  });

  it('deletes one message and all messages of a conversation', async () => {
    await expectSame(async (s) => {
      await s.createConversation(conv('d1'));
      await s.createConversation(conv('d2'));
      const [a, b, c, d] = [msg('d1'), msg('d1'), msg('d1'), msg('d2')];
      for (const m of [a, b, c, d, msg('d2')]) await s.storeMessage(m);
      const one = [await s.deleteMessage(b.id), await s.deleteMessage(b.id), await s.deleteMessage('missing')];
      const afterOne = { left: (await s.getMessages('d1')).map((m) => m.id), count: await s.getMessageCount('d1'), gone: await s.getMessage(b.id) };
      const all = await s.deleteMessagesForConversation('d1');
      const none = await s.deleteMessagesForConversation('missing');
      const afterAll = { left: await s.getMessages('d1'), count: await s.getMessageCount('d1'), conversation: !!(await s.getConversation('d1')) };
      // the id of a deleted message is free again
      await s.storeMessage({ ...b, content: 'again' });
      return { one, afterOne, all, none, afterAll, again: (await s.getMessage(b.id))?.content, other: (await s.getMessage(d.id))?.id };
    });
  });

  it('sums token usage, with the cache counters only when some message reported them', async () => {
    await expectSame(async (s) => {
      await s.createConversation(conv('u1'));
      await s.createConversation(conv('u2'));
      await s.storeMessage(msg('u1', { role: 'assistant', usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 } }));
      await s.storeMessage(msg('u1', { role: 'assistant', usage: { promptTokens: 7, completionTokens: 3, totalTokens: 10, cacheReadTokens: 4, cacheCreationTokens: 0 } }));
      await s.storeMessage(msg('u1', { role: 'user' }));
      await s.storeMessage(msg('u2', { role: 'assistant', usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 } }));
      return [await s.getConversationTokenUsage('u1'), await s.getConversationTokenUsage('u2'), await s.getConversationTokenUsage('missing')];
    });
  });
});

describe('AgentHubStorageAdapter: what AgentHub adds or does differently', () => {
  it('keeps the data in AgentHub: a second adapter (another process) reads what the first stored', async () => {
    const key = await newOrganizationKey();
    const first = (await agenthub(key)).storage;
    await first.createConversation(conv('shared', { agentId: 'support', title: 'Refund', metadata: { channel: 'web' } }));
    const stored = [msg('shared', { role: 'user', content: 'I want a refund' }), msg('shared', { role: 'assistant', content: 'Sure', model: 'gpt-4o', usage: { promptTokens: 3, completionTokens: 1, totalTokens: 4 } })];
    for (const m of stored) await first.storeMessage(m);

    const second = (await agenthub(key)).storage;
    expect(await second.getConversation('shared')).toEqual({ id: 'shared', userId: 'user-1', agentId: 'support', createdAt: t0, lastActivity: stored[1].timestamp, title: 'Refund', metadata: { channel: 'web' } });
    expect(await second.getMessages('shared')).toEqual(stored);
    expect(await second.getMessage(stored[1].id)).toEqual(stored[1]);
    // deleted by the second, gone for the first (its cached ids are checked, not trusted)
    expect(await second.deleteConversation('shared')).toBe(true);
    expect(await first.getConversation('shared')).toBeNull();
    await expect(first.storeMessage(msg('shared'))).rejects.toThrow(/Conversation not found/);
  });

  it('files conversations under AgentHub agents, users and messages that its API shows', async () => {
    const key = await newOrganizationKey();
    const s = (await agenthub(key)).storage;
    await s.createConversation(conv('visible', { agentId: 'travel-bot', userId: 'ext-42' }));
    await s.storeMessage(msg('visible', { role: 'assistant', content: 'Booked', model: 'gpt-4o', usage: { promptTokens: 2, completionTokens: 3, totalTokens: 5 } }));
    await s.storeMessage(msg('visible', { role: 'assistant', content: '', toolCalls: [{ id: 'c1', type: 'function', function: { name: 'book', arguments: '{}' } }] }));
    await s.storeMessage(msg('visible', { role: 'tool', content: 'ok', toolCallId: 'c1', name: 'book' }));
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a test reading the API's JSON as it comes
    const get = async (path: string) => (await (await fetch(`${apiBaseUrl()}${path}`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: Array<Record<string, any>> };
    const agents = await get('/api/v1/agents?name=travel-bot');
    const users = await get('/api/v1/users?externalId=ext-42');
    const conversations = await get(`/api/v1/conversations?sessionId=visible`);
    expect(agents.data).toHaveLength(1);
    expect(users.data).toHaveLength(1);
    expect(conversations.data).toEqual([expect.objectContaining({ agentId: agents.data[0].id, userId: users.data[0].id, sessionId: 'visible', messageCount: 3 })]);
    const messages = await get(`/api/v1/conversations/${conversations.data[0].id}/messages`);
    expect(messages.data.map((m: Record<string, unknown>) => [m.role, m.messageType, m.model, m.tokensUsed, m.toolName, m.toolCallId, m.clientId])).toEqual([
      ['assistant', 'text', 'gpt-4o', 5, null, null, `agentos:m-${n - 2}`],
      ['assistant', 'tool_call', null, null, 'book', null, `agentos:m-${n - 1}`],
      ['tool', 'tool_response', null, null, 'book', 'c1', `agentos:m-${n}`],
    ]);
  });

  it('deletes a conversation with its messages, as the interface says; AgentOS’s SQLite leaves them behind', async () => {
    // Its schema declares ON DELETE CASCADE, but SQLite enforces foreign keys only when a connection turns them on,
    // and AgentOS's adapter does not: the messages of a deleted conversation stay readable there.
    const [reference, subject] = await paired(async (s) => {
      await s.createConversation(conv('gone'));
      const m = msg('gone');
      await s.storeMessage(m);
      await s.storeMessage(msg('gone'));
      expect(await s.deleteConversation('gone')).toBe(true);
      return { message: (await s.getMessage(m.id))?.id ?? null, messages: (await s.getMessages('gone')).length, count: await s.getMessageCount('gone') };
    });
    expect(reference).toEqual({ message: expect.any(String), messages: 2, count: 2 });
    expect(subject).toEqual({ message: null, messages: 0, count: 0 });
  });

  it('gives the latest stored messages of a long conversation in one request (recentMessages)', async () => {
    const s = (await agenthub()).storage;
    await s.createConversation(conv('long'));
    const stored = Array.from({ length: 7 }, () => msg('long'));
    for (const m of stored) await s.storeMessage(m);
    expect(await (s as AgentHubStorageAdapter).recentMessages('long', 3)).toEqual(stored.slice(-3).reverse());
    expect(await (s as AgentHubStorageAdapter).recentMessages('long', 0)).toEqual([]);
    expect(await (s as AgentHubStorageAdapter).recentMessages('missing', 3)).toEqual([]);
  });

  it('makes one conversation when two processes create the same id at once', async () => {
    const key = await newOrganizationKey();
    const [a, b] = [(await agenthub(key)).storage, (await agenthub(key)).storage];
    const results = await Promise.allSettled([a.createConversation(conv('race', { title: 'same' })), b.createConversation(conv('race', { title: 'same' }))]);
    // the same record twice is one create (each gets its answer); another record under the id is refused
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled']);
    const other = await Promise.allSettled([(await agenthub(key)).storage.createConversation(conv('race', { title: 'other' }))]);
    expect(other[0].status).toBe('rejected');
    const listed = await fetch(`${apiBaseUrl()}/api/v1/conversations?sessionId=race`, { headers: { authorization: `Bearer ${key}` } });
    expect(((await listed.json()) as { data: unknown[] }).data).toHaveLength(1);
    // deleted, the id can be used again (the earlier create's key does not bring the deleted conversation back)
    expect(await a.deleteConversation('race')).toBe(true);
    await b.createConversation(conv('race', { title: 'same' }));
    expect(await a.getConversation('race')).toMatchObject({ id: 'race', title: 'same' });
  });

  it('accepts the same message stored again (a retry) where SQLite refuses it, and refuses moving a conversation', async () => {
    const s = (await agenthub()).storage;
    await s.createConversation(conv('retry'));
    const m = msg('retry', { role: 'assistant', metadata: { b: 1, a: 2 } });
    await s.storeMessage(m);
    await expect(s.storeMessage({ ...m })).resolves.toEqual(m);
    expect(await s.getMessageCount('retry')).toBe(1);
    await expect(s.updateConversation('retry', { userId: 'someone-else' })).rejects.toThrow(/another user or agent/);
  });
});
