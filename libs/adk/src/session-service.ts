import { randomUUID } from 'node:crypto';
import {
  BaseSessionService,
  createEventActions,
  State,
  trimTempDeltaState,
  type AppendEventRequest,
  type CreateSessionRequest,
  type DeleteSessionRequest,
  type Event,
  type GetSessionRequest,
  type ListSessionsRequest,
  type ListSessionsResponse,
  type Session,
} from '@google/adk';
import { AgentHubDirectory, isStatus, clientOf, paginate, type AgentHubClient, type AgentHubConnection, type components } from '@agenthub/client';
import { findConversation } from './lookups';
import { eventIdOf, eventMessages, eventOf } from './mapping';

type Conversation = components['schemas']['ConversationDto_Output'];
type Message = components['schemas']['MessageDto_Output'];
type StateMap = Record<string, unknown>;

/** What a conversation started by this service (or by the ADK importer) keeps in its metadata. */
interface SessionMetadata {
  source?: { kind?: string; appName?: string; userId?: string; sessionId?: string };
  /** the session's own state (no app:, user: or temp: keys) as of message `stateSeq` */
  state?: StateMap;
  stateSeq?: number;
  [key: string]: unknown;
}

const PAGE = 200;
/** Conditional updates of app or user state (If-Match on the agent's or user's version) that lost a race are tried again this many times. */
const STATE_ATTEMPTS = 20;
/** A short random wait before trying a conditional update again, so that racing writers spread out. */
const backoff = (attempt: number) => new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(200, 10 * 2 ** attempt)));

/**
 * ADK sessions stored in AgentHub, the way ADK's own `DatabaseSessionService` stores them in a database: an app is
 * an agent (by name), a user a user (by `externalId`), a session a conversation (its `sessionId` is the session's
 * id), every event the messages the ADK importer makes of it, the whole event kept on the first one.
 *
 * State keeps ADK's scopes. `app:` keys are shared by every session of the app and live in the agent's
 * `metadata.adkState`; `user:` keys are shared by the user's sessions of the app and live in the user's
 * `metadata.adkState[appName]` (both with their prefix, as the importer stores them); `temp:` keys are never stored;
 * the rest is the session's own. The session's own state is never lost between an append and its bookkeeping: each
 * event carries its `stateDelta`, and the conversation's `metadata.state` is a snapshot as of message `stateSeq`
 * that reads fold the later deltas onto — an append that dies after its messages were stored leaves a correct state.
 *
 * Concurrency: appends are numbered by the API (gap-free, in commit order; a repeated event id is stored once). App
 * and user state are updated with If-Match on the agent's or user's version and retried, so sessions writing
 * `app:` or `user:` keys at once, in any number of processes, all land.
 */
export class AgentHubSessionService extends BaseSessionService {
  readonly client: AgentHubClient;
  /** apps' agents (created with the Idempotency-Key `adk-app:<appName>`) and users by externalId */
  private readonly directory: AgentHubDirectory;
  private readonly conversations = new Map<string, string>();
  /** user: state writes of this process, one at a time per user (fewer lost races; If-Match guards across processes) */
  private readonly userWrites = new Map<string, Promise<unknown>>();

  /** `connection`: its API key needs role admin (ADK users become AgentHub users). */
  constructor(connection: AgentHubConnection) {
    super();
    this.client = clientOf(connection);
    this.directory = new AgentHubDirectory(this.client, 'adk-app');
  }

  override async createSession({ appName, userId, state, sessionId }: CreateSessionRequest): Promise<Session> {
    const id = sessionId?.trim() || randomUUID();
    const [agentId, uid] = await Promise.all([this.directory.agentId(appName, { metadata: { adk: { appName } } }), this.directory.userId(userId, true)]);
    if (await findConversation(this.client, agentId!, uid!, id)) throw new Error(`Session with id ${id} already exists.`);
    const { app, user, session } = splitState(state ?? {});
    const [appState, userState] = await Promise.all([this.updateAppState(agentId!, app), this.updateUserState(appName, uid!, user)]);
    const metadata: SessionMetadata = { source: { kind: 'adk', appName, userId, sessionId: id }, state: session, stateSeq: 0 };
    const { data: created } = await this.client.POST('/api/v1/conversations', {
      body: { agentId: agentId!, userId: uid!, sessionId: id, title: typeof session['title'] === 'string' ? session['title'] : null, metadata },
    });
    this.conversations.set(key(appName, userId, id), created!.id);
    return { id, appName, userId, state: { ...session, ...appState, ...userState }, events: [], lastUpdateTime: Date.parse(created!.createdAt) };
  }

