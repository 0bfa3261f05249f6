import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { DatabaseSync, type SQLInputValue } from 'node:sqlite';
import pg from 'pg';
import { eventMessages, type AdkEventLike } from '@agenthub/adk/mapping';
import { redactUrl } from '@agenthub/db';
import type { AgentRecord, Checkpoint, ImportBatch, Json, JsonObject, MessageRecord, UserRecord } from '../import.types';
import { cleanJson, cleanText, fromTimeText, nonEmpty, parseJsonText, warner } from '../mapping';
import { fileDigest } from './agentos-sqlite.source';
import { addRead, emptyBatch, type ImportSource } from './import-source';

/** Runs SQL written with `?` placeholders on SQLite or PostgreSQL; JSON columns come back parsed on both. */
interface Reader {
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  columns(table: string): Promise<Set<string>>;
  close(): Promise<void>;
}

class SqliteReader implements Reader {
  private readonly db: DatabaseSync;
  constructor(file: string) {
    this.db = new DatabaseSync(file, { readOnly: true });
  }
  async all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    const statement = this.db.prepare(sql);
    // node:sqlite throws on an integer beyond 2^53 unless it reads BigInt; the mapping expects numbers (a flag,
    // a time), so such a value becomes the nearest number rather than ending the import.
    statement.setReadBigInts(true);
    const rows = statement.all(...(params as SQLInputValue[])) as Array<Record<string, unknown>>;
    for (const row of rows) for (const k in row) if (typeof row[k] === 'bigint') row[k] = Number(row[k]);
    return rows as T[];
  }
  async columns(table: string): Promise<Set<string>> {
    return new Set((this.db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name));
  }
  async close(): Promise<void> {
    this.db.close();
  }
}

