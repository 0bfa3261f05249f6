import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { EMBEDDING_DIMENSIONS } from '@agenthub/db';
import type { AgentRecord, Checkpoint, ConversationRecord, ImportBatch, Json, JsonObject, MessageRecord, UserRecord, Warning } from '../import.types';
import { cleanJson, cleanText, fromEpochMs, intOrNull, nonEmpty, parseJsonText, warner, yieldToEventLoop } from '../mapping';
import { AgentosBrainReader, brainIdOfFile, fromAgentosTime, putJson } from './agentos-brain';
import { addRead, emptyBatch, type ImportSource } from './import-source';

/** A conversation row of any layout, its columns renamed to the v2 names (LAYOUTS); absent columns are NULL. */
interface ConversationRow {
  conversationId: string;
  userId: string | null;
  agentId: string | null;
  createdAt: bigint | number | string | null;
  lastActivity: bigint | number | string | null;
  summary: string | null;
  title: string | null;
  persona?: string | null;
  // ConversationManager
  language?: string | null;
  session_details?: string | null;
  is_archived?: bigint | number | null;
  tags?: string | null;
  // SqlStorageAdapter, Brain
  conversation_metadata?: string | null;
  brain_id?: string | null;
}

interface TurnRow {
  storageId: string;
  userId: string | null;
  conversationId: string;
  agentId: string | null;
  role: string;
  content: string | null;
  timestamp: bigint | number | null;
  model: string | null;
  prompt_tokens: bigint | number | null;
  completion_tokens: bigint | number | null;
  total_tokens: bigint | number | null;
  tool_calls: string | null;
  tool_call_id: string | null;
  metadata: string | null;
  summary: string | null;
  // SqlStorageAdapter
  cache_read_tokens?: bigint | number | null;
  cache_creation_tokens?: bigint | number | null;
  name?: string | null;
  // ConversationManager
  multimodal_data?: string | null;
  audio_url?: string | null;
  audio_transcript?: string | null;
  voice_settings?: string | null;
}

/**
 * The conversation schemas AgentOS has written, told apart by their tables and columns (never by a flag):
 * - `memory-adapter`: SqliteMemoryAdapter's `conversations` (conversationId, …) + `conversation_turns` (IMPORT-FORMATS.md §1)
 * - `conversation-manager`: ConversationManager's `conversations` (id, user_id, gmi_instance_id, …) + `conversation_messages`
 * - `storage-adapter`: SqlStorageAdapter's `conversations` (id, userId, agentId, …) + `messages` (token columns, toolCalls)
 * - `brain`: a cognitive-memory Brain's own `conversations` (brain_id, id, title, …) + `messages` (conversation_id, created_at)
 * Each maps source columns to the v2 names the mapping reads (`alias: column`).
 */