  override async getSession({ appName, userId, sessionId, config }: GetSessionRequest): Promise<Session | undefined> {
    const conversation = await this.conversation(appName, userId, sessionId);
    if (!conversation) return undefined;
    const metadata = conversation.metadata as SessionMetadata;
    const stateSeq = metadata.stateSeq ?? 0;
    const filtered = !!(config?.numRecentEvents || config?.afterTimestamp);
    const [history, recent, appState, userState] = await Promise.all([
      // Every message after the state snapshot: its events' deltas, and without a filter, the events themselves.
      this.messages(conversation.id, { afterSeq: filtered ? stateSeq : 0 }),
      filtered ? this.recentEvents(conversation.id, config!.numRecentEvents, config!.afterTimestamp) : undefined,
      this.appState(conversation.agentId),
      conversation.userId ? this.userState(appName, conversation.userId) : {},
    ]);
    const all = toEvents(history);
    const state = foldState(metadata.state ?? {}, all.filter((e) => (e.seq ?? 0) > stateSeq));
    const events = recent ?? all;
    return {
      id: sessionId,
      appName,
      userId,
      state: { ...state, ...appState, ...userState },
      events: events.map((e) => e.event),
      lastUpdateTime: lastUpdate(conversation, (recent?.length ? recent : all).at(-1)?.event),
    };
  }

  override async listSessions({ appName, userId, limit, offset, page, order }: ListSessionsRequest): Promise<ListSessionsResponse> {
    const agentId = await this.directory.agentId(appName);
    const uid = agentId && userId !== undefined ? await this.directory.userId(userId) : undefined;
    const all: Session[] = [];
    if (agentId && (userId === undefined || uid)) {
      const conversations = paginate((cursor) =>
        this.client.GET('/api/v1/conversations', { params: { query: { agentId, ...(uid ? { userId: uid } : {}), limit: PAGE, cursor } } }),
      );
      for await (const c of conversations) {
        const source = (c.metadata as SessionMetadata).source;
        if (!c.sessionId || source?.kind !== 'adk' || typeof source.userId !== 'string') continue;
        all.push({ id: c.sessionId, appName, userId: source.userId, state: {}, events: [], lastUpdateTime: lastUpdate(c) });
      }
    }
    if (order) all.sort((a, b) => (order === 'asc' ? 1 : -1) * (a.lastUpdateTime - b.lastUpdateTime) || a.id.localeCompare(b.id));
    return pageOf(all, { limit, offset, page });
  }

