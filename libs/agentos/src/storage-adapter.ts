import { isDeepStrictEqual } from 'node:util';
import type { IConversation, IConversationMessage, IMessageQueryOptions, IStorageAdapter, ITokenUsage } from '@framers/agentos';
import { AgentHubDirectory, isStatus, clientOf, paginate, type AgentHubClient, type AgentHubConnection, type components } from '@agenthub/client';

type HubConversation = components['schemas']['ConversationDto_Output'];
type HubMessage = components['schemas']['MessageDto_Output'];
type Role = IConversationMessage['role'];

export interface AgentHubStorageAdapterOptions {
  /**
   * The AgentHub agent of conversations that name no `agentId` (AgentHub files every conversation under an agent).
   * Default `agentos-default` (the importer's name for it).
   */
  defaultAgentName?: string;
}

/** What AgentHub keeps of an AgentOS conversation in its metadata (`metadata.agentos`): the record as AgentOS gave it. */
interface ConversationRecord {
  id: string;
  userId: string;
  agentId?: string;
  createdAt: number;
  lastActivity: number;
  title?: string;
  metadata?: Record<string, unknown>;
}

/** What AgentHub keeps of an AgentOS message in its metadata (`metadata.agentos`): every field but the content. */
type MessageRecord = Omit<IConversationMessage, 'content' | 'conversationId'>;

const SOURCE = 'agentos';
/** `source.kind` of what `agenthub import agentos-sqlite` wrote: read alike (its conversations keep the same record). */
const IMPORTED = 'agentos-sqlite';
const CLIENT_ID_PREFIX = 'agentos:';
/** The AgentHub agent of conversations without an agentId, as the importer names it too. */
const DEFAULT_AGENT = 'agentos-default';

/**
 * AgentOS's `IStorageAdapter` (conversations and messages) on AgentHub, over its HTTP API: the tenant, backups,
 * audit, search and live events come with it. An AgentOS conversation is an AgentHub conversation with
 * `sessionId` = the AgentOS id, filed under the AgentHub agent named like the AgentOS `agentId` (created when
 * missing) and the user whose `externalId` is the AgentOS `userId` (created when missing); a message is an
 * AgentHub message with `clientId` = `agentos:<id>` (role, content, model, tokens, tool call id in AgentHub's
 * columns). Each keeps the whole AgentOS record in `metadata.agentos`, so what AgentHub has no column for (the
 * exact millisecond timestamps, usage with cache tokens, tool calls, name, metadata) comes back as stored.
 *
 * Reads return what AgentOS's own SqlStorageAdapter returns for the same calls (the paired tests run both): empty
 * strings and zero usage read back absent, as they do from its SQL columns. Where AgentHub is stricter it says so
 * with an Error rather than storing something else: a conversation cannot move to another user or agent, and a
 * message id already stored with other content is refused (the same message stored again — a retry — is not).
 */
export class AgentHubStorageAdapter implements IStorageAdapter {
  private readonly client: AgentHubClient;
  private readonly directory: AgentHubDirectory;
  private readonly defaultAgentName: string;
  /** AgentOS conversation id → AgentHub conversation id (a conversation deleted elsewhere is looked up again). */
  private readonly conversationIds = new Map<string, string>();

  constructor(connection: AgentHubConnection, options: AgentHubStorageAdapterOptions = {}) {
    this.client = clientOf(connection);
    this.directory = new AgentHubDirectory(this.client, 'agentos-agent');
    this.defaultAgentName = options.defaultAgentName ?? DEFAULT_AGENT;
  }

  /** Checks the key reaches the API (AgentHub's schema is its own: nothing to create). */
  async initialize(): Promise<void> {
    await this.client.GET('/api/v1/organization');
  }

  async close(): Promise<void> {
    this.conversationIds.clear();
  }

  // ——— conversations ———

