import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import type { AgentRecord, Checkpoint, ConversationRecord, ImportBatch, Json, JsonObject, MessageRecord, UserRecord, Warning } from '../import.types';
import { cleanJson, cleanText, fromEpochMs, intOrNull, nonEmpty, parseJsonText, warner, yieldToEventLoop } from '../mapping';
import { addRead, emptyBatch, type ImportSource } from './import-source';

interface ConversationRow {
  conversationId: string;
  userId: string | null;
  agentId: string | null;
  createdAt: bigint | number | null;
  lastActivity: bigint | number | null;
  summary: string | null;
  title: string | null;
  persona?: string | null;
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
}

const ROLES = new Set(['user', 'assistant', 'system', 'tool']);
/** Agent of a conversation whose row and turns name none (agentId is nullable on conversations). */
export const AGENTOS_DEFAULT_AGENT = 'agentos-default';

/**
 * AgentOS `SqliteMemoryAdapter` files (IMPORT-FORMATS.md §1), v2 and the older schema without `persona`.
 * Conversations are read in conversationId order and turns streamed in (conversationId, timestamp, storageId)
 * order, so one pass over each table suffices and the checkpoint is simply the last conversationId written.
 */
export class AgentosSqliteSource implements ImportSource {
  readonly kind = 'agentos-sqlite' as const;
  readonly clientIdPrefix = 'agentos:';
  private readonly db: DatabaseSync;
  private readonly hasPersona: boolean;

  private constructor(
    readonly file: string,
    readonly digest: string,
  ) {
    this.db = new DatabaseSync(file, { readOnly: true });
    let tables: Set<string>;
    try {
      tables = new Set((this.db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as Array<{ name: string }>).map((t) => t.name));
    } catch (e) {
      this.db.close();
      throw new Error(`${file} is not an AgentOS memory file: ${(e as Error).message}`);
    }
    for (const t of ['conversations', 'conversation_turns']) {
      if (!tables.has(t)) {
        this.db.close();
        throw new Error(`${file} is not an AgentOS memory file: table ${t} is missing`);
      }
    }
    const columns = new Set((this.db.prepare(`PRAGMA table_info(conversations)`).all() as Array<{ name: string }>).map((c) => c.name));
    this.hasPersona = columns.has('persona');
  }

  static async open(file: string): Promise<AgentosSqliteSource> {
    if (!fs.existsSync(file)) throw new Error(`no such file: ${file}`);
    return new AgentosSqliteSource(file, await fileDigest(file));
  }

  async total(): Promise<number> {
    return (this.db.prepare('SELECT count(*) AS n FROM conversation_turns').get() as { n: number }).n;
  }

  async refs() {
    const warnings: Warning[] = [];
    const agentNames = new Set<string>();
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
    const agents: AgentRecord[] = [...agentNames].sort().map((name) => ({
      name,
      description: null,
      config: {},
      isActive: true,
      metadata: { importedFrom: { source: this.kind, agentId: name } },
      createdAt: null,
    }));
    const userIds = new Set<string>();
    for (const r of this.db.prepare(`SELECT DISTINCT userId AS u FROM conversations UNION SELECT DISTINCT userId FROM conversation_turns`).all() as Array<{ u: string | null }>) {
      if (nonEmpty(r.u)) userIds.add(cleanText(r.u));
    }
    const users: UserRecord[] = [...userIds].sort().map((externalId) => ({
      externalId,
      name: null,
      metadata: { importedFrom: { source: this.kind } },
    }));
    return { agents, users, rejections: [], warnings, read: { agents: agents.length, users: users.length } };
  }

