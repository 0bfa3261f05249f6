// Writes SQLite files the way today's AgentOS (@framers/agentos 0.9.x) writes them, by running its own code on
// a sql.js-backed file (no native addon): `node agentos-today.fixture.mjs <dir> <embeddingDimensions>`.
// The importer tests run it in a child process because jest (CommonJS) cannot load the ESM-only package.
// Prints a JSON document naming the files; every time is fixed (T0 + offsets) except `created_at`/`updated_at`
// of ConversationManager's conversations, which AgentOS itself takes from the clock.
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [dir, dimsArg] = process.argv.slice(2);
const dims = Number(dimsArg ?? 1536);
export const T0 = 1_737_626_400_000; // 2025-01-23T10:00:00Z

const require = createRequire(import.meta.url);
const agentosRoot = path.dirname(require.resolve('@framers/agentos/package.json'));
const dist = (p) => import(pathToFileURL(path.join(agentosRoot, 'dist', p)).href);
const { resolveStorageAdapter, createStorageFeatures } = await import('@framers/sql-storage-adapter');

// AgentOS logs every step to the console; the parent reads stdout as JSON.
const log = console.log;
console.log = console.info = console.warn = () => {};

const open = (file) => resolveStorageAdapter({ filePath: file, priority: ['sqljs'], quiet: true });

/** ConversationManager: `conversations` (id, user_id, gmi_instance_id, …) + `conversation_messages`. */
async function conversationManagerFile(file) {
  const { ConversationManager } = await dist('core/conversation/ConversationManager.js');
  const adapter = await open(file);
  const cm = new ConversationManager();
  await cm.initialize({ persistenceEnabled: true, appendOnlyPersistence: false }, undefined, adapter);

  const a = await cm.getOrCreateConversationContext('cm-1', 'user-a', 'gmi-instance-0001', 'v_researcher', { title: 'Research chat', tags: ['work', 'urgent'], isArchived: true });
  a.setMetadata('currentLanguage', 'de');
  a.addMessage({ role: 'system', content: 'You are a researcher.', timestamp: T0 });
  a.addMessage({ role: 'user', content: 'Wetter in Zürich? 🌦️', timestamp: T0 + 1000, metadata: { language: 'de', tokenCount: 6 } });
  a.addMessage({
    role: 'assistant',
    content: null,
    timestamp: T0 + 2000,
    tool_calls: [{ id: 'call_1', name: 'get_weather', arguments: { city: 'Zürich' } }],
    metadata: { model: 'gpt-4o', tokenCount: 15 },
  });
  a.addMessage({ role: 'tool', content: '{"temp":3}', tool_call_id: 'call_1', timestamp: T0 + 3000, metadata: { toolExecutionDurationMs: 120 } });
  a.addMessage({ role: 'thought', content: 'It is cold; suggest a coat.', timestamp: T0 + 3500 });
  a.addMessage({
    role: 'assistant',
    content: [{ type: 'text', text: 'Es ist kalt.' }],
    timestamp: T0 + 4000,
    multimodalData: { images: [{ url: 'https://example.com/coat.png' }] },
    audioUrl: 'https://example.com/a.mp3',
    audioTranscript: 'Es ist kalt.',
    voiceSettings: { voice: 'alloy', speed: 1.1 },
  });
  a.addMessage({ role: 'summary', content: 'User asked about the weather.', timestamp: T0 + 5000, metadata: { summarizedMessageIds: ['m1', 'm2'] } });
  a.addMessage({ role: 'error', content: 'Rate limited', timestamp: T0 + 6000, metadata: { errorCode: 'RATE_LIMIT' } });
  await cm.saveConversation(a);

  const b = await cm.getOrCreateConversationContext('cm-2', 'user-b', 'gmi-instance-0002', 'v_assistant');
  b.addMessage({ role: 'user', content: 'hello', timestamp: T0 + 10_000 });
  b.addMessage({ role: 'assistant', content: 'hi!', timestamp: T0 + 11_000 });
  await cm.saveConversation(b);

  // No persona: the conversation's agent is its GMI instance.
  const c = await cm.getOrCreateConversationContext('cm-3', 'user-a', 'gmi-instance-0003');
  c.addMessage({ role: 'user', content: 'anyone there?', timestamp: T0 + 20_000 });
  await cm.saveConversation(c);
  await adapter.close();
}