  async createConversation(conversation: IConversation): Promise<IConversation> {
    if (await this.findConversation(conversation.id)) throw new Error(`Conversation already exists: ${conversation.id}`);
    const record = conversationRecord(conversation);
    const agentName = record.agentId ?? this.defaultAgentName;
    const body = async () => {
      const [agentId, userId] = await Promise.all([
        this.directory.agentId(agentName, { metadata: { agentos: { agentId: agentName } } }),
        this.directory.userId(record.userId, true),
      ]);
      return { agentId, userId, sessionId: record.id, title: record.title ?? null, metadata: conversationMetadata(record) };
    };
    // The key makes two processes creating the same id at once make one conversation: the second gets the first's
    // answer (same record: as if it had created it) or a 409 (another record: the id exists, as AgentOS's primary key
    // would say). A replay of a conversation deleted since is no conversation: then it is created anew, without key.
    let created: HubConversation;
    try {
      created = await this.postConversation(await body(), `agentos-conversation:${record.id}`).catch(async (e: unknown) => {
        if (!(isStatus(e, 409) && /inactive/.test(e.detail ?? ''))) throw e;
        this.directory.forgetAgent(agentName); // deactivated since this process cached it: find or make it again
        return this.postConversation(await body(), `agentos-conversation:${record.id}:${Date.now()}`);
      });
    } catch (e) {
      if (isStatus(e, 409)) throw new Error(`Conversation already exists: ${conversation.id}`);
      throw e;
    }
    if (!isDeepStrictEqual(agentosRecord(created.metadata), record)) throw new Error(`Conversation already exists: ${conversation.id}`);
    const live = await this.client.GET('/api/v1/conversations/{id}', { params: { path: { id: created.id } } }).catch((e: unknown) => {
      if (isNotFound(e)) return undefined;
      throw e;
    });
    this.conversationIds.set(record.id, live ? created.id : (await this.postConversation(await body())).id);
    return conversation;
  }

  private async postConversation(body: components['schemas']['CreateConversationDto'], key?: string): Promise<HubConversation> {
    const { data } = await this.client.POST('/api/v1/conversations', { params: { header: key ? { 'Idempotency-Key': key } : {} }, body });
    return data!;
  }

  async getConversation(conversationId: string): Promise<IConversation | null> {
    const found = await this.findConversation(conversationId);
    return found ? toConversation(found) : null;
  }

  async updateConversation(conversationId: string, updates: Partial<IConversation>): Promise<IConversation> {
    const found = await this.findConversation(conversationId);
    if (!found) throw new Error(`Conversation not found: ${conversationId}`);
    const existing = toConversation(found);
    const updated = { ...existing, ...updates };
    if ((updated.userId ?? '') !== existing.userId || (updated.agentId || undefined) !== existing.agentId) {
      throw new Error(`AgentHub does not move a conversation to another user or agent (conversation ${conversationId})`);
    }
    const record = conversationRecord({ ...updated, id: existing.id });
    await this.client.PATCH('/api/v1/conversations/{id}', {
      params: { path: { id: found.id } },
      body: { title: record.title ?? null, metadata: conversationMetadata(record, found.metadata) },
    });
    return updated;
  }

  async deleteConversation(conversationId: string): Promise<boolean> {
    const found = await this.findConversation(conversationId);
    if (!found) return false;
    try {
      await this.client.DELETE('/api/v1/conversations/{id}', { params: { path: { id: found.id } } });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      return false; // deleted by another process in between
    } finally {
      this.conversationIds.delete(conversationId);
    }
    return true;
  }

