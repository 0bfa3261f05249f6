import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { AgentMemory, Memory, type MemoryTrace, type RecallOptions, type RememberOptions, type ScoredTrace } from '@framers/agentos';
import { resolveStorageAdapter } from '@framers/sql-storage-adapter';
import { createAgentHubClient, paginate, type AgentHubClient } from '@agenthub/client';
import { AgentHubMemoryBackend, toTrace } from '../src/memory-backend';
import { embed, embedText } from './memory-backend.embed';
import { apiBaseUrl, newOrganizationKey } from './support';

/**
 * The standalone memory backend as AgentMemory uses it (remember, recall, feedback, health, consolidate), case by
 * case, on AgentOS's own `Memory.createSqlite` (sql.js on a temp file: no native binary, nothing downloaded) and on
 * AgentHubMemoryBackend (the test API) side by side; both get the same deterministic embedder. Each case states
 * what AgentOS does and checks that AgentHub does the same, or — where they differ by design — states and checks
 * the difference:
 * - AgentOS's recall is text-only here (sql.js has no FTS5: a LIKE per query word, ranked by strength × words
 *   matched; its HNSW vector path needs hnswlib-node and 1,000 traces), AgentHub's is hybrid (vector + full text):
 *   it also returns memories that share no word with the query, after the text matches. So the cases compare which
 *   traces come back over brains where every trace matches the query, and the first hit where the query is a
 *   trace's content — not the order of the rest.
 * - AgentOS's recall writes access statistics back (strength +0.1, retrievalCount +1 per hit), AgentHub's does not.
 * - feedback: AgentOS recomputes strength and stability (its spaced-repetition model), AgentHub counts signals.
 * - consolidate consolidates nothing on AgentHub; health's totalTraces counts AgentOS's soft-deleted traces.
 * Normalised, because they must differ: ids (AgentOS `mt_…`, AgentHub uuids) and times (each side stamps with its own
 * clock; both must fall inside the call).
 */

type Surface = Pick<Memory, 'remember' | 'recall' | 'feedback' | 'health' | 'consolidate'>;

interface Pair {
  sql: Memory;
  hub: AgentHubMemoryBackend;
  client: AgentHubClient;
  brainId: string;
  dir: string;
  file: string;
}

const dirs: string[] = [];
const open: Memory[] = [];