  override async deleteSession({ appName, userId, sessionId }: DeleteSessionRequest): Promise<void> {
    const conversation = await this.conversation(appName, userId, sessionId);
    this.conversations.delete(key(appName, userId, sessionId));
    if (!conversation) return;
    try {
      await this.client.DELETE('/api/v1/conversations/{id}', { params: { path: { id: conversation.id } } });
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
  }

  /**
   * Stores the event (not a partial one: those are streaming previews ADK never persists) as its messages, then
   * updates app, user and session state; the session object is updated as ADK's base class does.
   */
  override async appendEvent({ session, event }: AppendEventRequest): Promise<Event> {
    if (event.partial) return event;
    const trimmed = trimTempDeltaState(event);
    const conversation = await this.conversation(session.appName, session.userId, session.id);
    if (!conversation) throw new Error(`Session ${session.id} not found for appendEvent`);
    const messages = eventMessages(trimmed, JSON.parse(JSON.stringify(trimmed)) as object);
    const { data } = await this.client.POST('/api/v1/conversations/{id}/messages', {
      params: { path: { id: conversation.id } },
      body: { messages },
    });
    // The session object changes only once the event is stored.
    const appended = await super.appendEvent({ session, event: trimmed });
    session.lastUpdateTime = appended.timestamp;
    const { app, user, session: own } = splitState(appended.actions?.stateDelta ?? {});
    await Promise.all([
      this.updateAppState(conversation.agentId, app),
      conversation.userId ? this.updateUserState(session.appName, conversation.userId, user) : undefined,
      Object.keys(own).length ? this.snapshotState(conversation.id, data!.data.at(-1)!.seq) : undefined,
    ]);
    return appended;
  }

  // ——— state ———

  /** Moves the conversation's state snapshot up to `seq` (never back), folding the deltas stored since the last one. */
  private async snapshotState(conversationId: string, seq: number): Promise<void> {
    const { data: conversation } = await this.client.GET('/api/v1/conversations/{id}', { params: { path: { id: conversationId } } });
    const metadata = conversation!.metadata as SessionMetadata;
    const from = metadata.stateSeq ?? 0;
    if (from >= seq) return;
    const later = toEvents(await this.messages(conversationId, { afterSeq: from, beforeSeq: seq + 1 }));
    const state = foldState(metadata.state ?? {}, later);
    await this.client.PATCH('/api/v1/conversations/{id}', {
      params: { path: { id: conversationId } },
      body: { metadata: { ...metadata, state, stateSeq: seq } },
    });
  }

  private async appState(agentId: string): Promise<StateMap> {
    const { data: agent } = await this.client.GET('/api/v1/agents/{id}', { params: { path: { id: agentId } } });
    return adkState(agent!.metadata);
  }

  private async userState(appName: string, userId: string): Promise<StateMap> {
    const { data: user } = await this.client.GET('/api/v1/users/{id}', { params: { path: { id: userId } } });
    return adkState(user!.metadata, appName);
  }

  /** Merges `delta` (keys with `app:`) into the agent's app state, conditional on its version; returns the new state. */
  private async updateAppState(agentId: string, delta: StateMap): Promise<StateMap> {
    for (let attempt = 1; ; attempt++) {
      const { data: agent } = await this.client.GET('/api/v1/agents/{id}', { params: { path: { id: agentId } } });
      const state = adkState(agent!.metadata);
      if (!Object.keys(delta).length) return state;
      const next = { ...state, ...delta };
      try {
        await this.client.PATCH('/api/v1/agents/{id}', {
          params: { path: { id: agentId }, header: { 'If-Match': String(agent!.version) } },
          body: { metadata: { ...agent!.metadata, adkState: next } },
        });
        return next;
      } catch (e) {
        if (!isStatus(e, 409) || attempt >= STATE_ATTEMPTS) throw e;
        await backoff(attempt);
      }
    }
  }

  private updateUserState(appName: string, userId: string, delta: StateMap): Promise<StateMap> {
    if (!Object.keys(delta).length) return this.userState(appName, userId);
    const previous = this.userWrites.get(userId) ?? Promise.resolve();
    const write = previous.catch(() => undefined).then(() => this.writeUserState(appName, userId, delta));
    this.userWrites.set(userId, write);
    void write.finally(() => this.userWrites.get(userId) === write && this.userWrites.delete(userId)).catch(() => undefined);
    return write;
  }

  /** Merges `delta` (keys with `user:`) into the user's state of this app, conditional on the user's version. */
  private async writeUserState(appName: string, userId: string, delta: StateMap): Promise<StateMap> {
    for (let attempt = 1; ; attempt++) {
      const { data: user } = await this.client.GET('/api/v1/users/{id}', { params: { path: { id: userId } } });
      const all = (user!.metadata['adkState'] ?? {}) as Record<string, StateMap>;
      const next = { ...adkState(user!.metadata, appName), ...delta };
      try {
        await this.client.PATCH('/api/v1/users/{id}', {
          params: { path: { id: userId }, header: { 'If-Match': String(user!.version) } },
          body: { metadata: { ...user!.metadata, adkState: { ...all, [appName]: next } } },
        });
        return next;
      } catch (e) {
        if (!isStatus(e, 409) || attempt >= STATE_ATTEMPTS) throw e;
        await backoff(attempt);
      }
    }
  }

  // ——— reads ———

  private async messages(conversationId: string, range: { afterSeq?: number; beforeSeq?: number }): Promise<Message[]> {
    const out: Message[] = [];
    const pages = paginate((cursor) =>
      this.client.GET('/api/v1/conversations/{id}/messages', {
        params: { path: { id: conversationId }, query: { ...range, order: 'asc', limit: PAGE, cursor } },
      }),
    );
    for await (const m of pages) out.push(m);
    return out;
  }

  /**
   * The newest events, read newest first until enough: the last `numRecentEvents`, then of those the ones after
   * the newest event older than `afterTimestamp` — what ADK's InMemorySessionService returns.
   */
  private async recentEvents(conversationId: string, numRecentEvents?: number, afterTimestamp?: number): Promise<StoredEvent[]> {
    const newestFirst: Message[] = [];
    const pages = paginate((cursor) =>
      this.client.GET('/api/v1/conversations/{id}/messages', { params: { path: { id: conversationId }, query: { order: 'desc', limit: PAGE, cursor } } }),
    );
    let events: StoredEvent[] = [];
    for await (const m of pages) {
      newestFirst.push(m);
      // An event's messages are consecutive; the last event read may be incomplete until one more has been seen.
      events = toEvents([...newestFirst].reverse());
      const complete = events.slice(1);
      if (numRecentEvents && complete.length >= numRecentEvents) break;
      if (afterTimestamp && complete.some((e) => e.event.timestamp < afterTimestamp)) break;
    }
    if (numRecentEvents) events = events.slice(-numRecentEvents);
    if (afterTimestamp) {
      let i = events.length - 1;
      while (i >= 0 && events[i].event.timestamp >= afterTimestamp) i--;
      if (i >= 0) events = events.slice(i + 1);
    }
    return events;
  }

  // ——— ids ———

  private async conversation(appName: string, userId: string, sessionId: string): Promise<Conversation | undefined> {
    const cacheKey = key(appName, userId, sessionId);
    const known = this.conversations.get(cacheKey);
    if (known) {
      try {
        const { data } = await this.client.GET('/api/v1/conversations/{id}', { params: { path: { id: known } } });
        return data;
      } catch (e) {
        if (!isStatus(e, 404)) throw e;
        // Deleted, perhaps by another process that has since created the session again: look it up afresh.
        this.conversations.delete(cacheKey);
      }
    }
    const agentId = await this.directory.agentId(appName);
    const uid = agentId && (await this.directory.userId(userId));
    const found = agentId && uid ? await findConversation(this.client, agentId, uid, sessionId) : undefined;
    if (found) this.conversations.set(cacheKey, found.id);
    return found;
  }
}

// ——— helpers ———

const key = (appName: string, userId: string, sessionId: string) => JSON.stringify([appName, userId, sessionId]);

/** An event as stored: the event and the seq of its last message. */
interface StoredEvent {
  event: Event;
  seq?: number;
}

/**
 * Messages in seq order → their events. A live append's first message carries the whole event; an imported event
 * (the importer keeps its messages, not the event) is rebuilt from its messages: author, text, thoughts, function
 * calls and responses, error, usage.
 */
export function toEvents(messages: Message[]): StoredEvent[] {
  const out: StoredEvent[] = [];
  let current: { id: string; messages: Message[] } | undefined;
  const flush = () => {
    if (!current) return;
    const whole = eventOf(current.messages[0]);
    out.push({ event: (whole as unknown as Event) ?? rebuild(current.id, current.messages), seq: current.messages.at(-1)!.seq });
  };
  for (const m of messages) {
    const id = eventIdOf(m);
    if (!id) continue; // a message written by something other than ADK
    if (current?.id === id) current.messages.push(m);
    else {
      flush();
      current = { id, messages: [m] };
    }
  }
  flush();
  return out;
}

function rebuild(id: string, messages: Message[]): Event {
  const source = messages[0].metadata['source'] as { invocationId?: string | null; author?: string };
  const parts: Array<Record<string, unknown>> = [];
  let errorCode: string | undefined;
  let errorMessage: string | undefined;
  for (const m of messages) {
    if (m.messageType === 'thinking') parts.push({ text: m.content, thought: true });
    else if (m.messageType === 'text' && m.content) parts.push({ text: m.content });
    else if (m.messageType === 'tool_call') parts.push({ functionCall: { name: m.toolName ?? undefined, args: m.toolArgs ?? {}, ...(m.toolCallId ? { id: m.toolCallId } : {}) } });
    else if (m.messageType === 'tool_response') {
      parts.push({ functionResponse: { name: m.toolName ?? undefined, response: m.metadata['response'], ...(m.toolCallId ? { id: m.toolCallId } : {}) } });
    } else if (m.messageType === 'error') {
      errorCode = (m.metadata['errorCode'] as string | null) ?? undefined;
      errorMessage = m.content;
    }
  }
  const author = source.author ?? 'unknown';
  const usage = messages[0].metadata['usage'];
  return {
    id,
    invocationId: source.invocationId ?? '',
    author,
    timestamp: Date.parse(messages[0].createdAt),
    actions: createEventActions(),
    // ADK (and Gemini) put function responses in a user turn, whatever the event's author.
    ...(parts.length ? { content: { role: author === 'user' || messages.some((m) => m.messageType === 'tool_response') ? 'user' : 'model', parts } } : {}),
    ...(messages[0].model ? { modelVersion: messages[0].model } : {}),
    ...(usage ? { usageMetadata: usage } : {}),
    ...(errorCode ? { errorCode } : {}),
    ...(errorMessage !== undefined ? { errorMessage } : {}),
  } as Event;
}

/** A state (or delta) split by scope; temp: keys dropped. */
function splitState(state: StateMap): { app: StateMap; user: StateMap; session: StateMap } {
  const app: StateMap = {};
  const user: StateMap = {};
  const session: StateMap = {};
  for (const [k, v] of Object.entries(state)) {
    if (k.startsWith(State.APP_PREFIX)) app[k] = v;
    else if (k.startsWith(State.USER_PREFIX)) user[k] = v;
    else if (!k.startsWith(State.TEMP_PREFIX)) session[k] = v;
  }
  return { app, user, session };
}

/** The session's own state after these events' deltas. */
function foldState(snapshot: StateMap, events: StoredEvent[]): StateMap {
  const state = { ...snapshot };
  for (const { event } of events) Object.assign(state, splitState(event.actions?.stateDelta ?? {}).session);
  return state;
}

/** `metadata.adkState` of an agent, or `metadata.adkState[appName]` of a user. */
function adkState(metadata: Record<string, unknown>, appName?: string): StateMap {
  const all = metadata['adkState'];
  const state = appName === undefined ? all : (all as Record<string, unknown> | undefined)?.[appName];
  return state && typeof state === 'object' && !Array.isArray(state) ? { ...(state as StateMap) } : {};
}

/** A session's last update: its newest event's time, else the conversation's last message or creation. */
function lastUpdate(conversation: Conversation, newest?: Event): number {
  return newest?.timestamp ?? Date.parse(conversation.lastMessageAt ?? conversation.createdAt);
}

/** ADK's paging of listSessions (its InMemorySessionService's arithmetic). */
function pageOf(all: Session[], { limit, offset, page }: { limit?: number; offset?: number; page?: number }): ListSessionsResponse {
  const totalItems = all.length;
  if (limit === undefined) {
    return { sessions: offset ? all.slice(offset) : all, page: 1, limit: totalItems, totalItems, totalPages: totalItems === 0 ? 0 : 1 };
  }
  const totalPages = limit === 0 ? 0 : Math.ceil(totalItems / limit);
  const start = page !== undefined ? (page - 1) * limit : (offset ?? 0);
  const current = page !== undefined ? page : limit === 0 ? 1 : Math.floor(start / limit) + 1;
  return { sessions: all.slice(start, start + limit), page: current, limit, totalItems, totalPages };
}