class PostgresReader implements Reader {
  constructor(private readonly client: pg.Client) {}
  static async connect(url: string): Promise<PostgresReader> {
    // ADK's columns are `timestamp without time zone` holding UTC; pg would read them as local time.
    const client = new pg.Client({
      connectionString: url,
      types: { getTypeParser: ((oid: number, format?: string) => (oid === 1114 ? (v: string) => new Date(`${v.replace(' ', 'T')}Z`) : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser },
    });
    try {
      await client.connect();
    } catch (e) {
      throw new Error(`cannot connect to the ADK database ${redactUrl(url)}: ${(e as Error).message}`);
    }
    await client.query('SET default_transaction_read_only = on');
    return new PostgresReader(client);
  }
  async all<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    let n = 0;
    return (await this.client.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as T[];
  }
  async columns(table: string): Promise<Set<string>> {
    const rows = await this.all<{ c: string }>(`SELECT column_name AS c FROM information_schema.columns WHERE table_name = ? AND table_schema = current_schema()`, [table]);
    return new Set(rows.map((r) => r.c));
  }
  async close(): Promise<void> {
    await this.client.end();
  }
}

interface SessionRow {
  app_name: string;
  user_id: string;
  id: string;
  state: unknown;
  create_time: unknown;
  update_time: unknown;
}

interface EventRow {
  id: string;
  app_name: string;
  user_id: string;
  session_id: string;
  invocation_id: string | null;
  timestamp: unknown;
  event_data: unknown;
}

interface AdkPart {
  text?: string;
  thought?: boolean;
  function_call?: { name?: string; args?: unknown; id?: string };
  functionCall?: { name?: string; args?: unknown; id?: string };
  function_response?: { name?: string; response?: unknown; id?: string };
  functionResponse?: { name?: string; response?: unknown; id?: string };
}
interface AdkEvent {
  author?: string;
  content?: { role?: string; parts?: AdkPart[] } | null;
  partial?: boolean | null;
  turn_complete?: boolean | null;
  error_code?: string | null;
  error_message?: string | null;
  usage_metadata?: { total_token_count?: number; prompt_token_count?: number; candidates_token_count?: number } | null;
  model_version?: string | null;
  timestamp?: number;
  [key: string]: unknown;
}

const PAGE = 2000;
const sessionKey = (s: SessionRow) => JSON.stringify([s.app_name, s.user_id, s.id]);
const eventSessionKey = (e: EventRow) => JSON.stringify([e.app_name, e.user_id, e.session_id]);

/**
 * Google ADK `DatabaseSessionService` stores (IMPORT-FORMATS.md §2), SQLite file or PostgreSQL database. The
 * current schema keeps each event as JSON in `event_data`; the older one (before `event_data`) has one column
 * per event field (`author`, `content`, `partial`, `error_code`, …) and is read into the same shape.
 * Sessions and events are read in key order with keyset pagination; the checkpoint is the last session key.
 */
export class AdkSource implements ImportSource {
  readonly kind = 'adk' as const;
  readonly clientIdPrefix = 'adk:';

  private constructor(
    private readonly reader: Reader,
    readonly digest: string,
    private readonly eventColumns: Set<string>,
    private readonly hasAppStates: boolean,
    private readonly hasUserStates: boolean,
  ) {}

  static async open(location: string): Promise<AdkSource> {
    const isUrl = /^postgres(ql)?:\/\//.test(location);
    if (!isUrl && !fs.existsSync(location)) throw new Error(`no such file: ${location}`);
    const reader = isUrl ? await PostgresReader.connect(location) : new SqliteReader(location);
    const where = isUrl ? redactUrl(location) : location;
    try {
      let sessions: Set<string>;
      let events: Set<string>;
      try {
        sessions = await reader.columns('sessions');
        events = await reader.columns('events');
      } catch (e) {
        throw new Error(`${where} is not an ADK session store: ${(e as Error).message}`);
      }
      if (!sessions.has('app_name') || !events.has('session_id')) {
        throw new Error(`${where} is not an ADK session store: tables sessions/events are missing`);
      }
      const hasApp = (await reader.columns('app_states')).has('state');
      const hasUser = (await reader.columns('user_states')).has('state');
      const digest = isUrl ? await contentDigest(reader, events.has('event_data')) : await fileDigest(location);
      return new AdkSource(reader, digest, events, hasApp, hasUser);
    } catch (e) {
      await reader.close();
      throw e;
    }
  }

  async total(): Promise<number> {
    const [r] = await this.reader.all<{ n: number | string }>('SELECT count(*) AS n FROM events');
    return Number(r.n);
  }

  async refs() {
    const warnings: ImportBatch['warnings'] = [];
    const apps = await this.reader.all<{ app_name: string }>('SELECT DISTINCT app_name FROM sessions ORDER BY app_name');
    const appStates = this.hasAppStates ? await this.reader.all<{ app_name: string; state: unknown }>('SELECT app_name, state FROM app_states') : [];
    const names = new Set(apps.map((a) => a.app_name).filter(nonEmpty));
    for (const s of appStates) if (nonEmpty(s.app_name)) names.add(s.app_name);
    const stateOf = (value: unknown, entity: string, id: string): JsonObject => {
      const parsed = typeof value === 'string' ? parseJsonText(value) : { ok: true as const, value: cleanJson(value) };
      if (parsed && !parsed.ok) {
        warnings.push({ entity, sourceId: id, reason: `state is not valid JSON (${parsed.error}); kept as text` });
        return { raw: parsed.raw };
      }
      return parsed?.value && typeof parsed.value === 'object' && !Array.isArray(parsed.value) ? (parsed.value as JsonObject) : {};
    };
    // App and user state keep their scope: keys carry the `app:` / `user:` prefix ADK strips when it stores them.
    const prefixed = (state: JsonObject, prefix: string) =>
      Object.fromEntries(Object.entries(state).map(([k, v]) => [k.startsWith(prefix) ? k : `${prefix}${k}`, v]));
    const agents: AgentRecord[] = [...names].sort().map((name) => {
      const row = appStates.find((s) => s.app_name === name);
      return {
        name: cleanText(name),
        description: null,
        config: {},
        isActive: true,
        metadata: { importedFrom: { source: this.kind, appName: name }, ...(row ? { adkState: prefixed(stateOf(row.state, 'agents', name), 'app:') } : {}) },
        createdAt: null,
      };
    });
    const userRows = await this.reader.all<{ user_id: string }>('SELECT DISTINCT user_id FROM sessions ORDER BY user_id');
    const userStates = this.hasUserStates ? await this.reader.all<{ app_name: string; user_id: string; state: unknown }>('SELECT app_name, user_id, state FROM user_states') : [];
    const userIds = new Set(userRows.map((u) => u.user_id).filter(nonEmpty));
    for (const s of userStates) if (nonEmpty(s.user_id)) userIds.add(s.user_id);
    const users: UserRecord[] = [...userIds].sort().map((externalId) => {
      const states = userStates.filter((s) => s.user_id === externalId);
      const adkState: JsonObject = {};
      for (const s of states) adkState[s.app_name] = prefixed(stateOf(s.state, 'users', `${s.app_name}/${externalId}`), 'user:');
      return { externalId: cleanText(externalId), name: null, metadata: { importedFrom: { source: this.kind }, ...(states.length ? { adkState } : {}) } };
    });
    return { agents, users, rejections: [], warnings, read: { agents: agents.length, users: users.length, appStates: appStates.length, userStates: userStates.length } };
  }

  async *batches(from: Checkpoint | null, batchSize: number): AsyncIterable<ImportBatch> {
    if (from?.section === 'orphans') return; // everything was read before the interruption
    let after = from?.section === 'sessions' && Array.isArray(from.after) ? (from.after as [string, string, string]) : null;
    let batch = emptyBatch({ section: 'sessions', after });
    const pending = new Map<string, EventRow[]>();
    for (;;) {
      const sessions = await this.reader.all<SessionRow>(
        `SELECT app_name, user_id, id, state, create_time, update_time FROM sessions
          ${after ? 'WHERE (app_name, user_id, id) > (?, ?, ?)' : ''} ORDER BY app_name, user_id, id LIMIT ${PAGE}`,
        after ?? [],
      );
      if (!sessions.length) break;
      const first = sessions[0];
      const last = sessions[sessions.length - 1];
      // The events of exactly these sessions, in order: one range scan per page.
      const events = await this.readEvents([first.app_name, first.user_id, first.id], [last.app_name, last.user_id, last.id]);
      pending.clear();
      for (const e of events) {
        const k = eventSessionKey(e);
        if (!pending.has(k)) pending.set(k, []);
        pending.get(k)!.push(e);
      }
      for (const s of sessions) {
        this.addSession(batch, s, pending.get(sessionKey(s)) ?? []);
        pending.delete(sessionKey(s));
        batch.checkpoint = { section: 'sessions', after: [s.app_name, s.user_id, s.id] };
        if (batch.units >= batchSize) {
          yield batch;
          batch = emptyBatch(batch.checkpoint);
        }
      }
      after = [last.app_name, last.user_id, last.id];
    }
    // Events whose session does not exist (no foreign key on older SQLite files).
    const orphans = await this.reader.all<{ id: string; session_id: string }>(
      `SELECT e.id, e.session_id FROM events e WHERE NOT EXISTS
         (SELECT 1 FROM sessions s WHERE s.app_name = e.app_name AND s.user_id = e.user_id AND s.id = e.session_id) ORDER BY e.id`,
    );
    for (const o of orphans) {
      addRead(batch, 'adkEvents');
      batch.rejections.push({ entity: 'adkEvents', sourceId: o.id, reason: `session ${o.session_id} does not exist` });
    }
    batch.checkpoint = { section: 'orphans', after: null };
    if (batch.units || batch.rejections.length || Object.keys(batch.read).length) yield batch;
  }

  private async readEvents(lo: [string, string, string], hi: [string, string, string]): Promise<EventRow[]> {
    const data = this.eventColumns.has('event_data')
      ? 'event_data'
      : // Older schema: one column per field; assembled into the event shape in eventOf().
        [...this.eventColumns].filter((c) => !['id', 'app_name', 'user_id', 'session_id', 'invocation_id', 'timestamp'].includes(c)).join(', ');
    return this.reader.all<EventRow>(
      `SELECT id, app_name, user_id, session_id, invocation_id, timestamp, ${data} FROM events
        WHERE (app_name, user_id, session_id) >= (?, ?, ?) AND (app_name, user_id, session_id) <= (?, ?, ?)
        ORDER BY app_name, user_id, session_id, timestamp, id`,
      [...lo, ...hi],
    );
  }

  private eventOf(row: EventRow): AdkEvent | string {
    if (this.eventColumns.has('event_data')) {
      const parsed = typeof row.event_data === 'string' ? parseJsonText(row.event_data) : { ok: true as const, value: cleanJson(row.event_data) };
      if (!parsed) return 'event_data is empty';
      if (!parsed.ok) return `event_data is not valid JSON (${parsed.error})`;
      if (!parsed.value || typeof parsed.value !== 'object' || Array.isArray(parsed.value)) return 'event_data is not a JSON object';
      return parsed.value as AdkEvent;
    }
    const r = row as unknown as Record<string, unknown>;
    const json = (v: unknown) => (typeof v === 'string' ? parseJsonText(v) : { ok: true as const, value: cleanJson(v) });
    const content = json(r['content']);
    if (content && !content.ok) return `content is not valid JSON (${content.error})`;
    const usage = json(r['usage_metadata']);
    return {
      author: r['author'] as string,
      content: (content?.value ?? null) as AdkEvent['content'],
      partial: r['partial'] === null || r['partial'] === undefined ? null : Boolean(r['partial']),
      turn_complete: r['turn_complete'] === null || r['turn_complete'] === undefined ? null : Boolean(r['turn_complete']),
      error_code: (r['error_code'] as string) ?? null,
      error_message: (r['error_message'] as string) ?? null,
      usage_metadata: usage?.ok ? (usage.value as AdkEvent['usage_metadata']) : null,
    };
  }

  private addSession(batch: ImportBatch, s: SessionRow, events: EventRow[]): void {
    addRead(batch, 'conversations');
    const sourceId = `${s.app_name}/${s.user_id}/${s.id}`;
    const warn = warner(batch.warnings, 'conversations', sourceId);
    const createdAt = fromTimeText(s.create_time) ?? fromTimeText(events[0]?.timestamp);
    if (!createdAt) {
      batch.rejections.push({ entity: 'conversations', sourceId, reason: `create_time ${String(s.create_time)} is not a time` });
      addRead(batch, 'adkEvents', events.length);
      for (const e of events) batch.rejections.push({ entity: 'adkEvents', sourceId: e.id, reason: `its session ${sourceId} was rejected` });
      return;
    }
    const parsedState = typeof s.state === 'string' ? parseJsonText(s.state) : { ok: true as const, value: cleanJson(s.state) };
    const metadata: JsonObject = { source: { kind: this.kind, appName: s.app_name, userId: s.user_id, sessionId: s.id } };
    if (parsedState?.ok) metadata['state'] = parsedState.value;
    else if (parsedState) {
      metadata['stateRaw'] = parsedState.raw;
      warn(`state is not valid JSON (${parsedState.error}); kept as text in metadata.stateRaw`);
    }
    const messages: MessageRecord[] = [];
    for (const row of events) {
      addRead(batch, 'adkEvents');
      const event = this.eventOf(row);
      if (typeof event === 'string') {
        batch.rejections.push({ entity: 'adkEvents', sourceId: row.id, reason: event });
        continue;
      }
      const at = fromTimeText(row.timestamp) ?? fromTimeText(event.timestamp);
      if (!at) {
        batch.rejections.push({ entity: 'adkEvents', sourceId: row.id, reason: `timestamp ${String(row.timestamp)} is not a time` });
        continue;
      }
      // Streaming fragments: the complete event that follows carries the whole text.
      if (event.partial) {
        addRead(batch, 'adkPartialEvents');
        continue;
      }
      const produced = this.messagesOf(row, event, at, batch.warnings);
      if (!produced.length) addRead(batch, 'adkEventsWithoutMessages');
      messages.push(...produced);
    }
    batch.units += events.length;
    const title = typeof (metadata['state'] as JsonObject | undefined)?.['title'] === 'string' ? ((metadata['state'] as JsonObject)['title'] as string) : null;
    batch.conversations.push({
      // ADK session ids are unique per (app, user) only; the conversation's sessionId is the session's own id.
      sourceId,
      sessionId: s.id,
      agentName: cleanText(s.app_name),
      userExternalId: nonEmpty(s.user_id) ? cleanText(s.user_id) : null,
      title,
      metadata,
      createdAt,
      lastActivityAt: fromTimeText(s.update_time) ?? messages.at(-1)?.createdAt ?? createdAt,
      messages,
    });
  }

  /**
   * One event → its messages: @agenthub/adk's eventMessages, the rule the live AgentHubSessionService appends with,
   * so an imported session and a live one hold the same messages; the event's time on each.
   */
  private messagesOf(row: EventRow, e: AdkEvent, at: Date, warnings: ImportBatch['warnings']): MessageRecord[] {
    const { author, content, ...rest } = e;
    if (JSON.stringify(content ?? null).includes('\\u0000') || JSON.stringify(rest).includes('\\u0000')) warner(warnings, 'adkEvents', row.id)('NUL characters removed');
    return eventMessages({ ...rest, author: typeof author === 'string' ? author : undefined, content, id: row.id, invocationId: row.invocation_id ?? undefined } as AdkEventLike & { id: string }).map((m) => ({
      clientId: m.clientId!,
      role: m.role,
      content: m.content,
      messageType: m.messageType ?? 'text',
      toolName: m.toolName ?? null,
      toolArgs: (m.toolArgs ?? null) as Json | null,
      toolCallId: m.toolCallId ?? null,
      model: m.model ?? null,
      tokensUsed: m.tokensUsed ?? null,
      metadata: (m.metadata ?? {}) as JsonObject,
      createdAt: at,
    }));
  }

  async close(): Promise<void> {
    await this.reader.close();
  }
}

/** A database has no file to hash: digest its rows (in key order), so a changed store is a different source. */
async function contentDigest(reader: Reader, hasEventData: boolean): Promise<string> {
  const hash = createHash('sha256');
  const sessions = await reader.all<Record<string, unknown>>('SELECT app_name, user_id, id, update_time FROM sessions ORDER BY app_name, user_id, id');
  hash.update(JSON.stringify(sessions));
  let after: [string, string, string, string] | null = null;
  for (;;) {
    const rows: Array<Record<string, string>> = await reader.all(
      `SELECT id, app_name, user_id, session_id${hasEventData ? ', event_data::text AS d' : ''} FROM events
        ${after ? 'WHERE (app_name, user_id, session_id, id) > (?, ?, ?, ?)' : ''} ORDER BY app_name, user_id, session_id, id LIMIT 5000`,
      after ?? [],
    );
    if (!rows.length) break;
    for (const r of rows) hash.update(`${r['id']}\u0000${r['d'] ?? ''}\n`);
    const l = rows[rows.length - 1];
    after = [l['app_name'], l['user_id'], l['session_id'], l['id']];
  }
  return hash.digest('hex');
}