/** SqlStorageAdapter: `conversations` (id, userId, agentId, …, metadata) + `messages` (token columns, toolCalls, name). */
async function storageAdapterFile(file) {
  const { SqlStorageAdapter } = await dist('core/storage/SqlStorageAdapter.js');
  const storage = new SqlStorageAdapter({ filePath: file, priority: ['sqljs'] });
  await storage.initialize();
  await storage.createConversation({ id: 'sa-1', userId: 'user-a', agentId: 'support-bot', createdAt: T0, lastActivity: T0, title: 'Billing', metadata: { channel: 'web' } });
  await storage.createConversation({ id: 'sa-2', userId: 'user-c', createdAt: T0 + 1, lastActivity: T0 + 1 });
  const msg = (m) => storage.storeMessage({ conversationId: 'sa-1', ...m });
  await msg({ id: 'sa-m1', role: 'user', content: 'Where is my invoice?', timestamp: T0 + 1000 });
  await msg({
    id: 'sa-m2',
    role: 'assistant',
    content: '',
    timestamp: T0 + 2000,
    model: 'claude-sonnet',
    usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15, cacheReadTokens: 4 },
    toolCalls: [{ id: 'call_9', type: 'function', function: { name: 'find_invoice', arguments: '{"n":1}' } }],
    metadata: { traceId: 'tr-1' },
  });
  await msg({ id: 'sa-m3', role: 'tool', content: '{"invoice":"INV-1"}', timestamp: T0 + 3000, toolCallId: 'call_9', name: 'find_invoice' });
  await msg({ id: 'sa-m4', role: 'assistant', content: 'Here it is.', timestamp: T0 + 3000, usage: { promptTokens: 20, completionTokens: 4 } });
  await storage.storeMessage({ id: 'sa-m5', conversationId: 'sa-2', role: 'user', content: 'hi', timestamp: T0 + 5000 });
  await storage.close();
}

/** A deterministic unit-length-ish vector of `n` numbers for text `s`. */
const vector = (s, n) => Array.from({ length: n }, (_, i) => Math.sin(i + s.length) / 10 + (i === 0 ? 1 : 0));

/** Brain (Memory facade): `memory_traces` with Float32 BLOB embeddings, and `archived_traces` of its archive. */
async function brainFile(file) {
  const { Memory } = await dist('cognition/memory/io/facade/Memory.js');
  const { SqlStorageMemoryArchive } = await dist('cognition/memory/archive/SqlStorageMemoryArchive.js');
  const memory = await Memory.createSqlite(file, {
    brainId: 'companion-alice',
    priority: ['sqljs'],
    graph: false,
    selfImprove: false,
    embeddings: { dimensions: dims },
    embed: async (text) => vector(text, dims),
  });
  const remembered = [];
  remembered.push(await memory.remember('User prefers dark mode', { type: 'semantic', scope: 'user', scopeId: 'user-a', tags: ['ui'], importance: 0.8, entities: ['dark mode'] }));
  remembered.push(await memory.remember('Met Bob at the conference', { type: 'episodic', scope: 'persona', scopeId: 'user-a::v_researcher', importance: 0.6 }));
  remembered.push(await memory.remember('Always greet in German', { type: 'procedural', scope: 'thread', scopeId: 'cm-1' }));
  const brain = memory._brain;
  const archive = new SqlStorageMemoryArchive(brain.adapter, createStorageFeatures(brain.adapter), brain.brainId);
  await archive.store({
    traceId: 'mt_archived_1',
    agentId: 'companion-alice',
    verbatimContent: 'The user said: call me Ali.',
    contentHash: 'abc123',
    traceType: 'episodic',
    emotionalContext: { valence: 0.4, arousal: 0.2 },
    entities: ['Ali'],
    tags: ['name'],
    createdAt: T0,
    archivedAt: T0 + 86_400_000,
    archiveReason: 'temporal_gist',
  });
  await memory.close();
  return remembered.map((t) => t.id);
}

await conversationManagerFile(path.join(dir, 'conversation-manager.sqlite'));
await storageAdapterFile(path.join(dir, 'storage-adapter.sqlite'));
const traces = await brainFile(path.join(dir, 'brain.sqlite'));
log(JSON.stringify({ conversationManager: path.join(dir, 'conversation-manager.sqlite'), storageAdapter: path.join(dir, 'storage-adapter.sqlite'), brain: path.join(dir, 'brain.sqlite'), traces }));
