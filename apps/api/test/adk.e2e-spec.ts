import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import { createHash, randomUUID } from 'node:crypto';
import {
  BaseLlm,
  createEvent,
  createEventActions,
  FunctionTool,
  InMemorySessionService,
  LlmAgent,
  Runner,
  type BaseLlmConnection,
  type BaseSessionService,
  type Event,
  type LlmRequest,
  type LlmResponse,
  type Session,
} from '@google/adk';
import { AgentHubMemoryService, AgentHubSessionService, eventMessages } from '@agenthub/adk';
import { createAgentHubClient, type AgentHubClient } from '@agenthub/client';
import { TEST_ADMIN_TOKEN, TestApi } from './support/api-harness';

const ROOT = path.resolve(__dirname, '..', '..', '..');

/** An event as ADK's Runner makes them, at a given time. */
function event(author: string, timestamp: number, fields: Partial<Event> & { stateDelta?: Record<string, unknown> } = {}): Event {
  const { stateDelta, ...rest } = fields;
  return createEvent({
    id: `${author}-${timestamp}`,
    invocationId: `inv-${timestamp}`,
    author,
    timestamp,
    content: { role: author === 'user' ? 'user' : 'model', parts: [{ text: `${author} at ${timestamp}` }] },
    ...rest,
    actions: createEventActions({ stateDelta: stateDelta ?? {} }),
  });
}

/** What a session service shows of a session, without its times (each store keeps its own clock). */
function view(session: Session | undefined) {
  if (!session) return session;
  return { id: session.id, appName: session.appName, userId: session.userId, state: session.state, events: JSON.parse(JSON.stringify(session.events)) as unknown };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * ADK's session-service behaviour, case by case, run on ADK's own InMemorySessionService and on
 * AgentHubSessionService against the real API: each case returns what it observed, and the two must be equal.
 * Cases follow what ADK's tests of its session services check (state scoping across sessions and users, the
 * numRecentEvents / afterTimestamp filters, listing and paging, deletion, appends to a stale session, partial
 * events, function calls and responses, a repeated event).
 */