  async listConversations(userId: string, options: { limit?: number; offset?: number; agentId?: string } = {}): Promise<IConversation[]> {
    const hubUserId = await this.directory.userId(userId);
    if (!hubUserId) return [];
    let agentFilter: string | undefined;
    if (options.agentId) {
      agentFilter = await this.directory.agentId(options.agentId);
      if (!agentFilter) return [];
    }
    // AgentHub lists by its own last activity; AgentOS orders by the lastActivity it was given, so read them all
    // (one user's conversations) and order here.
    const all: IConversation[] = [];
    for await (const c of paginate((cursor) =>
      this.client.GET('/api/v1/conversations', { params: { query: { userId: hubUserId, agentId: agentFilter, cursor, limit: 200 } } }),
    )) {
      const record = agentosRecord<ConversationRecord>(c.metadata);
      if (record && record.userId === userId && (!options.agentId || record.agentId === options.agentId)) all.push(toConversation(c));
    }
    all.sort((a, b) => b.lastActivity - a.lastActivity);
    return window(all, options);
  }

  // ——— messages ———

  async storeMessage(message: IConversationMessage): Promise<IConversationMessage> {
    const [conversation, existing] = await Promise.all([this.findConversation(message.conversationId), this.findMessage(message.id)]);
    if (!conversation) throw new Error(`Conversation not found: ${message.conversationId}`);
    // A message id is unique across conversations in AgentOS (its primary key); AgentHub's clientId only within one.
    if (existing && existing.conversationId !== conversation.id) throw new Error(`Message already exists: ${message.id}`);
    const record = messageRecord(message);
    const clientId = CLIENT_ID_PREFIX + message.id;
    let stored: HubMessage;
    try {
      const { data } = await this.client.POST('/api/v1/conversations/{id}/messages', {
        params: { path: { id: conversation.id } },
        body: { ...messageColumns(message), clientId, metadata: { source: { kind: SOURCE, messageId: message.id }, agentos: record } },
      });
      stored = data!.data[0] as HubMessage;
    } catch (e) {
      if (isNotFound(e)) {
        this.conversationIds.delete(message.conversationId);
        throw new Error(`Conversation not found: ${message.conversationId}`);
      }
      throw e;
    }
    // A clientId AgentHub already has returns the stored message: the same message again (a retry) is fine, another
    // message under the same id is refused as AgentOS's SQL primary key refuses it.
    if (!isDeepStrictEqual(toMessage(stored, message.conversationId), { ...record, conversationId: message.conversationId, content: message.content })) {
      throw new Error(`Message already exists: ${message.id}`);
    }
    await this.touch(conversation.id, message.timestamp);
    return message;
  }

  async getMessage(messageId: string): Promise<IConversationMessage | null> {
    const found = await this.findMessage(messageId);
    if (!found) return null;
    const conversation = await this.conversationOfMessage(found);
    return conversation ? (toMessage(found, conversation) ?? null) : null;
  }

  async getMessages(conversationId: string, options: IMessageQueryOptions = {}): Promise<IConversationMessage[]> {
    const conversation = await this.findConversation(conversationId);
    if (!conversation) return [];
    let messages = await this.allMessages(conversation.id, conversationId);
    // AgentOS's adapter reads 0 as "no bound" (its `if (options.since)`): so does this one.
    if (options.since) messages = messages.filter((m) => m.timestamp >= options.since!);
    if (options.until) messages = messages.filter((m) => m.timestamp <= options.until!);
    if (options.roles?.length) messages = messages.filter((m) => options.roles!.includes(m.role));
    // By timestamp; equal timestamps in the order they were stored (seq) either way, as AgentOS's SQLite returns them.
    const sign = options.order === 'desc' ? -1 : 1;
    messages.sort((a, b) => sign * (a.timestamp - b.timestamp));
    return window(messages, options);
  }

  /**
   * The conversation's most recently stored AgentOS messages, newest first, at most `limit` (≤ 200): one request, in
   * the order AgentHub stored them (seq) rather than by AgentOS timestamp, for a caller that wants the latest turns of
   * a long conversation without reading all of it (AgentHubConversationMemory). [] when the conversation is not found.
   */
  async recentMessages(conversationId: string, limit: number): Promise<IConversationMessage[]> {
    const conversation = await this.findConversation(conversationId);
    if (!conversation || limit < 1) return [];
    const { data } = await this.client.GET('/api/v1/conversations/{id}/messages', {
      params: { path: { id: conversation.id }, query: { order: 'desc', limit: Math.min(limit, 200) } },
    });
    return (data!.data as HubMessage[]).flatMap((m) => toMessage(m, conversationId) ?? []);
  }