afterAll(async () => {
  for (const memory of open) await memory.close().catch(() => undefined);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** AgentOS's SQLite memory (sql.js) on a fresh temp file. */
async function openSqlite(brainId: string): Promise<{ sql: Memory; dir: string; file: string }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentos-memory-'));
  dirs.push(dir);
  const file = path.join(dir, 'brain.sqlite');
  const sql = await Memory.createSqlite(file, { brainId, priority: ['sqljs'], embed: async (text) => embedText(text) });
  open.push(sql);
  return { sql, dir, file };
}

interface RecallFallback {
  _brain: { all: (sql: string, params: unknown[]) => Promise<unknown[]> };
  _recallWithoutFts: (query: string, where: string, filterParams: unknown[], limit: number) => Promise<unknown[]>;
}

/**
 * Works around AgentOS 0.9.164's recall without FTS5 (`Memory._recallWithoutFts`, the path on sql.js, which has no
 * FTS5): its statement has the LIKE terms of the SELECT list before the WHERE filters, but it binds the filter values
 * first, so with any filter (type, scope, scopeId, minStrength, after, before) the values land on the wrong
 * placeholders and recall finds nothing. No upstream issue found. This binds AgentOS's own statement in statement
 * order, nothing else; the filter case checks that the unpatched facade still needs it.
 */
function bindRecallInStatementOrder(memory: Memory): void {
  const facade = memory as unknown as RecallFallback;
  const fallback = facade._recallWithoutFts.bind(facade);
  facade._recallWithoutFts = async (query, where, filterParams, limit) => {
    const brain = facade._brain;
    const all = brain.all;
    // bound as [...filters, ...terms (score), ...terms (match), ...terms (order), limit]
    brain.all = (sql, params) => {
      const n = (params.length - filterParams.length - 1) / 3;
      const terms = params.slice(filterParams.length, filterParams.length + n);
      return all.call(brain, sql, [...terms, ...filterParams, ...terms, ...terms, params[params.length - 1]]);
    };
    try {
      return await fallback(query, where, filterParams, limit);
    } finally {
      brain.all = all;
    }
  };
}

/** AgentOS's SQLite memory on a fresh temp file and AgentHub's on a fresh organization, both for `brainId`. */
async function newPair(brainId = 'companion-alice'): Promise<Pair> {
  const { sql, dir, file } = await openSqlite(brainId);
  bindRecallInStatementOrder(sql);
  const connection = { baseUrl: apiBaseUrl(), apiKey: await newOrganizationKey('agentos-memory-paired') };
  return { sql, hub: new AgentHubMemoryBackend(connection, { brainId, embed }), client: createAgentHubClient(connection), brainId, dir, file };
}

/** Runs the same call on both (AgentOS's first) and returns both answers. */
async function both<T>(pair: { sql: Surface; hub: Surface }, call: (memory: Surface) => Promise<T>): Promise<{ sql: T; hub: T }> {
  const sql = await call(pair.sql);
  const hub = await call(pair.hub);
  return { sql, hub };
}

/** Every live trace of the brain, oldest first, read without touching access statistics (recall would). */
async function stored(pair: Pair): Promise<{ sql: MemoryTrace[]; hub: MemoryTrace[] }> {
  const sql = await pair.sql.recentTraces(0, { order: 'asc', limit: 10_000 });
  const hub: MemoryTrace[] = [];
  for await (const memory of paginate((cursor) => pair.client.GET('/api/v1/memories', { params: { query: { limit: 200, cursor } } }))) {
    if ((memory.metadata['source'] as { brainId?: unknown } | undefined)?.brainId === pair.brainId) hub.push(toTrace(memory));
  }
  return { sql, hub: hub.sort((a, b) => a.createdAt - b.createdAt) };
}

/** A trace without what each side makes its own: id and times (checked with `stampedWithin`). */
function comparable(trace: MemoryTrace) {
  const rest: Partial<MemoryTrace> = { ...trace, provenance: { ...trace.provenance } };
  for (const key of ['id', 'createdAt', 'updatedAt', 'lastAccessedAt', 'nextReinforcementAt'] as const) delete rest[key];
  delete (rest.provenance as Partial<MemoryTrace['provenance']>).sourceTimestamp;
  return rest;
}

/** Created inside [before, after], not touched since: updatedAt, lastAccessedAt and the provenance time are createdAt. */
function expectStampedWithin(trace: MemoryTrace, before: number, after: number): void {
  expect(trace.createdAt).toBeGreaterThanOrEqual(before);
  expect(trace.createdAt).toBeLessThanOrEqual(after);
  expect({ updatedAt: trace.updatedAt, lastAccessedAt: trace.lastAccessedAt, sourceTimestamp: trace.provenance.sourceTimestamp }).toStrictEqual({
    updatedAt: trace.createdAt,
    lastAccessedAt: trace.createdAt,
    sourceTimestamp: trace.createdAt,
  });
}

const contents = (hits: ScoredTrace[]) => hits.map((hit) => hit.trace.content);
const sorted = (texts: string[]) => [...texts].sort();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const NEUTRAL = { valence: 0, arousal: 0, dominance: 0, intensity: 0, gmiMood: 'neutral' };
const DAY = 86_400_000;

describe(`${AgentHubMemoryBackend.name} paired with AgentOS's SQLite Memory`, () => {
  it('remembers a trace with the given content, type, scope, scopeId, tags, entities and importance, and AgentOS defaults', async () => {
    const pair = await newPair();
    const options: RememberOptions = { type: 'semantic', scope: 'user', scopeId: 'ada', tags: ['preference', 'ui'], entities: ['Ada'], importance: 0.8 };
    const before = Date.now();
    const given = await both(pair, (m) => m.remember('Ada prefers dark mode in every editor', options));
    const plain = await both(pair, (m) => m.remember('Lunch was a mushroom risotto'));
    const after = Date.now();

    expect(comparable(given.sql)).toStrictEqual({
      type: 'semantic',
      scope: 'user',
      scopeId: 'ada',
      content: 'Ada prefers dark mode in every editor',
      entities: ['Ada'],
      tags: ['preference', 'ui'],
      provenance: { sourceType: 'user_statement', confidence: 1, verificationCount: 0 },
      emotionalContext: NEUTRAL,
      encodingStrength: 0.8,
      stability: DAY,
      retrievalCount: 0,
      accessCount: 0,
      reinforcementInterval: DAY,
      associatedTraceIds: [],
      isActive: true,
    });
    expect(comparable(given.hub)).toStrictEqual(comparable(given.sql));
    // without options: episodic, scope user, scopeId '', no tags or entities, strength 1
    expect(comparable(plain.sql)).toMatchObject({ type: 'episodic', scope: 'user', scopeId: '', tags: [], entities: [], encodingStrength: 1 });
    expect(comparable(plain.hub)).toStrictEqual(comparable(plain.sql));
    for (const trace of [given.sql, given.hub, plain.sql, plain.hub]) expectStampedWithin(trace, before, after);

    // what remember returned is what is stored
    const traces = await stored(pair);
    expect(traces.sql.map((t) => t.id)).toStrictEqual([given.sql.id, plain.sql.id]);
    expect(traces.hub.map((t) => t.id)).toStrictEqual([given.hub.id, plain.hub.id]);
    expect(traces.sql).toStrictEqual([given.sql, plain.sql]);
    expect(traces.hub).toStrictEqual([given.hub, plain.hub]);
  });

  it('returns the earlier trace for the same content, type, scope and scopeId; a new one when any of them differs', async () => {
    const pair = await newPair();
    const first = await both(pair, (m) => m.remember('Alice lives in Lisbon', { type: 'semantic', tags: ['home'], importance: 0.6 }));
    // other tags and importance: still the same memory, as first stored
    const again = await both(pair, (m) => m.remember('Alice lives in Lisbon', { type: 'semantic', tags: ['other'], importance: 0.9 }));
    expect({ sql: again.sql.id, hub: again.hub.id }).toStrictEqual({ sql: first.sql.id, hub: first.hub.id });
    expect(comparable(again.sql)).toMatchObject({ tags: ['home'], encodingStrength: 0.6 });
    expect(comparable(again.hub)).toStrictEqual(comparable(again.sql));
    // an explicit '' is the default scopeId
    const explicit = await both(pair, (m) => m.remember('Alice lives in Lisbon', { type: 'semantic', scope: 'user', scopeId: '' }));
    expect({ sql: explicit.sql.id, hub: explicit.hub.id }).toStrictEqual({ sql: first.sql.id, hub: first.hub.id });

    const variants: RememberOptions[] = [{ type: 'episodic' }, { type: 'semantic', scope: 'thread' }, { type: 'semantic', scopeId: 'alice' }];
    for (const options of variants) {
      const other = await both(pair, (m) => m.remember('Alice lives in Lisbon', options));
      expect({ options, sql: other.sql.id === first.sql.id, hub: other.hub.id === first.hub.id }).toStrictEqual({ options, sql: false, hub: false });
      expect(comparable(other.hub)).toStrictEqual(comparable(other.sql));
    }
    const punctuated = await both(pair, (m) => m.remember('Alice lives in Lisbon.', { type: 'semantic' }));
    expect([punctuated.sql.id === first.sql.id, punctuated.hub.id === first.hub.id]).toStrictEqual([false, false]);

    const health = await both(pair, (m) => m.health());
    expect(health.sql.activeTraces).toBe(5);
    expect(health.hub.activeTraces).toBe(health.sql.activeTraces);
  });

  it("returns a trace AgentOS's importers wrote (import_hash, no scopeId) for the same content, a missing scopeId counting as ''", async () => {
    const pair = await newPair();
    // Three traces as AgentOS's JSON importer stores them: it adds import_hash to whatever metadata the trace had.
    const traces = [
      { id: 'mt_imported_ada', type: 'semantic', scope: 'user', content: 'Ada moved to Porto in May', metadata: '{}', tags: '["imported"]', strength: 0.7 },
      { id: 'mt_imported_bob', type: 'semantic', scope: 'user', content: 'Bob works night shifts', metadata: JSON.stringify({ scopeId: 'bob' }), strength: 0.4 },
      { id: 'mt_imported_carol', type: 'episodic', scope: 'user', content: 'Carol keeps bees', metadata: JSON.stringify({ content_hash: sha256('Carol keeps bees') }) },
    ].map((t) => ({ ...t, embedding: Buffer.from(new Float32Array(embedText(t.content)).buffer).toString('base64') }));
    const exportFile = path.join(pair.dir, 'export.json');
    writeFileSync(exportFile, JSON.stringify({ traces }));
    expect(await pair.sql.importFrom(exportFile)).toStrictEqual({ imported: 3, skipped: 0, errors: [] });

    // The same rows in AgentHub as `agenthub import agentos-sqlite` maps them (agentos-brain.ts addTrace), read from
    // AgentOS's file. (Agent and user links left out: the duplicate lookup reads the metadata.)
    const file = await resolveStorageAdapter({ priority: ['sqljs'], quiet: true, openOptions: { filePath: pair.file } });
    const rows = (await file.all('SELECT * FROM memory_traces ORDER BY id')) as Array<Record<string, unknown>>;
    await file.close();
    const hubIds: Record<string, string> = {};
    for (const row of rows) {
      const blob = row['embedding'] as Uint8Array;
      const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
      const { data } = await pair.client.POST('/api/v1/memories', {
        body: {
          content: row['content'] as string,
          embedding: Array.from({ length: blob.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true)),
          kind: row['type'] as string,
          importance: Math.min(1, Math.max(0, row['strength'] as number)),
          metadata: {
            source: { kind: 'agentos-sqlite', brainId: row['brain_id'], traceId: row['id'] },
            agentos: {
              scope: row['scope'],
              strength: row['strength'],
              retrievalCount: row['retrieval_count'],
              tags: JSON.parse(row['tags'] as string),
              emotions: JSON.parse(row['emotions'] as string),
              metadata: JSON.parse(row['metadata'] as string),
            },
          },
        },
      });
      hubIds[row['id'] as string] = data!.id;
    }
    expect(rows.map((r) => [r['id'], r['brain_id'], JSON.parse(r['metadata'] as string)])).toStrictEqual([
      ['mt_imported_ada', pair.brainId, { import_hash: sha256('Ada moved to Porto in May') }],
      ['mt_imported_bob', pair.brainId, { scopeId: 'bob', import_hash: sha256('Bob works night shifts') }],
      ['mt_imported_carol', pair.brainId, { content_hash: sha256('Carol keeps bees'), import_hash: sha256('Carol keeps bees') }],
    ]);

    const cases: Array<[string, RememberOptions, string | null]> = [
      // import_hash only, no scopeId: found for scopeId ''
      ['Ada moved to Porto in May', { type: 'semantic', scope: 'user' }, 'mt_imported_ada'],
      // import_hash only, with a scopeId: found for that scopeId, not for ''
      ['Bob works night shifts', { type: 'semantic', scope: 'user', scopeId: 'bob' }, 'mt_imported_bob'],
      // content_hash without a scopeId: found for scopeId ''
      ['Carol keeps bees', { type: 'episodic', scope: 'user' }, 'mt_imported_carol'],
      ['Bob works night shifts', { type: 'semantic', scope: 'user' }, null],
      ['Ada moved to Porto in May', { type: 'semantic', scope: 'user', scopeId: 'ada' }, null],
      ['Carol keeps bees', { type: 'semantic', scope: 'user' }, null],
    ];
    for (const [content, options, imported] of cases) {
      const remembered = await both(pair, (m) => m.remember(content, options));
      if (imported) {
        expect({ content, options, ids: [remembered.sql.id, remembered.hub.id] }).toStrictEqual({ content, options, ids: [imported, hubIds[imported]] });
      } else {
        expect({ content, options, new: [!remembered.sql.id.startsWith('mt_imported'), !Object.values(hubIds).includes(remembered.hub.id)] }).toStrictEqual({ content, options, new: [true, true] });
      }
      expect({ content, options, trace: comparable(remembered.hub) }).toStrictEqual({ content, options, trace: comparable(remembered.sql) });
    }
    const health = await both(pair, (m) => m.health());
    expect([health.sql.activeTraces, health.hub.activeTraces]).toStrictEqual([6, 6]);
  });

  it('recalls a trace first when the query is its content', async () => {
    const pair = await newPair();
    const texts = [
      'The user prefers dark mode in every editor',
      'The user asked about the billing editor',
      'Deploy the billing service by Friday',
      'Lunch was a mushroom risotto',
    ];
    const ids: Array<{ sql: string; hub: string }> = [];
    for (const text of texts) {
      const trace = await both(pair, (m) => m.remember(text, { type: 'semantic', scope: 'thread' }));
      ids.push({ sql: trace.sql.id, hub: trace.hub.id });
    }
    for (const [i, text] of texts.entries()) {
      const hits = await both(pair, (m) => m.recall(text, { limit: 3 }));
      expect({ text, first: [hits.sql[0]?.trace.id, hits.hub[0]?.trace.id] }).toStrictEqual({ text, first: [ids[i]!.sql, ids[i]!.hub] });
      expect(hits.hub[0]!.trace.content).toBe(text);
      expect(hits.hub[0]!.score).toBeGreaterThan(hits.hub[1]!.score);
    }
    expect(await both(pair, (m) => m.recall('   '))).toStrictEqual({ sql: [], hub: [] });
  });

  it('filters recall by type, scope, scopeId, minStrength, after, before and limit', async () => {
    const pair = await newPair();
    // every trace matches the query 'tea' on both sides, so both return exactly the traces the filters let through
    const early: Array<[string, RememberOptions]> = [
      ['Carol likes green tea', { type: 'semantic', scope: 'user', scopeId: 'carol', importance: 0.9 }],
      ['Dave likes black tea', { type: 'semantic', scope: 'user', scopeId: 'dave', importance: 0.5 }],
      ['Tea with Erin on Tuesday', { type: 'episodic', scope: 'thread', scopeId: 't1', importance: 0.2 }],
    ];
    const late: Array<[string, RememberOptions]> = [
      ['The team tea budget is fixed', { type: 'procedural', scope: 'organization', importance: 0.7 }],
      ['Frank brought tea to standup', { type: 'episodic', scope: 'user', scopeId: 'frank' }],
    ];
    for (const [text, options] of early) await both(pair, (m) => m.remember(text, options));
    await pause(50);
    const mark = Date.now();
    await pause(50);
    for (const [text, options] of late) await both(pair, (m) => m.remember(text, options));
    const [carol, dave, erin, team, frank] = [...early, ...late].map(([text]) => text);

    // minStrength first: AgentOS's recall raises each hit's strength by 0.1 (see the access-statistics case)
    const cases: Array<[RecallOptions, string[]]> = [
      [{ minStrength: 0.95 }, [frank!]],
      [{ minStrength: 0.6 }, [carol!, team!, frank!]],
      [{}, [carol!, dave!, erin!, team!, frank!]],
      [{ type: 'semantic' }, [carol!, dave!]],
      [{ type: 'episodic', scope: 'user' }, [frank!]],
      [{ scope: 'user' }, [carol!, dave!, frank!]],
      [{ scope: 'user', scopeId: 'dave' }, [dave!]],
      [{ scopeId: 't1' }, [erin!]],
      [{ scopeId: '' }, [carol!, dave!, erin!, team!, frank!]],
      [{ after: mark }, [team!, frank!]],
      [{ before: mark }, [carol!, dave!, erin!]],
      [{ after: mark, type: 'episodic' }, [frank!]],
      [{ type: 'relational' }, []],
      [{ scope: 'persona' }, []],
      [{ limit: 0 }, []],
    ];
    // (AgentOS's own fallback, unpatched, finds nothing once a filter is given: when this fails, AgentOS has fixed
    // it and bindRecallInStatementOrder can go)
    const { sql: unpatched } = await openSqlite(pair.brainId);
    await unpatched.remember('Frank brought tea to standup');
    expect([(await unpatched.recall('tea')).length, (await unpatched.recall('tea', { type: 'episodic' })).length]).toStrictEqual([1, 0]);

    for (const [options, expected] of cases) {
      const hits = await both(pair, (m) => m.recall('tea', options));
      expect({ options, sql: sorted(contents(hits.sql)) }).toStrictEqual({ options, sql: sorted(expected) });
      expect({ options, hub: sorted(contents(hits.hub)) }).toStrictEqual({ options, hub: sorted(expected) });
    }
    const two = await both(pair, (m) => m.recall('tea', { limit: 2 }));
    expect([two.sql.length, two.hub.length]).toStrictEqual([2, 2]);
  });

  it('fills limit under minStrength from the 100 best hits; below the 100th hit AgentHub cannot see (the documented bound)', async () => {
    const pair = await newPair();
    // weak traces rank above the strong ones on every leg (more of the query's words)
    const remember = async (texts: string[], importance: number) => {
      for (const text of texts) await pair.sql.remember(text, { importance });
      for (let i = 0; i < texts.length; i += 10) await Promise.all(texts.slice(i, i + 10).map((text) => pair.hub.remember(text, { importance })));
    };
    const strong = Array.from({ length: 10 }, (_, i) => `tea fact ${i}`);
    await remember(strong, 0.9);
    await remember(
      Array.from({ length: 60 }, (_, i) => `green tea note ${i}`),
      0.1,
    );
    const filled = await both(pair, (m) => m.recall('green tea', { minStrength: 0.5, limit: 10 }));
    expect(sorted(contents(filled.sql))).toStrictEqual(sorted(strong));
    expect(sorted(contents(filled.hub))).toStrictEqual(sorted(strong));

    // 100 traces now outrank the strong ones: AgentOS filters in SQL and still finds them; AgentHub's search returns
    // at most 100 hits (no offset), all weak, so none passes.
    await remember(
      Array.from({ length: 40 }, (_, i) => `green tea note ${60 + i}`),
      0.1,
    );
    const bounded = await both(pair, (m) => m.recall('green tea', { minStrength: 0.5, limit: 10 }));
    expect(sorted(contents(bounded.sql))).toStrictEqual(sorted(strong));
    expect(bounded.hub).toStrictEqual([]);
  });

  it('differs by design on traces that share no word with the query: AgentOS finds none, AgentHub returns them after the matches', async () => {
    const pair = await newPair();
    for (const text of ['Bob likes green tea', 'Alice lives in Lisbon', 'Quarterly taxes are due in April']) await both(pair, (m) => m.remember(text));
    const tea = await both(pair, (m) => m.recall('green tea'));
    expect(contents(tea.sql)).toStrictEqual(['Bob likes green tea']);
    expect(contents(tea.hub)[0]).toBe('Bob likes green tea');
    expect(sorted(contents(tea.hub).slice(1))).toStrictEqual(['Alice lives in Lisbon', 'Quarterly taxes are due in April']);
    expect(tea.hub[0]!.score).toBeGreaterThan(tea.hub[1]!.score);

    const none = await both(pair, (m) => m.recall('zebra'));
    expect(none.sql).toStrictEqual([]);
    expect(none.hub).toHaveLength(3);
  });

  it("differs by design on recall's access statistics: AgentOS writes them back per hit, AgentHub leaves the trace as it was", async () => {
    const pair = await newPair();
    const trace = await both(pair, (m) => m.remember('The office wifi password changes monthly', { importance: 0.5 }));
    const before = Date.now();
    const [hits, after] = [await both(pair, (m) => m.recall('wifi password')), Date.now()];
    expect(hits.sql[0]!.trace).toMatchObject({ id: trace.sql.id, encodingStrength: 0.6, retrievalCount: 1, accessCount: 1 });
    expect(hits.sql[0]!.trace.lastAccessedAt).toBeGreaterThanOrEqual(before);
    expect(hits.sql[0]!.trace.lastAccessedAt).toBeLessThanOrEqual(after);
    expect(hits.hub[0]!.trace).toStrictEqual(trace.hub);
    const traces = await stored(pair);
    expect(traces.sql[0]).toMatchObject({ encodingStrength: 0.6, retrievalCount: 1 });
    expect(traces.hub[0]).toStrictEqual(trace.hub);
  });

  it('records feedback: a used trace counts a retrieval, both signals stamp the access, unknown ids are ignored', async () => {
    const pair = await newPair();
    const trace = await both(pair, (m) => m.remember('Standup is at 9:30', { type: 'procedural', importance: 0.5 }));

    let before = Date.now();
    expect(await both(pair, (m) => m.feedback(trace[m === pair.sql ? 'sql' : 'hub'].id, 'used', 'when is standup'))).toStrictEqual({ sql: undefined, hub: undefined });
    let after = Date.now();
    let [sql, hub] = Object.values(await stored(pair)).map((t) => t[0]!);
    expect({ sql: [sql!.retrievalCount, sql!.accessCount], hub: [hub!.retrievalCount, hub!.accessCount] }).toStrictEqual({ sql: [1, 1], hub: [1, 1] });
    for (const t of [sql!, hub!]) expect([t.lastAccessedAt >= before, t.lastAccessedAt <= after]).toStrictEqual([true, true]);
    // the difference: AgentOS's spaced repetition strengthens the trace and grows its stability; AgentHub does not
    expect(sql).toMatchObject({ encodingStrength: 0.6, reinforcementInterval: 2 * DAY });
    expect(sql!.stability).toBeGreaterThan(DAY);
    expect(hub).toMatchObject({ encodingStrength: 0.5, stability: DAY, reinforcementInterval: DAY });

    before = Date.now();
    await both(pair, (m) => m.feedback(trace[m === pair.sql ? 'sql' : 'hub'].id, 'ignored'));
    after = Date.now();
    const stability = sql!.stability;
    [sql, hub] = Object.values(await stored(pair)).map((t) => t[0]!);
    expect({ sql: [sql!.retrievalCount, sql!.accessCount], hub: [hub!.retrievalCount, hub!.accessCount] }).toStrictEqual({ sql: [1, 1], hub: [1, 1] });
    for (const t of [sql!, hub!]) expect([t.lastAccessedAt >= before, t.lastAccessedAt <= after]).toStrictEqual([true, true]);
    // the difference: AgentOS weakens an ignored trace and halves its stability; AgentHub counts the signal
    expect(sql!.encodingStrength).toBeLessThan(0.6);
    expect(sql!.stability).toBe(stability / 2);
    expect(hub).toMatchObject({ encodingStrength: 0.5, stability: DAY });
    const { data: memory } = await pair.client.GET('/api/v1/memories/{id}', { params: { path: { id: trace.hub.id } } });
    expect((memory!.metadata['agentos'] as { feedback?: unknown }).feedback).toMatchObject({ used: 1, ignored: 1, lastSignal: 'ignored', lastQuery: null });

    for (const id of ['mt_never_remembered', randomUUID()]) {
      expect(await both(pair, (m) => m.feedback(id, 'used'))).toStrictEqual({ sql: undefined, hub: undefined });
    }
    const [sqlAfter, hubAfter] = Object.values(await stored(pair)).map((t) => t[0]!);
    expect([sqlAfter, hubAfter]).toStrictEqual([sql, hub]);
  });

  it("counts every feedback signal sent at once (AgentMemory does not await them), where AgentOS's facade loses some", async () => {
    const pair = await newPair();
    const trace = await both(pair, (m) => m.remember('Deploy the billing service by Friday', { type: 'prospective' }));
    // AgentOS reads and writes each signal without a transaction: sent together, they overwrite each other
    await Promise.all(Array.from({ length: 5 }, () => pair.sql.feedback(trace.sql.id, 'used')));
    const [sql] = (await stored(pair)).sql;
    expect(sql!.retrievalCount).toBeGreaterThanOrEqual(1);
    expect(sql!.retrievalCount).toBeLessThan(5);

    // AgentHub: through AgentMemory (fire and forget) and a second backend in the same process; the signals of a
    // trace are applied one after another, so awaiting the last one waits for all
    const agentMemory = AgentMemory.wrapMemory(pair.hub);
    for (let i = 0; i < 4; i++) agentMemory.feedback(trace.hub.id, i % 2 ? 'ignored' : 'used', `query ${i}`);
    const other = new AgentHubMemoryBackend({ client: pair.client }, { brainId: pair.brainId, embed });
    await Promise.all([other.feedback(trace.hub.id, 'used'), pair.hub.feedback(trace.hub.id, 'used', 'last')]);
    const [hub] = (await stored(pair)).hub;
    expect([hub!.retrievalCount, hub!.accessCount]).toStrictEqual([4, 4]);
    const { data: memory } = await pair.client.GET('/api/v1/memories/{id}', { params: { path: { id: trace.hub.id } } });
    expect((memory!.metadata['agentos'] as { feedback?: unknown }).feedback).toMatchObject({ used: 4, ignored: 2, lastSignal: 'used', lastQuery: 'last' });
  });

  it('reports health after remember and forget; AgentOS also counts its forgotten (soft-deleted) traces', async () => {
    const pair = await newPair();
    const empty = await both(pair, (m) => m.health());
    expect(empty.hub).toStrictEqual(empty.sql);
    expect(empty.sql).toMatchObject({ totalTraces: 0, activeTraces: 0, avgStrength: 0, weakestTraceStrength: 0, tracesPerType: {}, tracesPerScope: {} });

    const remembered: Array<{ sql: MemoryTrace; hub: MemoryTrace }> = [];
    for (const [text, options] of [
      ['The wifi password changes monthly', { type: 'procedural', importance: 0.5 }],
      ['Standup is at 9:30', { type: 'procedural', scope: 'organization', importance: 0.7 }],
      ['Erin joined the team in March', { type: 'episodic', scope: 'thread', importance: 0.3 }],
    ] as Array<[string, RememberOptions]>) {
      remembered.push(await both(pair, (m) => m.remember(text, options)));
    }
    const shared = (h: Awaited<ReturnType<Surface['health']>>) => ({
      activeTraces: h.activeTraces,
      avgStrength: Number(h.avgStrength.toFixed(9)),
      weakestTraceStrength: h.weakestTraceStrength,
      tracesPerType: h.tracesPerType,
      tracesPerScope: h.tracesPerScope,
      lastConsolidation: h.lastConsolidation,
      documentsIngested: h.documentsIngested,
      graphEdges: h.graphEdges,
    });
    const full = await both(pair, (m) => m.health());
    expect(shared(full.sql)).toStrictEqual({
      activeTraces: 3,
      avgStrength: 0.5,
      weakestTraceStrength: 0.3,
      tracesPerType: { procedural: 2, episodic: 1 },
      tracesPerScope: { user: 1, organization: 1, thread: 1 },
      lastConsolidation: null,
      documentsIngested: 0,
      graphEdges: 0,
    });
    expect(shared(full.hub)).toStrictEqual(shared(full.sql));
    expect([full.sql.totalTraces, full.hub.totalTraces]).toStrictEqual([3, 3]);

    // forget: AgentOS's Memory.forget (a soft delete); AgentHub's memory deleted through its API (AgentMemory's
    // standalone surface has no forget, so the backend has none)
    const gone = remembered[2]!;
    await pair.sql.forget(gone.sql.id);
    await pair.client.DELETE('/api/v1/memories/{id}', { params: { path: { id: gone.hub.id } } });
    const after = await both(pair, (m) => m.health());
    expect(shared(after.sql)).toMatchObject({ activeTraces: 2, avgStrength: 0.6, weakestTraceStrength: 0.5, tracesPerType: { procedural: 2 }, tracesPerScope: { user: 1, organization: 1 } });
    expect(shared(after.hub)).toStrictEqual(shared(after.sql));
    // the differences: AgentOS's total keeps the forgotten trace, AgentHub keeps none; AgentOS's memory graph has a
    // node per trace remembered, AgentHub has no graph
    expect({ sql: after.sql.totalTraces, hub: after.hub.totalTraces }).toStrictEqual({ sql: 3, hub: 2 });
    expect({ sql: after.sql.graphNodes, hub: after.hub.graphNodes }).toStrictEqual({ sql: 3, hub: 0 });

    // a forgotten trace is not recalled, and remembering its content again stores it anew
    const recalled = await both(pair, (m) => m.recall('Erin joined the team in March'));
    expect([recalled.sql.some((h) => h.trace.id === gone.sql.id), recalled.hub.some((h) => h.trace.id === gone.hub.id)]).toStrictEqual([false, false]);
    const again = await both(pair, (m) => m.remember('Erin joined the team in March', { type: 'episodic', scope: 'thread', importance: 0.3 }));
    expect([again.sql.id === gone.sql.id, again.hub.id === gone.hub.id]).toStrictEqual([false, false]);
    expect(comparable(again.hub)).toStrictEqual(comparable(again.sql));
  });

  it('differs by design on consolidate: AgentOS runs a consolidation cycle, AgentHub consolidates nothing and says so', async () => {
    const pair = await newPair();
    for (const scopeId of ['a', 'b']) await both(pair, (m) => m.remember('Alice moved to Porto', { type: 'semantic', scope: 'user', scopeId }));
    const before = await both(pair, (m) => m.health());
    const result = await both(pair, (m) => m.consolidate());
    expect(result.sql).toMatchObject({ pruned: expect.any(Number), merged: expect.any(Number), derived: expect.any(Number), compacted: expect.any(Number) });
    expect(result.hub).toStrictEqual({ pruned: 0, merged: 0, derived: 0, compacted: 0, durationMs: 0 });
    const after = await both(pair, (m) => m.health());
    expect(after.sql.lastConsolidation).not.toBeNull();
    expect(after.hub).toStrictEqual(before.hub);
    expect(after.hub.lastConsolidation).toBeNull();
  });

  it('behaves the same through AgentMemory: remember with its defaults, recall by type and tags, health', async () => {
    const pair = await newPair();
    const sql = AgentMemory.wrapMemory(pair.sql);
    const hub = AgentMemory.wrapMemory(pair.hub);
    const remembered = { sql: await sql.remember('The user prefers dark mode', { type: 'semantic', tags: ['preference'] }), hub: await hub.remember('The user prefers dark mode', { type: 'semantic', tags: ['preference'] }) };
    expect([remembered.sql.success, remembered.hub.success]).toStrictEqual([true, true]);
    expect(remembered.sql.trace).toMatchObject({ scope: 'thread', type: 'semantic', tags: ['preference'] });
    expect(comparable(remembered.hub.trace!)).toStrictEqual(comparable(remembered.sql.trace!));
    for (const [text, type] of [['The user works in dark rooms', 'episodic'], ['Dark mode ships on Friday', 'prospective']] as const) {
      await sql.remember(text, { type });
      await hub.remember(text, { type });
    }
    const health = { sql: await sql.health(), hub: await hub.health() };
    expect(health.hub).toStrictEqual(health.sql);

    const tagged = { sql: await sql.recall('dark mode', { tags: ['preference'] }), hub: await hub.recall('dark mode', { tags: ['preference'] }) };
    expect([tagged.sql.memories.map((m) => m.id), tagged.hub.memories.map((m) => m.id)]).toStrictEqual([[remembered.sql.trace!.id], [remembered.hub.trace!.id]]);
    const typed = { sql: await sql.recall('dark', { types: ['prospective', 'episodic'] }), hub: await hub.recall('dark', { types: ['prospective', 'episodic'] }) };
    expect(sorted(typed.hub.memories.map((m) => m.content))).toStrictEqual(sorted(typed.sql.memories.map((m) => m.content)));
    expect(sorted(typed.sql.memories.map((m) => m.content))).toStrictEqual(['Dark mode ships on Friday', 'The user works in dark rooms']);
  });
});
