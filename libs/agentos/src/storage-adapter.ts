import { isDeepStrictEqual } from 'node:util';
import type { IConversation, IConversationMessage, IMessageQueryOptions, IStorageAdapter, ITokenUsage } from '@framers/agentos';
import { AgentHubDirectory, AgentHubError, clientOf, paginate, type AgentHubClient, type AgentHubConnection, type components } from '@agenthub/client';

type HubConversation = components['schemas']['ConversationDto_Output'];
type HubMessage = components['schemas']['MessageDto_Output'];
type Role = IConversationMessage['role'];

export interface AgentHubStorageAdapterOptions {
  /**
   * The AgentHub agent of conversations that name no `agentId` (AgentHub files every conversation under an agent).
   * Default `agentos`.
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
const CLIENT_ID_PREFIX = 'agentos:';

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
    this.defaultAgentName = options.defaultAgentName ?? SOURCE;
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
    const [agentId, userId] = await Promise.all([
      this.directory.agentId(record.agentId ?? this.defaultAgentName, { metadata: { agentos: { agentId: record.agentId ?? null } } }),
      this.directory.userId(record.userId, true),
    ]);
    const { data } = await this.client.POST('/api/v1/conversations', {
      body: { agentId, userId, sessionId: record.id, title: record.title ?? null, metadata: conversationMetadata(record) },
    });
    this.conversationIds.set(record.id, data!.id);
    return conversation;
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
    const conversation = await this.findConversation(message.conversationId);
    if (!conversation) throw new Error(`Conversation not found: ${message.conversationId}`);
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
    if (stored.content !== message.content || !isDeepStrictEqual(agentosRecord(stored.metadata), record)) {
      throw new Error(`Message already exists: ${message.id}`);
    }
    // Storing a message sets the conversation's lastActivity to its timestamp (AgentOS's adapter does the same).
    const current = agentosRecord<ConversationRecord>(conversation.metadata);
    if (current && current.lastActivity !== message.timestamp) {
      await this.patchRecord(conversation, { ...current, lastActivity: message.timestamp });
    }
    return message;
  }

  async getMessage(messageId: string): Promise<IConversationMessage | null> {
    const found = await this.findMessage(messageId);
    if (!found) return null;
    const conversation = await this.conversationOfMessage(found);
    return conversation ? toMessage(found, conversation) : null;
  }

  async getMessages(conversationId: string, options: IMessageQueryOptions = {}): Promise<IConversationMessage[]> {
    const conversation = await this.findConversation(conversationId);
    if (!conversation) return [];
    let messages = (await this.allMessages(conversation.id)).map((m) => toMessage(m, conversationId));
    // AgentOS's adapter reads 0 as "no bound" (its `if (options.since)`): so does this one.
    if (options.since) messages = messages.filter((m) => m.timestamp >= options.since!);
    if (options.until) messages = messages.filter((m) => m.timestamp <= options.until!);
    if (options.roles?.length) messages = messages.filter((m) => options.roles!.includes(m.role));
    // By timestamp; equal timestamps in the order they were stored (seq) either way, as AgentOS's SQLite returns them.
    const sign = options.order === 'desc' ? -1 : 1;
    messages.sort((a, b) => sign * (a.timestamp - b.timestamp));
    return window(messages, options);
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
    for (const m of await this.allMessages(conversation.id)) if (await this.deleteHubMessage(m.id)) deleted++;
    return deleted;
  }

  async getMessageCount(conversationId: string): Promise<number> {
    const conversation = await this.findConversation(conversationId);
    return conversation ? conversation.messageCount : 0;
  }

  async getConversationTokenUsage(conversationId: string): Promise<ITokenUsage> {
    const usage: ITokenUsage = { promptTokens: 0, completionTokens: 0, totalTokens: 0 };
    const conversation = await this.findConversation(conversationId);
    if (!conversation) return usage;
    let cacheRead: number | undefined;
    let cacheCreation: number | undefined;
    for (const m of await this.allMessages(conversation.id)) {
      const u = agentosRecord<MessageRecord>(m.metadata)?.usage;
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
    const { data } = await this.client.GET('/api/v1/messages', { params: { query: { clientId: CLIENT_ID_PREFIX + messageId } } });
    return data!.data.find((m) => agentosRecord(m.metadata)) as HubMessage | undefined;
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

  private async allMessages(hubConversationId: string): Promise<HubMessage[]> {
    const out: HubMessage[] = [];
    for await (const m of paginate((cursor) =>
      this.client.GET('/api/v1/conversations/{id}/messages', { params: { path: { id: hubConversationId }, query: { cursor, limit: 200 } } }),
    )) {
      if (agentosRecord(m.metadata)) out.push(m as HubMessage);
    }
    return out;
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

  private async patchRecord(conversation: HubConversation, record: ConversationRecord): Promise<void> {
    await this.client.PATCH('/api/v1/conversations/{id}', {
      params: { path: { id: conversation.id } },
      body: { metadata: conversationMetadata(record, conversation.metadata) },
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

function toMessage(m: HubMessage, conversationId: string): IConversationMessage {
  const { id, role, timestamp, ...rest } = agentosRecord<MessageRecord>(m.metadata)!;
  return { id, conversationId, role, content: m.content, timestamp, ...rest };
}

function agentosRecord<T = unknown>(metadata: Record<string, unknown> | null | undefined): T | undefined {
  const source = metadata?.['source'] as { kind?: unknown } | undefined;
  return source?.kind === SOURCE ? (metadata!['agentos'] as T | undefined) : undefined;
}

function window<T>(items: T[], options: { limit?: number; offset?: number }): T[] {
  const start = options.offset || 0;
  return options.limit ? items.slice(start, start + options.limit) : items.slice(start);
}

function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function isNotFound(e: unknown): boolean {
  return e instanceof AgentHubError && e.status === 404;
}