  async deleteMessage(messageId: string): Promise<boolean> {
    const found = await this.findMessage(messageId);
    if (!found) return false;
    return this.deleteHubMessage(found.id);
  }

  async deleteMessagesForConversation(conversationId: string): Promise<number> {
    const conversation = await this.findConversation(conversationId);
    if (!conversation) return 0;
    let deleted = 0;
    for (const m of await this.allHubMessages(conversation.id)) if (await this.deleteHubMessage(m.id)) deleted++;
    return deleted;
  }

  /** The conversation's AgentOS messages (an AgentHub conversation may also hold messages written by other clients). */
  async getMessageCount(conversationId: string): Promise<number> {
    const conversation = await this.findConversation(conversationId);
    return conversation ? (await this.allHubMessages(conversation.id)).length : 0;
  }

  async getConversationTokenUsage(conversationId: string): Promise<ITokenUsage> {
    const usage: ITokenUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
    const conversation = await this.findConversation(conversationId);
    if (!conversation) return usage;
    let cacheRead: number | undefined;
    let cacheCreation: number | undefined;
    for (const m of await this.allMessages(conversation.id, conversationId)) {
      const u = m.usage;
      if (!u) continue;
      usage.promptTokens += u.promptTokens || 0;
      usage.completionTokens += u.completionTokens || 0;
      usage.totalTokens += u.totalTokens || 0;
      // The cache counters only when some message reported them (AgentOS's "not reported" vs "zero hits").
      if (u.cacheReadTokens != null) cacheRead = (cacheRead ?? 0) + u.cacheReadTokens;
      if (u.cacheCreationTokens != null) cacheCreation = (cacheCreation ?? 0) + u.cacheCreationTokens;
    }
    if (cacheRead !== undefined) usage.cacheReadTokens = cacheRead;
    if (cacheCreation !== undefined) usage.cacheCreationTokens = cacheCreation;
    return usage;
  }

  // ——— AgentHub lookups ———

  /** The AgentHub conversation of an AgentOS conversation id: `sessionId` = the id, made by this adapter. */
  private async findConversation(conversationId: string): Promise<HubConversation | undefined> {
    const cached = this.conversationIds.get(conversationId);
    if (cached) {
      try {
        const { data } = await this.client.GET('/api/v1/conversations/{id}', { params: { path: { id: cached } } });
        return data!;
      } catch (e) {
        if (!isNotFound(e)) throw e;
        this.conversationIds.delete(conversationId);
      }
    }
    if (!conversationId) return undefined;
    const { data } = await this.client.GET('/api/v1/conversations', { params: { query: { sessionId: conversationId, limit: 200 } } });
    const found = data!.data.find((c) => agentosRecord<ConversationRecord>(c.metadata)?.id === conversationId);
    if (found) this.conversationIds.set(conversationId, found.id);
    return found;
  }

  private async findMessage(messageId: string): Promise<HubMessage | undefined> {
    if (!messageId) return undefined;
    const { data } = await this.client.GET('/api/v1/messages', { params: { query: { clientId: CLIENT_ID_PREFIX + messageId } } });
    return (data!.data as HubMessage[]).find((m) => toMessage(m, ''));
  }