type Layout = 'memory-adapter' | 'conversation-manager' | 'storage-adapter' | 'brain';
interface LayoutSpec {
  conversations: string;
  turns: string;
  conversation: Record<string, string>;
  turn: Record<string, string>;
}
const same = (...names: string[]) => Object.fromEntries(names.map((n) => [n, n]));
const LAYOUTS: Record<Layout, LayoutSpec> = {
  'memory-adapter': {
    conversations: 'conversations',
    turns: 'conversation_turns',
    conversation: same('conversationId', 'userId', 'agentId', 'createdAt', 'lastActivity', 'summary', 'title', 'persona'),
    turn: same('storageId', 'userId', 'conversationId', 'agentId', 'role', 'content', 'timestamp', 'model', 'prompt_tokens', 'completion_tokens', 'total_tokens', 'tool_calls', 'tool_call_id', 'metadata', 'summary'),
  },
  'conversation-manager': {
    conversations: 'conversations',
    turns: 'conversation_messages',
    conversation: { conversationId: 'id', userId: 'user_id', agentId: 'gmi_instance_id', createdAt: 'created_at', lastActivity: 'updated_at', ...same('title', 'language', 'session_details', 'is_archived', 'tags') },
    turn: { storageId: 'id', conversationId: 'conversation_id', ...same('role', 'content', 'timestamp', 'tool_calls', 'tool_call_id', 'multimodal_data', 'audio_url', 'audio_transcript', 'voice_settings', 'metadata') },
  },
  'storage-adapter': {
    conversations: 'conversations',
    turns: 'messages',
    conversation: { conversationId: 'id', conversation_metadata: 'metadata', ...same('userId', 'agentId', 'createdAt', 'lastActivity', 'title') },
    turn: {
      storageId: 'id',
      prompt_tokens: 'promptTokens',
      completion_tokens: 'completionTokens',
      total_tokens: 'totalTokens',
      cache_read_tokens: 'cacheReadTokens',
      cache_creation_tokens: 'cacheCreationTokens',
      tool_calls: 'toolCalls',
      tool_call_id: 'toolCallId',
      ...same('conversationId', 'role', 'content', 'timestamp', 'model', 'name', 'metadata'),
    },
  },
  brain: {
    conversations: 'conversations',
    turns: 'messages',
    conversation: { conversationId: 'id', createdAt: 'created_at', lastActivity: 'updated_at', conversation_metadata: 'metadata', ...same('brain_id', 'title') },
    turn: { storageId: 'id', conversationId: 'conversation_id', timestamp: 'created_at', ...same('role', 'content', 'metadata') },
  },
};

/** AgentOS's message roles beyond the four AgentHub has: what each becomes (the original stays in metadata.agentos.role). */
const EXTRA_ROLES: Record<string, Pick<MessageRecord, 'role' | 'messageType'>> = {
  summary: { role: 'system', messageType: 'text' },
  error: { role: 'assistant', messageType: 'error' },
  thought: { role: 'assistant', messageType: 'thinking' },
};

const ROLES = new Set(['user', 'assistant', 'system', 'tool']);
/** Agent of a conversation whose row and turns name none (agentId is nullable on conversations). */
export const AGENTOS_DEFAULT_AGENT = 'agentos-default';

/**
 * AgentOS SQLite files, whatever AgentOS version wrote them: conversations in one of the LAYOUTS (IMPORT-FORMATS.md
 * §1's SqliteMemoryAdapter v2 and its older form without `persona`; today's ConversationManager and
 * SqlStorageAdapter; a Brain's own), and a Brain's cognitive memory (`memory_traces` → memories, `archived_traces`
 * → documents; agentos-brain.ts). Conversations are read in conversationId order and turns streamed in
 * (conversationId, timestamp, id) order, so one pass over each table suffices and the checkpoint is simply the
 * last conversationId written; memories and archived traces follow, each section with its own checkpoint.
 */
export class AgentosSqliteSource implements ImportSource {
  readonly kind = 'agentos-sqlite' as const;
  readonly clientIdPrefix = 'agentos:';
  private readonly db: DatabaseSync;
  /** how this file stores conversations; null when it holds none (a brain without its conversation tables) */
  readonly layout: Layout | null;
  private readonly hasPersona: boolean;
  private readonly conversationColumns = new Set<string>();
  private readonly turnColumns = new Set<string>();
  private readonly brain: AgentosBrainReader;

  private constructor(
    readonly file: string,
    readonly digest: string,
    embeddingDimensions: number,
  ) {
    this.db = new DatabaseSync(file, { readOnly: true });
    try {
      const tables = new Set((this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>).map((t) => t.name));
      const columns = (t: string) => (tables.has(t) ? new Set((this.db.prepare(`PRAGMA table_info("${t}")`).all() as Array<{ name: string }>).map((c) => c.name)) : new Set<string>());
      this.brain = AgentosBrainReader.open(this.db, file, tables, embeddingDimensions);
      this.layout = detectLayout(tables, columns, this.brain.hasTraces || this.brain.hasArchive);
      if (this.layout) {
        for (const c of columns(LAYOUTS[this.layout].conversations)) this.conversationColumns.add(c);
        for (const c of columns(LAYOUTS[this.layout].turns)) this.turnColumns.add(c);
      }
      this.hasPersona = this.layout === 'memory-adapter' && this.conversationColumns.has('persona');
    } catch (e) {
      this.db.close();
      throw new Error(`${file} is not an AgentOS memory file: ${(e as Error).message}`);
    }
  }