const cases: Array<[string, (s: BaseSessionService, app: string) => Promise<unknown>]> = [
  [
    'creates and reads a session; temp: keys of the initial state are not kept',
    async (s, app) => {
      const created = await s.createSession({ appName: app, userId: 'u1', sessionId: 's1', state: { step: 1, nested: { a: [1, 'b'] }, 'temp:scratch': true } });
      return { created: view(created), read: view(await s.getSession({ appName: app, userId: 'u1', sessionId: 's1' })) };
    },
  ],
  [
    'unknown sessions, users and apps read as undefined',
    async (s, app) => {
      await s.createSession({ appName: app, userId: 'u1', sessionId: 's1' });
      return [
        await s.getSession({ appName: app, userId: 'u1', sessionId: 'nope' }),
        await s.getSession({ appName: app, userId: 'u2', sessionId: 's1' }),
        await s.getSession({ appName: `${app}-other`, userId: 'u1', sessionId: 's1' }),
      ];
    },
  ],
  [
    'app: state is shared by every session of the app, user: state by the user\'s sessions, temp: never stored',
    async (s, app) => {
      const a = await s.createSession({ appName: app, userId: 'u1', sessionId: 'a' });
      await s.createSession({ appName: app, userId: 'u1', sessionId: 'b' });
      await s.createSession({ appName: app, userId: 'u2', sessionId: 'c' });
      const appended = await s.appendEvent({ session: a, event: event('agent', 1_000, { stateDelta: { 'app:theme': 'dark', 'user:lang': 'nl', 'temp:draft': 'x', step: 2 } }) });
      await s.appendEvent({ session: a, event: event('agent', 2_000, { stateDelta: { 'app:theme': 'light', step: 3 } }) });
      await s.createSession({ appName: app, userId: 'u1', sessionId: 'd', state: { own: true } });
      const read = async (userId: string, sessionId: string) => (await s.getSession({ appName: app, userId, sessionId }))!.state;
      return {
        sessionObject: a.state,
        appendedDelta: appended.actions.stateDelta,
        a: await read('u1', 'a'),
        b: await read('u1', 'b'),
        c: await read('u2', 'c'),
        d: await read('u1', 'd'),
        otherApp: (await s.createSession({ appName: `${app}-other`, userId: 'u1', sessionId: 'a' })).state,
      };
    },
  ],
  [
    'numRecentEvents and afterTimestamp filter the events, alone and together',
    async (s, app) => {
      const session = await s.createSession({ appName: app, userId: 'u1', sessionId: 's' });
      for (let i = 1; i <= 6; i++) await s.appendEvent({ session, event: event(i % 2 ? 'user' : 'agent', i * 1_000) });
      const times = async (config: { numRecentEvents?: number; afterTimestamp?: number }) =>
        (await s.getSession({ appName: app, userId: 'u1', sessionId: 's', config }))!.events.map((e) => e.timestamp);
      return {
        all: await times({}),
        last2: await times({ numRecentEvents: 2 }),
        more: await times({ numRecentEvents: 50 }),
        after2500: await times({ afterTimestamp: 2_500 }),
        atAnEvent: await times({ afterTimestamp: 3_000 }),
        beforeAll: await times({ afterTimestamp: 1 }),
        afterAll: await times({ afterTimestamp: 9_000 }),
        both: await times({ numRecentEvents: 4, afterTimestamp: 4_500 }),
        bothNarrow: await times({ numRecentEvents: 2, afterTimestamp: 1_500 }),
      };
    },
  ],
  [
    'lists sessions per user and per app, without events or state, with paging and ordering',
    async (s, app) => {
      for (const [userId, sessionId] of [['u1', 's1'], ['u1', 's2'], ['u2', 's3'], ['u1', 's4'], ['u2', 's5']]) {
        const session = await s.createSession({ appName: app, userId, sessionId, state: { k: sessionId } });
        await s.appendEvent({ session, event: event('user', Date.now()) });
        await pause(5);
      }
      const ids = (r: { sessions: Session[] }) => r.sessions.map((x) => `${x.userId}/${x.id}`);
      const meta = ({ page, limit, totalItems, totalPages }: { page: number; limit: number; totalItems: number; totalPages: number }) => ({ page, limit, totalItems, totalPages });
      const u1 = await s.listSessions({ appName: app, userId: 'u1' });
      return {
        u1: ids(u1).sort(),
        u1Meta: meta(u1),
        u1Bare: u1.sessions.map((x) => ({ state: x.state, events: x.events })),
        everyone: ids(await s.listSessions({ appName: app })).sort(),
        asc: ids(await s.listSessions({ appName: app, order: 'asc' })),
        desc: ids(await s.listSessions({ appName: app, userId: 'u1', order: 'desc' })),
        page2: await s.listSessions({ appName: app, order: 'asc', limit: 2, page: 2 }).then((r) => ({ ids: ids(r), ...meta(r) })),
        offset: await s.listSessions({ appName: app, order: 'desc', limit: 2, offset: 3 }).then((r) => ({ ids: ids(r), ...meta(r) })),
        beyond: await s.listSessions({ appName: app, order: 'asc', limit: 2, page: 9 }).then((r) => ({ ids: ids(r), ...meta(r) })),
        nobody: meta(await s.listSessions({ appName: app, userId: 'nobody' })),
        nobodyPaged: meta(await s.listSessions({ appName: app, userId: 'nobody', limit: 3, offset: 3 })),
        noApp: meta(await s.listSessions({ appName: `${app}-none` })),
      };
    },
  ],
  [
    'deletes a session (and only it); deleting an unknown one is a no-op',
    async (s, app) => {
      await s.createSession({ appName: app, userId: 'u1', sessionId: 'keep' });
      const gone = await s.createSession({ appName: app, userId: 'u1', sessionId: 'gone' });
      await s.appendEvent({ session: gone, event: event('user', 5_000) });
      await s.deleteSession({ appName: app, userId: 'u1', sessionId: 'gone' });
      await s.deleteSession({ appName: app, userId: 'u1', sessionId: 'never' });
      return {
        gone: await s.getSession({ appName: app, userId: 'u1', sessionId: 'gone' }),
        listed: (await s.listSessions({ appName: app, userId: 'u1' })).sessions.map((x) => x.id),
        again: await s.createSession({ appName: app, userId: 'u1', sessionId: 'gone' }).then(view),
      };
    },
  ],
  [
    'an event appended through a stale session object lands after the others, and the stale object gets it too',
    async (s, app) => {
      await s.createSession({ appName: app, userId: 'u1', sessionId: 's', state: { n: 0 } });
      const first = (await s.getSession({ appName: app, userId: 'u1', sessionId: 's' }))!;
      const stale = (await s.getSession({ appName: app, userId: 'u1', sessionId: 's' }))!;
      await s.appendEvent({ session: first, event: event('agent', 1_000, { stateDelta: { n: 1, a: true } }) });
      await s.appendEvent({ session: stale, event: event('agent', 2_000, { stateDelta: { n: 2, b: true } }) });
      return { stored: view(await s.getSession({ appName: app, userId: 'u1', sessionId: 's' })), stale: view(stale), first: view(first) };
    },
  ],
  [
    'partial events are not stored; function calls and responses, usage, errors and the final text are, whole',
    async (s, app) => {
      const session = await s.createSession({ appName: app, userId: 'u1', sessionId: 's' });
      const partial = await s.appendEvent({ session, event: event('agent', 1_000, { partial: true }) });
      await s.appendEvent({
        session,
        event: event('agent', 2_000, {
          content: { role: 'model', parts: [{ text: 'thinking…', thought: true }, { functionCall: { id: 'call-1', name: 'lookup', args: { q: 'weather', n: 2 } } }] },
          usageMetadata: { promptTokenCount: 11, candidatesTokenCount: 4, totalTokenCount: 15 },
          modelVersion: 'stub-1',
        }),
      });
      await s.appendEvent({
        session,
        event: event('agent', 3_000, { content: { role: 'user', parts: [{ functionResponse: { id: 'call-1', name: 'lookup', response: { result: { temp: 21.5, unit: 'C' } } } }] } }),
      });
      await s.appendEvent({ session, event: event('agent', 4_000, { content: undefined, errorCode: 'SAFETY', errorMessage: 'blocked', turnComplete: true }) });
      await s.appendEvent({ session, event: event('agent', 5_000, { content: undefined, stateDelta: { only: 'state' } }) });
      const read = await s.getSession({ appName: app, userId: 'u1', sessionId: 's' });
      return { partial: partial.partial, inSession: session.events.length, read: view(read) };
    },
  ],
  [
    'the same event appended twice is stored once',
    async (s, app) => {
      const session = await s.createSession({ appName: app, userId: 'u1', sessionId: 's' });
      const once = event('user', 1_000);
      await s.appendEvent({ session, event: once });
      await s.appendEvent({ session, event: { ...once } });
      return { inSession: session.events.length, stored: view(await s.getSession({ appName: app, userId: 'u1', sessionId: 's' })) };
    },
  ],
];