  /** The AgentOS id of the conversation an AgentHub message is in. */
  private async conversationOfMessage(message: HubMessage): Promise<string | undefined> {
    for (const [agentosId, hubId] of this.conversationIds) if (hubId === message.conversationId) return agentosId;
    try {
      const { data } = await this.client.GET('/api/v1/conversations/{id}', { params: { path: { id: message.conversationId } } });
      const id = agentosRecord<ConversationRecord>(data!.metadata)?.id;
      if (id) this.conversationIds.set(id, data!.id);
      return id;
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** The AgentHub messages of a conversation that are AgentOS messages, in seq order. */
  private async allHubMessages(hubConversationId: string): Promise<HubMessage[]> {
    const out: HubMessage[] = [];
    for await (const m of paginate((cursor) =>
      this.client.GET('/api/v1/conversations/{id}/messages', { params: { path: { id: hubConversationId }, query: { cursor, limit: 200 } } }),
    )) {
      if (toMessage(m as HubMessage, '')) out.push(m as HubMessage);
    }
    return out;
  }

  private async allMessages(hubConversationId: string, conversationId: string): Promise<IConversationMessage[]> {
    return (await this.allHubMessages(hubConversationId)).map((m) => toMessage(m, conversationId)!);
  }

  private async deleteHubMessage(id: string): Promise<boolean> {
    try {
      await this.client.DELETE('/api/v1/messages/{id}', { params: { path: { id } } });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  /**
   * Storing a message sets the conversation's lastActivity to its timestamp (AgentOS's adapter does the same, in a
   * statement of its own). Read right before the write and skipped when nothing changes, so a concurrent
   * updateConversation is overwritten only within that moment (conversations have no version to make it conditional).
   */
  private async touch(hubConversationId: string, lastActivity: number): Promise<void> {
    const { data: fresh } = await this.client.GET('/api/v1/conversations/{id}', { params: { path: { id: hubConversationId } } });
    const current = agentosRecord<ConversationRecord>(fresh!.metadata);
    if (!current || current.lastActivity === lastActivity) return;
    await this.client.PATCH('/api/v1/conversations/{id}', {
      params: { path: { id: hubConversationId } },
      body: { metadata: conversationMetadata({ ...current, lastActivity }, fresh!.metadata) },
    });
  }
}

// ——— mapping ———

/** The conversation as AgentOS's SQL adapter reads it back: empty agentId and title absent, metadata only when set. */
function conversationRecord(c: IConversation): ConversationRecord {
  const record: ConversationRecord = { id: c.id, userId: c.userId, createdAt: c.createdAt, lastActivity: c.lastActivity };
  if (c.agentId) record.agentId = c.agentId;
  if (c.title) record.title = c.title;
  if (c.metadata) record.metadata = jsonCopy(c.metadata);
  return record;
}

function conversationMetadata(record: ConversationRecord, previous: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...previous, source: { kind: SOURCE, conversationId: record.id }, agentos: record };
}

function toConversation(c: HubConversation): IConversation {
  const record = agentosRecord<ConversationRecord>(c.metadata)!;
  const out: IConversation = { id: record.id, userId: record.userId, createdAt: record.createdAt, lastActivity: record.lastActivity };
  if (record.agentId) out.agentId = record.agentId;
  if (record.title) out.title = record.title;
  if (record.metadata) out.metadata = record.metadata;
  return out;
}

/** The message as AgentOS's SQL adapter reads it back (its rowToMessage): falsy optional fields absent, usage only when reported. */
function messageRecord(m: IConversationMessage): MessageRecord {
  const record: MessageRecord = { id: m.id, role: m.role, timestamp: m.timestamp };
  if (m.model) record.model = m.model;
  const u = m.usage;
  if (u && (u.promptTokens || u.completionTokens || u.totalTokens || u.cacheReadTokens != null || u.cacheCreationTokens != null)) {
    record.usage = { promptTokens: u.promptTokens || 0, completionTokens: u.completionTokens || 0, totalTokens: u.totalTokens || 0 };
    if (u.cacheReadTokens != null) record.usage.cacheReadTokens = u.cacheReadTokens;
    if (u.cacheCreationTokens != null) record.usage.cacheCreationTokens = u.cacheCreationTokens;
  }
  if (m.toolCalls) record.toolCalls = jsonCopy(m.toolCalls);
  if (m.toolCallId) record.toolCallId = m.toolCallId;
  if (m.name) record.name = m.name;
  if (m.metadata) record.metadata = jsonCopy(m.metadata);
  return record;
}

/** AgentHub's columns for a message: its role, content, type, model, tokens and tool call id. */
function messageColumns(m: IConversationMessage) {
  const calls = Array.isArray(m.toolCalls) ? (m.toolCalls as Array<{ function?: { name?: unknown }; name?: unknown }>) : [];
  const firstName = calls.map((c) => c?.function?.name ?? c?.name).find((n): n is string => typeof n === 'string' && n.length > 0);
  const messageType = m.role === 'tool' ? ('tool_response' as const) : calls.length > 0 ? ('tool_call' as const) : ('text' as const);
  return {
    role: m.role as Role,
    content: m.content,
    messageType,
    toolName: messageType === 'tool_call' ? (firstName ?? null) : (m.role === 'tool' && m.name) || null,
    toolCallId: m.toolCallId || null,
    model: m.model || null,
    tokensUsed: m.usage?.totalTokens || null,
  };
}

/** The AgentOS message of an AgentHub message this adapter (or the importer) wrote; undefined for any other message. */
function toMessage(m: HubMessage, conversationId: string): IConversationMessage | undefined {
  const source = (m.metadata?.['source'] as { kind?: unknown } | undefined)?.kind;
  if (source === SOURCE) {
    const record = m.metadata['agentos'] as MessageRecord | undefined;
    if (!record) return undefined;
    const { id, role, timestamp, ...rest } = record;
    return { id, conversationId, role, content: m.content, timestamp, ...rest };
  }
  if (source !== IMPORTED || !m.clientId?.startsWith(CLIENT_ID_PREFIX)) return undefined;
  // Imported (`agenthub import agentos-sqlite`): AgentOS's fields are AgentHub's columns, plus its token counts in
  // metadata.tokens, its name in metadata.agentos.name and its own metadata in metadata.legacy.
  const md = m.metadata as { tokens?: Record<string, number | null>; agentos?: { name?: unknown }; legacy?: unknown };
  const out: IConversationMessage = { id: m.clientId.slice(CLIENT_ID_PREFIX.length), conversationId, role: m.role as Role, content: m.content, timestamp: Date.parse(m.createdAt) };
  if (m.model) out.model = m.model;
  const t = md.tokens;
  if (t && (t['prompt'] || t['completion'] || t['total'] || t['cacheRead'] != null || t['cacheCreation'] != null)) {
    out.usage = { promptTokens: t['prompt'] || 0, completionTokens: t['completion'] || 0, totalTokens: t['total'] || 0 };
    if (t['cacheRead'] != null) out.usage.cacheReadTokens = t['cacheRead'];
    if (t['cacheCreation'] != null) out.usage.cacheCreationTokens = t['cacheCreation'];
  }
  if (m.messageType === 'tool_call' && m.toolArgs != null) out.toolCalls = m.toolArgs as unknown as unknown[];
  if (m.toolCallId) out.toolCallId = m.toolCallId;
  if (typeof md.agentos?.name === 'string' && md.agentos.name) out.name = md.agentos.name;
  if (md.legacy !== null && typeof md.legacy === 'object') out.metadata = md.legacy as Record<string, unknown>;
  return out;
}

/** The AgentOS record a conversation keeps in `metadata.agentos` (written by this adapter or the importer). */
function agentosRecord<T = unknown>(metadata: Record<string, unknown> | null | undefined): T | undefined {
  const kind = (metadata?.['source'] as { kind?: unknown } | undefined)?.kind;
  return kind === SOURCE || kind === IMPORTED ? (metadata!['agentos'] as T | undefined) : undefined;
}

function window<T>(items: T[], options: { limit?: number; offset?: number }): T[] {
  const start = options.offset || 0;
  return options.limit ? items.slice(start, start + options.limit) : items.slice(start);
}

function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function isNotFound(e: unknown): boolean {
  return isStatus(e, 404);
}