  /** `embeddingDimensions`: what the target's memories hold; traces with embeddings of another length are rejected. */
  static async open(file: string, embeddingDimensions = EMBEDDING_DIMENSIONS): Promise<AgentosSqliteSource> {
    if (!fs.existsSync(file)) throw new Error(`no such file: ${file}`);
    return new AgentosSqliteSource(file, await fileDigest(file), embeddingDimensions);
  }

  /** `SELECT` of a layout's table with its columns renamed to the v2 names; a column this file lacks reads NULL. */
  private select(kind: 'conversation' | 'turn'): string {
    const spec = LAYOUTS[this.layout!];
    const present = kind === 'conversation' ? this.conversationColumns : this.turnColumns;
    const list = Object.entries(spec[kind]).map(([alias, column]) => `${present.has(column) ? `"${column}"` : 'NULL'} AS "${alias}"`);
    // rowid: the order rows were written in, which is how AgentOS reads back messages of equal timestamps.
    if (kind === 'turn') list.push('rowid AS "rowOrder"');
    return `SELECT ${list.join(', ')} FROM ${kind === 'conversation' ? spec.conversations : spec.turns}`;
  }

  async total(): Promise<number> {
    const turns = this.layout ? Number((this.db.prepare(`SELECT count(*) AS n FROM ${LAYOUTS[this.layout].turns}`).get() as { n: number }).n) : 0;
    return turns + this.brain.count();
  }

  async refs() {
    const warnings: Warning[] = [];
    const agentNames = new Set<string>();
    const userIds = new Set<string>();
    if (this.layout === 'memory-adapter') {
      for (const r of this.db.prepare(`SELECT DISTINCT agentId AS a FROM conversations UNION SELECT DISTINCT agentId FROM conversation_turns`).all() as Array<{ a: string | null }>) {
        if (nonEmpty(r.a)) agentNames.add(cleanText(r.a));
      }
      // A conversation whose row and turns name no agent gets the default one.
      const orphan = this.db
        .prepare(
          `SELECT 1 FROM conversations c WHERE (c.agentId IS NULL OR trim(c.agentId) = '')
              AND NOT EXISTS (SELECT 1 FROM conversation_turns t WHERE t.conversationId = c.conversationId AND trim(coalesce(t.agentId, '')) <> '') LIMIT 1`,
        )
        .get();
      if (orphan) agentNames.add(AGENTOS_DEFAULT_AGENT);
      for (const r of this.db.prepare(`SELECT DISTINCT userId AS u FROM conversations UNION SELECT DISTINCT userId FROM conversation_turns`).all() as Array<{ u: string | null }>) {
        if (nonEmpty(r.u)) userIds.add(cleanText(r.u));
      }
    } else if (this.layout) {
      // The newer layouts name agent and user on the conversation only; the mapping decides, so refs agree with it.
      for (const c of this.db.prepare(this.select('conversation')).all() as unknown as ConversationRow[]) {
        agentNames.add(this.agentOf(c, []));
        if (nonEmpty(c.userId)) userIds.add(cleanText(c.userId));
      }
    }
    const fromBrain = this.brain.refs();
    for (const a of fromBrain.agents) agentNames.add(a);
    for (const u of fromBrain.users) userIds.add(u);
    const agents: AgentRecord[] = [...agentNames].sort().map((name) => ({
      name,
      description: null,
      config: {},
      isActive: true,
      metadata: { importedFrom: { source: this.kind, agentId: name } },
      createdAt: null,
    }));
    const users: UserRecord[] = [...userIds].sort().map((externalId) => ({
      externalId,
      name: null,
      metadata: { importedFrom: { source: this.kind } },
    }));
    return { agents, users, rejections: [], warnings, read: { agents: agents.length, users: users.length } };
  }