  async *batches(from: Checkpoint | null, batchSize: number): AsyncIterable<ImportBatch> {
    const after = from?.section === 'conversations' && typeof from.after === 'string' ? from.after : null;
    const cond = after === null ? '' : 'WHERE conversationId > ?';
    const params = after === null ? [] : [after];
    // Integers as BigInt: node:sqlite throws on one beyond 2^53 otherwise, and a corrupt time must reject its row,
    // not end the import (the mapping takes bigint).
    const conversationsStmt = this.db.prepare(`SELECT * FROM conversations ${cond} ORDER BY conversationId`);
    conversationsStmt.setReadBigInts(true);
    const conversations = conversationsStmt.all(...params) as unknown as ConversationRow[];
    const byId = new Map(conversations.map((c, i) => [c.conversationId, i]));
    // Turns of one conversation arrive together; the statement is stepped lazily, so memory stays at one batch.
    const turnsStmt = this.db.prepare(`SELECT * FROM conversation_turns ${cond} ORDER BY conversationId, timestamp, storageId`);
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

  private addConversation(batch: ImportBatch, c: ConversationRow, turns: TurnRow[]): void {
    addRead(batch, 'conversations');
    const warn = warner(batch.warnings, 'conversations', c.conversationId);
    const createdAt = fromEpochMs(c.createdAt);
    if (!createdAt) {
      batch.rejections.push({ entity: 'conversations', sourceId: c.conversationId, reason: `createdAt ${String(c.createdAt)} is not an epoch-milliseconds time` });
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
    const agentName =
      (nonEmpty(c.agentId) && cleanText(c.agentId)) || turns.map((t) => t.agentId).find(nonEmpty) || AGENTOS_DEFAULT_AGENT;
    const metadata: JsonObject = { source: { kind: this.kind, conversationId: c.conversationId } };
    if (c.summary !== null) metadata['summary'] = cleanText(c.summary, () => warn('NUL characters removed from summary'));
    if (this.hasPersona && c.persona !== null && c.persona !== undefined) {
      // persona is free text in some files and JSON text in others: keep parsed JSON when it parses.
      const parsed = parseJsonText(c.persona);
      metadata['persona'] = parsed?.ok && typeof parsed.value === 'object' ? parsed.value : cleanText(c.persona);
    }
    const lastActivity = fromEpochMs(c.lastActivity) ?? messages.at(-1)?.createdAt ?? createdAt;
    if (c.lastActivity !== null && !fromEpochMs(c.lastActivity)) warn(`lastActivity ${String(c.lastActivity)} is not a time; used the last turn's`);
    batch.conversations.push({
      sourceId: c.conversationId,
      agentName: cleanText(agentName),
      userExternalId: nonEmpty(c.userId) ? cleanText(c.userId) : (turns.map((t) => t.userId).find(nonEmpty) ?? null),
      title: c.title === null ? null : cleanText(c.title),
      metadata,
      createdAt,
      lastActivityAt: lastActivity,
      messages,
    } satisfies ConversationRecord);
  }

  /** A turn as a message, or the reason it cannot be one. */
  private mapTurn(t: TurnRow, warnings: Warning[]): MessageRecord | string {
    if (!ROLES.has(t.role)) return `role ${JSON.stringify(t.role)} is not user, assistant, system or tool`;
    const createdAt = fromEpochMs(t.timestamp);
    if (!createdAt) return `timestamp ${String(t.timestamp)} is not an epoch-milliseconds time`;
    const warn = warner(warnings, 'messages', t.storageId);
    const metadata: JsonObject = { source: { kind: this.kind, storageId: t.storageId, agentId: t.agentId } };
    const tokens = { prompt: intOrNull(t.prompt_tokens), completion: intOrNull(t.completion_tokens), total: intOrNull(t.total_tokens) };
    if (tokens.prompt !== null || tokens.completion !== null || tokens.total !== null) metadata['tokens'] = tokens;
    if (t.summary !== null) metadata['summary'] = cleanText(t.summary);
    const meta = parseJsonText(t.metadata);
    if (meta?.ok) metadata['legacy'] = meta.value;
    else if (meta) {
      metadata['legacyRaw'] = meta.raw;
      warn(`metadata is not valid JSON (${meta.error}); kept as text in metadata.legacyRaw`);
    }
    let messageType: MessageRecord['messageType'] = t.role === 'tool' ? 'tool_response' : 'text';
    let toolName: string | null = null;
    let toolArgs: Json | null = null;
    const calls = parseJsonText(t.tool_calls);
    if (calls?.ok && calls.value !== null && !(Array.isArray(calls.value) && calls.value.length === 0)) {
      // OpenAI-style [{ id, type, function: { name, arguments } }]: the whole list is the message's toolArgs.
      messageType = 'tool_call';
      toolArgs = calls.value;
      const first = (Array.isArray(calls.value) ? calls.value[0] : calls.value) as { function?: { name?: unknown }; name?: unknown } | null;
      const name = first?.function?.name ?? first?.name;
      toolName = typeof name === 'string' ? name : null;
    } else if (calls && !calls.ok) {
      metadata['toolCallsRaw'] = calls.raw;
      warn(`tool_calls is not valid JSON (${calls.error}); kept as text in metadata.toolCallsRaw`);
    }
    const tokensUsed = tokens.total ?? (tokens.prompt !== null || tokens.completion !== null ? (tokens.prompt ?? 0) + (tokens.completion ?? 0) : null);
    return {
      clientId: `${this.clientIdPrefix}${t.storageId}`,
      role: t.role as MessageRecord['role'],
      content: cleanText(t.content ?? '', () => warn('NUL characters removed from content')),
      messageType,
      toolName,
      toolArgs,
      toolCallId: t.tool_call_id === null ? null : cleanText(t.tool_call_id),
      model: t.model === null ? null : cleanText(t.model),
      tokensUsed,
      metadata: cleanJson(metadata) as JsonObject,
      createdAt,
    };
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

export async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