/** Embeddings for tests: a bag of hashed words in 1536 dimensions, so texts sharing words are near. */
async function embed(texts: string[]): Promise<number[][]> {
  return texts.map((text) => {
    const v = new Array<number>(1536).fill(0);
    for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) v[createHash('sha256').update(word).digest().readUInt16BE(0) % 1536] += 1;
    if (!v.some((x) => x)) v[0] = 1;
    return v;
  });
}

/** A model that asks for the weather tool once, then answers with what the tool said; no network. */
class StubModel extends BaseLlm {
  constructor() {
    super({ model: 'stub-model' });
  }
  async *generateContentAsync(request: LlmRequest): AsyncGenerator<LlmResponse, void> {
    const last = request.contents.at(-1);
    const response = last?.parts?.find((p) => p.functionResponse)?.functionResponse;
    if (response) {
      yield { content: { role: 'model', parts: [{ text: `It is ${(response.response as { forecast: string }).forecast}.` }] }, usageMetadata: { totalTokenCount: 9 }, turnComplete: true };
    } else {
      yield { content: { role: 'model', parts: [{ functionCall: { id: 'call-weather', name: 'weather', args: { city: 'Utrecht' } } }] }, usageMetadata: { totalTokenCount: 5 } };
    }
  }
  async connect(): Promise<BaseLlmConnection> {
    throw new Error('the stub model has no live connection');
  }
}