  async *batches(from: Checkpoint | null, batchSize: number): AsyncIterable<ImportBatch> {
    if (this.layout && (!from || from.section === 'conversations')) yield* this.conversationBatches(from, batchSize);
    yield* this.brain.batches(from && from.section !== 'conversations' ? from : null, batchSize);
  }

  private async *conversationBatches(from: Checkpoint | null, batchSize: number): AsyncGenerator<ImportBatch> {
    const after = from?.section === 'conversations' && typeof from.after === 'string' ? from.after : null;
    const cond = after === null ? '' : 'WHERE "conversationId" > ?';
    const params = after === null ? [] : [after];
    // Integers as BigInt: node:sqlite throws on one beyond 2^53 otherwise, and a corrupt time must reject its row,
    // not end the import (the mapping takes bigint).
    const conversationsStmt = this.db.prepare(`SELECT * FROM (${this.select('conversation')}) ${cond} ORDER BY "conversationId"`);
    conversationsStmt.setReadBigInts(true);
    const conversations = conversationsStmt.all(...params) as unknown as ConversationRow[];
    const byId = new Map(conversations.map((c, i) => [c.conversationId, i]));
    // Turns of one conversation arrive together; the statement is stepped lazily, so memory stays at one batch.
    // Equal timestamps: by storageId in the SqliteMemoryAdapter files (IMPORT-FORMATS.md §1), in the order written in
    // today's files (AgentOS's own adapters return them so).
    const ties = this.layout === 'memory-adapter' ? '"storageId"' : '"rowOrder", "storageId"';
    const turnsStmt = this.db.prepare(`SELECT * FROM (${this.select('turn')}) ${cond} ORDER BY "conversationId", "timestamp", ${ties}`);
    turnsStmt.setReadBigInts(true);
    const turns = turnsStmt.iterate(...params) as unknown as IterableIterator<TurnRow>;

    let batch = emptyBatch({ section: 'conversations', after });
    let next = 0; // next conversation (index) not yet emitted
    let group: TurnRow[] = [];
    const emitUpTo = function* (this: AgentosSqliteSource, index: number, withTurns: TurnRow[] | null): Generator<ImportBatch> {
      // Conversations without turns that sort before `index` are emitted on their own.
      while (next <= index && next < conversations.length) {
        const turnsOf = next === index ? (withTurns ?? []) : [];
        this.addConversation(batch, conversations[next], turnsOf);
        batch.checkpoint = { section: 'conversations', after: conversations[next].conversationId };
        next++;
        if (batch.units >= batchSize) {
          yield batch;
          batch = emptyBatch(batch.checkpoint);
        }
      }
    }.bind(this);
    const flushGroup = function* (this: AgentosSqliteSource): Generator<ImportBatch> {
      if (!group.length) return;
      const index = byId.get(group[0].conversationId);
      if (index === undefined) {
        for (const t of group) {
          addRead(batch, 'messages');
          batch.rejections.push({ entity: 'messages', sourceId: t.storageId, reason: `conversation ${t.conversationId} does not exist` });
        }
      } else {
        yield* emitUpTo(index, group);
      }
      group = [];
    }.bind(this);

    let stepped = 0;
    for (const t of turns) {
      if (group.length && group[0].conversationId !== t.conversationId) yield* flushGroup();
      group.push(t);
      if (++stepped % 500 === 0) await yieldToEventLoop();
    }
    yield* flushGroup();
    yield* emitUpTo(conversations.length - 1, null);
    if (batch.units || batch.rejections.length || Object.keys(batch.read).length) yield batch;
  }

  /** The v2 schema's own time rule (epoch ms only); the newer layouts also take ISO text. */
  private time(value: unknown): Date | null {
    return this.layout === 'memory-adapter' ? fromEpochMs(value) : fromAgentosTime(value);
  }

  /**
   * A conversation's agent. v2: its agentId, else its turns'. ConversationManager: the persona the session ran
   * (`session_details.activePersonaId`) — its `gmi_instance_id` is a per-session runtime instance
   * (`gmi-instance-<uuid>`), one agent per conversation if taken as the agent, so it is only the fallback.
   * SqlStorageAdapter: agentId. Brain: the brain. Else `agentos-default`.
   */
  private agentOf(c: ConversationRow, turns: TurnRow[]): string {
    let name: string | null | undefined;
    if (this.layout === 'conversation-manager') {
      const details = parseJsonText(c.session_details);
      const persona = details?.ok ? (details.value as { activePersonaId?: unknown } | null)?.activePersonaId : null;
      name = nonEmpty(persona) ? persona : c.agentId;
    } else if (this.layout === 'brain') name = c.brain_id ?? brainIdOfFile(this.file);
    else name = nonEmpty(c.agentId) ? c.agentId : turns.map((t) => t.agentId).find(nonEmpty);
    return cleanText(nonEmpty(name) ? name : AGENTOS_DEFAULT_AGENT);
  }

  private addConversation(batch: ImportBatch, c: ConversationRow, turns: TurnRow[]): void {
    addRead(batch, 'conversations');
    const warn = warner(batch.warnings, 'conversations', c.conversationId);
    const createdAt = this.time(c.createdAt);
    if (!createdAt) {
      const expected = this.layout === 'memory-adapter' ? 'an epoch-milliseconds time' : 'a time (epoch milliseconds or ISO text)';
      batch.rejections.push({ entity: 'conversations', sourceId: c.conversationId, reason: `createdAt ${String(c.createdAt)} is not ${expected}` });
      for (const t of turns) {
        addRead(batch, 'messages');
        batch.rejections.push({ entity: 'messages', sourceId: t.storageId, reason: `its conversation ${c.conversationId} was rejected` });
      }
      return;
    }
    const messages: MessageRecord[] = [];
    for (const t of turns) {
      addRead(batch, 'messages');
      const m = this.mapTurn(t, batch.warnings);
      if (typeof m === 'string') batch.rejections.push({ entity: 'messages', sourceId: t.storageId, reason: m });
      else messages.push(m);
    }
    batch.units += turns.length;
    const metadata: JsonObject = { source: { kind: this.kind, conversationId: c.conversationId } };
    if (this.layout !== 'memory-adapter') (metadata['source'] as JsonObject)['schema'] = this.layout;
    if (c.summary != null) metadata['summary'] = cleanText(c.summary, () => warn('NUL characters removed from summary'));
    if (this.hasPersona && c.persona != null) {
      // persona is free text in some files and JSON text in others: keep parsed JSON when it parses.
      const parsed = parseJsonText(c.persona);
      metadata['persona'] = parsed?.ok && typeof parsed.value === 'object' ? parsed.value : cleanText(c.persona);
    }
    if (this.layout === 'conversation-manager') {
      metadata['gmiInstanceId'] = c.agentId ?? null;
      if (c.language != null) metadata['language'] = c.language;
      if (c.is_archived != null) metadata['isArchived'] = Number(c.is_archived) !== 0;
      putJson(metadata, 'sessionDetails', c.session_details, warn);
      putJson(metadata, 'tags', c.tags, warn);
    }
    if (c.brain_id != null) metadata['brainId'] = c.brain_id;
    putJson(metadata, 'legacy', c.conversation_metadata, warn);
    const lastActivity = this.time(c.lastActivity) ?? messages.at(-1)?.createdAt ?? createdAt;
    if (c.lastActivity != null && !this.time(c.lastActivity)) warn(`lastActivity ${String(c.lastActivity)} is not a time; used the last turn's`);
    const agentName = this.agentOf(c, turns);
    const userExternalId = nonEmpty(c.userId) ? cleanText(c.userId) : (turns.map((t) => t.userId).find(nonEmpty) ?? null);
    // The conversation as AgentOS's IStorageAdapter knows it, in the shape @agenthub/agentos's storage adapter keeps
    // (metadata.agentos): so an imported conversation reads back through that adapter as a live one does.
    const record: JsonObject = { id: c.conversationId, userId: userExternalId ?? '', createdAt: createdAt.getTime(), lastActivity: lastActivity.getTime() };
    if (agentName !== AGENTOS_DEFAULT_AGENT) record['agentId'] = agentName;
    if (nonEmpty(c.title)) record['title'] = cleanText(c.title);
    const legacy = metadata['legacy'];
    if (legacy !== null && typeof legacy === 'object' && !Array.isArray(legacy)) record['metadata'] = legacy;
    metadata['agentos'] = record;
    batch.conversations.push({
      sourceId: c.conversationId,
      agentName,
      userExternalId,
      title: c.title == null ? null : cleanText(c.title),
      metadata: cleanJson(metadata) as JsonObject,
      createdAt,
      lastActivityAt: lastActivity,
      messages,
    } satisfies ConversationRecord);
  }