describe('@agenthub/adk against the API', () => {
  let api: TestApi;
  let apiKey: string;
  let hub: AgentHubClient;

  beforeAll(async () => {
    api = await TestApi.start();
    const admin = createAgentHubClient({ baseUrl: api.baseUrl, apiKey: TEST_ADMIN_TOKEN });
    const { data } = await admin.POST('/api/v1/organizations', { body: { name: 'adk-e2e', ownerEmail: 'owner@adk-e2e.test' } });
    apiKey = data!.apiKey.key;
    hub = createAgentHubClient({ baseUrl: api.baseUrl, apiKey });
  });
  afterAll(() => api.close());

  describe('behaves as ADK\'s InMemorySessionService', () => {
    it.each(cases)('%s', async (_name, run) => {
      const app = `app-${randomUUID().slice(0, 8)}`;
      const reference = await run(new InMemorySessionService(), app);
      const stored = await run(new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey }), app);
      expect(stored).toEqual(reference);
    });
  });

  it('stores an ADK app as an agent, its users by externalId, a session as a conversation, events as messages (the importer\'s mapping)', async () => {
    const sessions = new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey });
    const session = await sessions.createSession({ appName: 'mapped-app', userId: 'alice', sessionId: 'sess-1', state: { title: 'Trip plan' } });
    const call = event('planner', 2_000, { content: { role: 'model', parts: [{ text: 'Let me check.' }, { functionCall: { id: 'c1', name: 'weather', args: { city: 'Oslo' } } }] }, usageMetadata: { totalTokenCount: 12 } });
    await sessions.appendEvent({ session, event: event('user', 1_000) });
    await sessions.appendEvent({ session, event: call });
    const agents = (await hub.GET('/api/v1/agents', { params: { query: { name: 'mapped-app' } } })).data!.data;
    const users = (await hub.GET('/api/v1/users', { params: { query: { externalId: 'alice' } } })).data!.data;
    expect(agents).toHaveLength(1);
    expect(users).toHaveLength(1);
    const conversations = (await hub.GET('/api/v1/conversations', { params: { query: { agentId: agents[0].id, userId: users[0].id, sessionId: 'sess-1' } } })).data!.data;
    expect(conversations).toEqual([expect.objectContaining({ title: 'Trip plan', messageCount: 3, metadata: expect.objectContaining({ source: { kind: 'adk', appName: 'mapped-app', userId: 'alice', sessionId: 'sess-1' } }) })]);
    const messages = (await hub.GET('/api/v1/conversations/{id}/messages', { params: { path: { id: conversations[0].id } } })).data!.data;
    expect(messages.map((m) => [m.seq, m.role, m.messageType, m.clientId, m.content, m.toolName, m.tokensUsed])).toEqual([
      [1, 'user', 'text', `adk:${session.events[0].id}`, 'user at 1000', null, null],
      [2, 'assistant', 'text', `adk:${call.id}`, 'Let me check.', null, 12],
      [3, 'assistant', 'tool_call', `adk:${call.id}#1`, '', 'weather', null],
    ]);
    expect(messages[2]).toMatchObject({ toolArgs: { city: 'Oslo' }, toolCallId: 'c1' });
    expect(messages[1].metadata).toMatchObject({ source: { kind: 'adk', eventId: call.id, author: 'planner' }, usage: { totalTokenCount: 12 }, adkEvent: { id: call.id } });
    // The same event mapped as the importer maps it: same messages, same clientIds.
    expect(eventMessages(call).map((m) => m.clientId)).toEqual([`adk:${call.id}`, `adk:${call.id}#1`]);
  });

  it('finds a session deleted and created again by another process, and an app whose agent was deleted gets a new one', async () => {
    const app = `again-${randomUUID().slice(0, 8)}`;
    const mine = new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey });
    const theirs = new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey });
    await mine.createSession({ appName: app, userId: 'u1', sessionId: 's' });
    expect(await mine.getSession({ appName: app, userId: 'u1', sessionId: 's' })).toBeDefined();
    await theirs.deleteSession({ appName: app, userId: 'u1', sessionId: 's' });
    await theirs.createSession({ appName: app, userId: 'u1', sessionId: 's', state: { second: true } });
    expect((await mine.getSession({ appName: app, userId: 'u1', sessionId: 's' }))!.state).toEqual({ second: true });

    const agent = (await hub.GET('/api/v1/agents', { params: { query: { name: app } } })).data!.data[0];
    await hub.DELETE('/api/v1/agents/{id}', { params: { path: { id: agent.id } } });
    const later = new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey });
    await later.createSession({ appName: app, userId: 'u1', sessionId: 'after' });
    const [active] = (await hub.GET('/api/v1/agents', { params: { query: { name: app } } })).data!.data;
    expect(active.id).not.toBe(agent.id);
  });

  it('keeps the initial state\'s app: and user: keys in their scopes (as ADK\'s DatabaseSessionService) and refuses a second session with the same id', async () => {
    const sessions = new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey });
    const app = `scoped-${randomUUID().slice(0, 8)}`;
    await sessions.createSession({ appName: app, userId: 'u1', sessionId: 'one', state: { 'app:plan': 'pro', 'user:name': 'Ann', own: 1, 'temp:x': 1 } });
    await expect(sessions.createSession({ appName: app, userId: 'u1', sessionId: 'one' })).rejects.toThrow(/already exists/);
    const other = await new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey }).createSession({ appName: app, userId: 'u2' });
    expect(other.state).toEqual({ 'app:plan': 'pro' });
    expect((await sessions.getSession({ appName: app, userId: 'u1', sessionId: 'one' }))!.state).toEqual({ 'app:plan': 'pro', 'user:name': 'Ann', own: 1 });
  });

  it('keeps app: and user: state written by sessions at once (conditional updates of the agent and the user) and a session\'s state when its snapshot was never written', async () => {
    const app = `race-${randomUUID().slice(0, 8)}`;
    const writers = Array.from({ length: 6 }, () => new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey }));
    const sessions = await Promise.all(writers.map((w, i) => w.createSession({ appName: app, userId: `u${i}`, sessionId: `s${i}` })));
    await Promise.all(writers.map((w, i) => w.appendEvent({ session: sessions[i], event: event('agent', 1_000 + i, { stateDelta: { [`app:k${i}`]: i } }) })));
    const read = await writers[0].getSession({ appName: app, userId: 'u0', sessionId: 's0' });
    expect(read!.state).toEqual(Object.fromEntries(writers.map((_w, i) => [`app:k${i}`, i])));

    // One user, sessions writing user: keys at once through one service and through several: each write lands.
    const one = writers[0];
    const mine = await Promise.all([0, 1, 2, 3].map((i) => one.createSession({ appName: app, userId: 'u0', sessionId: `mine${i}` })));
    const theirs = await Promise.all(writers.slice(1).map((w, i) => w.createSession({ appName: app, userId: 'u0', sessionId: `theirs${i}` })));
    await Promise.all([
      ...mine.map((session, i) => one.appendEvent({ session, event: event('agent', 5_000 + i, { stateDelta: { [`user:mine${i}`]: i } }) })),
      ...theirs.map((session, i) => writers[i + 1].appendEvent({ session, event: event('agent', 6_000 + i, { stateDelta: { [`user:theirs${i}`]: i } }) })),
    ]);
    const userState = (await one.getSession({ appName: app, userId: 'u0', sessionId: 'mine1' }))!.state;
    expect(Object.keys(userState).filter((k) => k.startsWith('user:')).sort()).toEqual([
      ...mine.map((_s, i) => `user:mine${i}`),
      ...theirs.map((_s, i) => `user:theirs${i}`),
    ]);

    // An append that died after its messages were stored, before the state snapshot: the event's delta still counts.
    const conversation = (await hub.GET('/api/v1/conversations', { params: { query: { sessionId: 's1' } } })).data!.data.find((c) => (c.metadata['source'] as { appName: string }).appName === app)!;
    const lost = event('agent', 9_000, { stateDelta: { mood: 'calm', 'temp:t': 1 } });
    await hub.POST('/api/v1/conversations/{id}/messages', { params: { path: { id: conversation.id } }, body: { messages: eventMessages(lost, JSON.parse(JSON.stringify(lost)) as object) } });
    const after = await new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey }).getSession({ appName: app, userId: 'u1', sessionId: 's1', config: { numRecentEvents: 1 } });
    expect(after!.state).toMatchObject({ mood: 'calm' });
    expect(after!.events.map((e) => e.id)).toEqual([lost.id]);
  });

  it('runs an ADK Runner turn (stub model, a tool call) whose session a second process reads back from AgentHub', async () => {
    const sessionService = new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey });
    const weather = new FunctionTool({ name: 'weather', description: 'the forecast of a city', execute: () => ({ forecast: 'sunny, 24 °C' }) });
    const agent = new LlmAgent({ name: 'forecaster', model: new StubModel(), instruction: 'Answer with the weather tool.', tools: [weather] });
    const runner = new Runner({ appName: 'weather-app', agent, sessionService });
    const session = await sessionService.createSession({ appName: 'weather-app', userId: 'bob', state: { units: 'metric' } });
    const seen: Event[] = [];
    for await (const e of runner.runAsync({ userId: 'bob', sessionId: session.id, newMessage: { role: 'user', parts: [{ text: 'Weather in Utrecht?' }] } })) seen.push(e);
    expect(seen.at(-1)!.content!.parts![0].text).toBe('It is sunny, 24 °C.');

    // Asynchronously: the API serves from this process, so a synchronous child would wait on it forever.
    const child = await promisify(execFile)(
      process.execPath,
      [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), '--tsconfig', 'libs/adk/tsconfig.json', 'apps/api/test/support/adk-read-session.ts', api.baseUrl, apiKey, 'weather-app', 'bob', session.id],
      { cwd: ROOT, encoding: 'utf8', timeout: 60_000 },
    );
    expect(child.stderr).toBe('');
    const read = JSON.parse(child.stdout) as Session;
    expect(read.state).toEqual({ units: 'metric' });
    // The user's message, then every event the runner yielded, in order.
    expect(read.events[0]).toMatchObject({ author: 'user', content: { parts: [{ text: 'Weather in Utrecht?' }] } });
    expect(read.events.slice(1).map((e) => e.id)).toEqual(seen.filter((e) => !e.partial).map((e) => e.id));
    expect(read.events.some((e) => e.content?.parts?.some((p) => p.functionCall?.name === 'weather'))).toBe(true);
    expect(read.events.some((e) => e.content?.parts?.some((p) => (p.functionResponse?.response as { forecast?: string } | undefined)?.forecast === 'sunny, 24 °C'))).toBe(true);
    expect(read.events.at(-1)!.content!.parts![0].text).toBe('It is sunny, 24 °C.');
    expect(JSON.parse(JSON.stringify(read.events))).toEqual(JSON.parse(JSON.stringify((await sessionService.getSession({ appName: 'weather-app', userId: 'bob', sessionId: session.id }))!.events)));
  });

  it('adds sessions to memory once per event and finds them for the app and user', async () => {
    const sessions = new AgentHubSessionService({ baseUrl: api.baseUrl, apiKey });
    const memory = new AgentHubMemoryService({ baseUrl: api.baseUrl, apiKey }, { embed, embeddingModel: 'hashed-words' });
    const app = `memory-${randomUUID().slice(0, 8)}`;
    const session = await sessions.createSession({ appName: app, userId: 'carol', sessionId: 'm1' });
    await sessions.appendEvent({ session, event: event('user', 1_000, { content: { role: 'user', parts: [{ text: 'My favourite colour is teal' }] } }) });
    await sessions.appendEvent({ session, event: event('agent', 2_000, { content: { role: 'model', parts: [{ text: 'Noted: you like teal.' }] } }) });
    await memory.addSessionToMemory(session);
    await memory.addSessionToMemory(session);
    const other = await sessions.createSession({ appName: app, userId: 'dave', sessionId: 'm2' });
    await sessions.appendEvent({ session: other, event: event('user', 3_000, { content: { role: 'user', parts: [{ text: 'My favourite colour is red' }] } }) });
    await memory.addSessionToMemory(other);

    const found = await memory.searchMemory({ appName: app, userId: 'carol', query: 'favourite colour' });
    // Hybrid search ranks the user's own memories, best first; another user's are never among them.
    expect(found.memories.map((m) => m.content.parts![0].text)).toEqual(['My favourite colour is teal', 'Noted: you like teal.']);
    expect(found.memories[0]).toMatchObject({ author: 'user', content: { role: 'user' }, timestamp: new Date(1_000).toISOString() });
    expect((await memory.searchMemory({ appName: app, userId: 'dave', query: 'teal' })).memories.map((m) => m.content.parts![0].text)).toEqual(['My favourite colour is red']);
    expect((await memory.searchMemory({ appName: app, userId: 'nobody', query: 'teal' })).memories).toEqual([]);
  });
});