  /** A turn as a message, or the reason it cannot be one. */
  private mapTurn(t: TurnRow, warnings: Warning[]): MessageRecord | string {
    const v2 = this.layout === 'memory-adapter';
    const extra = v2 ? undefined : EXTRA_ROLES[t.role];
    if (!ROLES.has(t.role) && !extra) return `role ${JSON.stringify(t.role)} is not user, assistant, system or tool${v2 ? '' : ' (or summary, error, thought)'}`;
    const createdAt = this.time(t.timestamp);
    if (!createdAt) return `timestamp ${String(t.timestamp)} is not ${v2 ? 'an epoch-milliseconds time' : 'a time (epoch milliseconds or ISO text)'}`;
    const warn = warner(warnings, 'messages', t.storageId);
    const metadata: JsonObject = { source: v2 ? { kind: this.kind, storageId: t.storageId, agentId: t.agentId } : { kind: this.kind, storageId: t.storageId } };
    const tokens: Record<string, number | null> = { prompt: intOrNull(t.prompt_tokens), completion: intOrNull(t.completion_tokens), total: intOrNull(t.total_tokens) };
    const cache = { cacheRead: intOrNull(t.cache_read_tokens), cacheCreation: intOrNull(t.cache_creation_tokens) };
    if (cache.cacheRead !== null || cache.cacheCreation !== null) Object.assign(tokens, cache);
    if (Object.values(tokens).some((n) => n !== null)) metadata['tokens'] = tokens;
    if (t.summary != null) metadata['summary'] = cleanText(t.summary);
    const meta = parseJsonText(t.metadata);
    if (meta?.ok) metadata['legacy'] = meta.value;
    else if (meta) {
      metadata['legacyRaw'] = meta.raw;
      warn(`metadata is not valid JSON (${meta.error}); kept as text in metadata.legacyRaw`);
    }
    let messageType: MessageRecord['messageType'] = extra?.messageType ?? (t.role === 'tool' ? 'tool_response' : 'text');
    let toolName: string | null = t.role === 'tool' && nonEmpty(t.name) ? cleanText(t.name) : null;
    let toolArgs: Json | null = null;
    const calls = parseJsonText(t.tool_calls);
    if (calls?.ok && calls.value !== null && !(Array.isArray(calls.value) && calls.value.length === 0)) {
      // OpenAI-style [{ id, type, function: { name, arguments } }] or AgentOS's [{ id, name, arguments }]: the whole
      // list is the message's toolArgs.
      messageType = 'tool_call';
      toolArgs = calls.value;
      const first = (Array.isArray(calls.value) ? calls.value[0] : calls.value) as { function?: { name?: unknown }; name?: unknown } | null;
      const name = first?.function?.name ?? first?.name;
      toolName = typeof name === 'string' ? name : null;
    } else if (calls && !calls.ok) {
      metadata['toolCallsRaw'] = calls.raw;
      warn(`tool_calls is not valid JSON (${calls.error}); kept as text in metadata.toolCallsRaw`);
    }
    let content = t.content ?? '';
    if (!v2) {
      // Everything AgentHub has no column for stays, under metadata.agentos.
      const agentos: JsonObject = {};
      if (extra) agentos['role'] = t.role;
      if (nonEmpty(t.name)) agentos['name'] = t.name;
      putJson(agentos, 'multimodalData', t.multimodal_data, warn);
      if (t.audio_url != null) agentos['audioUrl'] = t.audio_url;
      if (t.audio_transcript != null) agentos['audioTranscript'] = t.audio_transcript;
      putJson(agentos, 'voiceSettings', t.voice_settings, warn);
      // ConversationManager writes JSON.stringify(content) for non-text content: `null` (a tool-calling
      // assistant turn) and arrays of content parts. The text parts are the message; the parts stay.
      if (this.layout === 'conversation-manager' && (content === 'null' || content.startsWith('['))) {
        const parsed = parseJsonText(content);
        if (parsed?.ok && parsed.value === null) {
          agentos['content'] = null;
          content = '';
        } else if (parsed?.ok && Array.isArray(parsed.value) && parsed.value.every((p) => p !== null && typeof p === 'object' && !Array.isArray(p))) {
          agentos['contentParts'] = parsed.value;
          content = (parsed.value as Array<{ text?: unknown }>).flatMap((p) => (typeof p.text === 'string' ? [p.text] : [])).join('\n');
        }
      }
      if (Object.keys(agentos).length) metadata['agentos'] = agentos;
    }
    const legacy = meta?.ok ? (meta.value as { model?: unknown; modelId?: unknown; tokenCount?: unknown } | null) : null;
    const model = t.model ?? (typeof legacy?.model === 'string' ? legacy.model : typeof legacy?.modelId === 'string' ? legacy.modelId : null);
    const tokensUsed =
      tokens['total'] ??
      (tokens['prompt'] !== null || tokens['completion'] !== null ? (tokens['prompt'] ?? 0) + (tokens['completion'] ?? 0) : v2 ? null : intOrNull(legacy?.tokenCount));
    return {
      clientId: `${this.clientIdPrefix}${t.storageId}`,
      role: extra?.role ?? (t.role as MessageRecord['role']),
      content: cleanText(content, () => warn('NUL characters removed from content')),
      messageType,
      toolName,
      toolArgs,
      toolCallId: t.tool_call_id == null ? null : cleanText(t.tool_call_id),
      model: model == null ? null : cleanText(model),
      tokensUsed,
      metadata: cleanJson(metadata) as JsonObject,
      createdAt,
    };
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Which conversation layout a file has, from its tables and columns; null when it has none but a brain's memory. */
function detectLayout(tables: Set<string>, columns: (table: string) => Set<string>, hasMemory: boolean): Layout | null {
  const conversations = columns('conversations');
  if (!tables.has('conversations')) {
    if (hasMemory) return null;
    throw new Error('table conversations is missing');
  }
  if (conversations.has('conversationId')) {
    if (!tables.has('conversation_turns')) throw new Error('table conversation_turns is missing');
    return 'memory-adapter';
  }
  if (conversations.has('user_id') && tables.has('conversation_messages')) return 'conversation-manager';
  const messages = columns('messages');
  if (conversations.has('userId') && messages.has('conversationId')) return 'storage-adapter';
  if (conversations.has('id') && messages.has('conversation_id') && messages.has('created_at')) return 'brain';
  if (hasMemory) return null;
  throw new Error(
    `its conversations table (${[...conversations].join(', ')}) matches none of AgentOS's schemas ` +
      '(conversations + conversation_turns, conversation_messages, or messages)',
  );
}

export async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
