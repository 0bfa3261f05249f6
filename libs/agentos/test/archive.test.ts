import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createStorageFeatures, resolveStorageAdapter, type StorageAdapter } from '@framers/sql-storage-adapter';
import type { ArchivedTrace, IMemoryArchive } from '@framers/agentos/dist/cognition/memory/archive/index';
import { createAgentHubClient } from '@agenthub/client';
import { AgentHubMemoryArchive, recordOf } from '../src/archive';
import { apiBaseUrl, newOrganizationKey } from './support';

/**
 * The IMemoryArchive contract, case by case, run against AgentOS's own SqlStorageMemoryArchive (sql.js, a temp file)
 * and AgentHubMemoryArchive (the test API) side by side: each case states what AgentOS does and that AgentHub does
 * the same. Normalised, because they must differ: rehydration times (each side reads its own clock; both must fall
 * inside the call).
 */

type ArchiveModule = typeof import('@framers/agentos/dist/cognition/memory/archive/index');
// AgentOS exports the archive only under its `./memory/*` subpath, which the workspace's node10 resolution (tsc)
// cannot see: loaded by that path at run time, typed from its declaration file.
const ARCHIVE_MODULE = String('@framers/agentos/memory/archive/index');
let SqlStorageMemoryArchive: ArchiveModule['SqlStorageMemoryArchive'];

const DAY = 86_400_000;
const dirs: string[] = [];

beforeAll(async () => {
  ({ SqlStorageMemoryArchive } = (await import(ARCHIVE_MODULE)) as ArchiveModule);
});

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A brain file as a process opens it: sql.js on a temp file (written through on every change). */
async function openSqlite(file: string): Promise<StorageAdapter> {
  return resolveStorageAdapter({ priority: ['sqljs'], quiet: true, openOptions: { filePath: file } });
}

interface Pair {
  sql: IMemoryArchive;
  hub: AgentHubMemoryArchive;
  /** the same brain as a second process opens it */
  second: () => Promise<{ sql: IMemoryArchive; hub: AgentHubMemoryArchive }>;
  sqlite: StorageAdapter;
  apiKey: string;
}

/** AgentOS's archive on a fresh SQLite file and AgentHub's on a fresh organization, both for `brainId`. */
async function newPair(brainId = 'companion-alice'): Promise<Pair> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentos-archive-'));
  dirs.push(dir);
  const file = path.join(dir, 'brain.sqlite');
  const sqlite = await openSqlite(file);
  const sql = new SqlStorageMemoryArchive(sqlite, createStorageFeatures(sqlite), brainId);
  const apiKey = await newOrganizationKey('agentos-archive');
  const hub = new AgentHubMemoryArchive({ baseUrl: apiBaseUrl(), apiKey }, { brainId });
  await Promise.all([sql.initialize(), hub.initialize()]);
  return {
    sql,
    hub,
    sqlite,
    apiKey,
    second: async () => {
      const again = await openSqlite(file);
      return {
        sql: new SqlStorageMemoryArchive(again, createStorageFeatures(again), brainId),
        hub: new AgentHubMemoryArchive({ baseUrl: apiBaseUrl(), apiKey }, { brainId }),
      };
    },
  };
}

/** Runs the same call on both archives (AgentOS's first) and returns both answers. */
async function both<T>(pair: { sql: IMemoryArchive; hub: IMemoryArchive }, call: (archive: IMemoryArchive) => Promise<T>): Promise<{ sql: T; hub: T }> {
  const sql = await call(pair.sql);
  const hub = await call(pair.hub);
  return { sql, hub };
}

let traceSeq = 0;
/** An archived trace as TemporalGist writes one (hash of the content, archived now), with overrides. */
function archivedTrace(overrides: Partial<ArchivedTrace> = {}): ArchivedTrace {
  const seq = ++traceSeq;
  const verbatimContent = overrides.verbatimContent ?? `Alice said she moved to Lisbon in spring ${seq} — café, naïve, 日本`;
  return {
    traceId: `mt_${Date.now().toString(36)}_${seq}`,
    agentId: 'companion-alice',
    verbatimContent,
    contentHash: sha256(verbatimContent),
    traceType: 'episodic',
    emotionalContext: { valence: 0.4, arousal: 0.2, dominance: 0.1, intensity: 0.3, gmiMood: 'curious' },
    entities: ['Alice', 'Lisbon'],
    tags: ['move', 'personal'],
    createdAt: Date.now() - 30 * DAY,
    archivedAt: Date.now(),
    archiveReason: 'temporal_gist',
    ...overrides,
  };
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe(AgentHubMemoryArchive.name, () => {
  it('stores a trace and rehydrates its verbatim content', async () => {
    const pair = await newPair();
    const trace = archivedTrace();
    const stored = await both(pair, (a) => a.store(trace));
    expect(stored.sql).toStrictEqual({ success: true, traceId: trace.traceId, bytesWritten: Buffer.byteLength(trace.verbatimContent) });
    expect(stored.hub).toStrictEqual(stored.sql);

    const rehydrated = await both(pair, (a) => a.rehydrate(trace.traceId, 'narrator_turn_42'));
    expect(rehydrated.sql).toStrictEqual({
      traceId: trace.traceId,
      verbatimContent: trace.verbatimContent,
      contentHash: trace.contentHash,
      archivedAt: trace.archivedAt,
      archiveReason: 'temporal_gist',
    });
    expect(rehydrated.hub).toStrictEqual(rehydrated.sql);
  });

  it('keeps every field of the trace: the document holds what the SQLite row holds', async () => {
    const pair = await newPair();
    const trace = archivedTrace({ archiveReason: 'lifecycle_archive', traceType: 'semantic' });
    await both(pair, (a) => a.store(trace));

    const row = (await pair.sqlite.get('SELECT * FROM archived_traces WHERE trace_id = ?', [trace.traceId])) as Record<string, string | number>;
    const hub = createAgentHubClient({ baseUrl: apiBaseUrl(), apiKey: pair.apiKey });
    const { data } = await hub.GET('/api/v1/documents', { params: { query: { title: trace.traceId } } });
    const [document] = data!.data;
    expect(data!.data).toHaveLength(1);
    expect({ title: document!.title, content: document!.content, ...recordOf(document!) }).toStrictEqual({
      title: row['trace_id'],
      content: row['verbatim_content'],
      brainId: row['brain_id'],
      agentId: row['agent_id'],
      contentHash: row['content_hash'],
      traceType: row['trace_type'],
      emotionalContext: JSON.parse(row['emotional_context'] as string),
      entities: JSON.parse(row['entities'] as string),
      tags: JSON.parse(row['tags'] as string),
      createdAt: row['created_at'],
      archivedAt: row['archived_at'],
      archiveReason: row['archive_reason'],
      byteSize: row['byte_size'],
    });
    // filed under the AgentHub agent named like the trace's agent
    const { data: agent } = await hub.GET('/api/v1/agents/{id}', { params: { path: { id: document!.agentId! } } });
    expect(agent!.name).toBe(trace.agentId);
  });

  it('is idempotent on the trace id: a second store is a no-op, even with other content', async () => {
    const pair = await newPair();
    const trace = archivedTrace();
    await both(pair, (a) => a.store(trace));

    const again = await both(pair, (a) => a.store(trace));
    expect(again.sql).toStrictEqual({ success: true, traceId: trace.traceId, bytesWritten: 0 });
    expect(again.hub).toStrictEqual(again.sql);

    const other = archivedTrace({ traceId: trace.traceId, verbatimContent: 'something else entirely', archivedAt: trace.archivedAt + 5 });
    const overwritten = await both(pair, (a) => a.store(other));
    expect(overwritten.sql).toStrictEqual({ success: true, traceId: trace.traceId, bytesWritten: 0 });
    expect(overwritten.hub).toStrictEqual(overwritten.sql);

    const rehydrated = await both(pair, (a) => a.rehydrate(trace.traceId));
    expect(rehydrated.sql?.verbatimContent).toBe(trace.verbatimContent);
    expect(rehydrated.hub).toStrictEqual(rehydrated.sql);
    expect((await both(pair, (a) => a.list())).hub).toHaveLength(1);
  });

  it('stores a trace whose hash does not match its content, and will not rehydrate it (nor log an access)', async () => {
    const pair = await newPair();
    const trace = archivedTrace({ contentHash: sha256('the content before someone edited it') });
    const stored = await both(pair, (a) => a.store(trace));
    expect(stored.sql).toStrictEqual({ success: true, traceId: trace.traceId, bytesWritten: Buffer.byteLength(trace.verbatimContent) });
    expect(stored.hub).toStrictEqual(stored.sql);

    const rehydrated = await both(pair, (a) => a.rehydrate(trace.traceId, 'audit'));
    expect(rehydrated).toStrictEqual({ sql: null, hub: null });
    expect(await both(pair, (a) => a.lastAccessedAt(trace.traceId))).toStrictEqual({ sql: null, hub: null });
    const listed = await both(pair, (a) => a.list());
    expect(listed.sql.map((e) => e.traceId)).toStrictEqual([trace.traceId]);
    expect(listed.hub).toStrictEqual(listed.sql);
  });

  it('rehydrates an unknown trace id as null', async () => {
    const pair = await newPair();
    await both(pair, (a) => a.store(archivedTrace()));
    expect(await both(pair, (a) => a.rehydrate('mt_never_archived'))).toStrictEqual({ sql: null, hub: null });
    expect(await both(pair, (a) => a.lastAccessedAt('mt_never_archived'))).toStrictEqual({ sql: null, hub: null });
  });

  it('drops a trace with its access record; dropping an unknown id is a no-op; a dropped trace can be stored again', async () => {
    const pair = await newPair();
    const [kept, dropped] = [archivedTrace({ archivedAt: Date.now() - 2000 }), archivedTrace({ archivedAt: Date.now() - 1000 })];
    for (const t of [kept, dropped]) await both(pair, (a) => a.store(t));
    await both(pair, (a) => a.rehydrate(dropped.traceId));

    expect(await both(pair, (a) => a.drop(dropped.traceId))).toStrictEqual({ sql: undefined, hub: undefined });
    expect(await both(pair, (a) => a.drop('mt_never_archived'))).toStrictEqual({ sql: undefined, hub: undefined });
    expect(await both(pair, (a) => a.rehydrate(dropped.traceId))).toStrictEqual({ sql: null, hub: null });
    expect(await both(pair, (a) => a.lastAccessedAt(dropped.traceId))).toStrictEqual({ sql: null, hub: null });
    const listed = await both(pair, (a) => a.list());
    expect(listed.sql.map((e) => e.traceId)).toStrictEqual([kept.traceId]);
    expect(listed.hub).toStrictEqual(listed.sql);

    // (AgentHub: the create's Idempotency-Key still answers with the dropped document; it must not count as stored)
    const restored = await both(pair, (a) => a.store(dropped));
    expect(restored.sql).toStrictEqual({ success: true, traceId: dropped.traceId, bytesWritten: Buffer.byteLength(dropped.verbatimContent) });
    expect(restored.hub).toStrictEqual(restored.sql);
    const rehydrated = await both(pair, (a) => a.rehydrate(dropped.traceId));
    expect(rehydrated.sql?.verbatimContent).toBe(dropped.verbatimContent);
    expect(rehydrated.hub).toStrictEqual(rehydrated.sql);
  });

  it('lists metadata only, oldest archivedAt first, filtered by agentId, olderThanMs and limit', async () => {
    const pair = await newPair();
    const now = Date.now();
    // stored out of archivedAt order; two with the same archivedAt keep the order they were stored in
    const traces = [
      archivedTrace({ agentId: 'companion-alice', archivedAt: now - 5 * DAY, archiveReason: 'temporal_gist' }),
      archivedTrace({ agentId: 'companion-bob', archivedAt: now - 10 * DAY, archiveReason: 'manual_compaction' }),
      archivedTrace({ agentId: 'companion-alice', archivedAt: now - 1000, archiveReason: 'lifecycle_archive' }),
      archivedTrace({ agentId: 'companion-alice', archivedAt: now - 10 * DAY, archiveReason: 'perspective_source', verbatimContent: 'x' }),
      archivedTrace({ agentId: 'companion-bob', archivedAt: now - 3 * DAY, archiveReason: 'temporal_gist' }),
    ];
    for (const t of traces) await both(pair, (a) => a.store(t));
    const order = (ids: number[]) => ids.map((i) => traces[i]!.traceId);

    const all = await both(pair, (a) => a.list());
    expect(all.sql.map((e) => e.traceId)).toStrictEqual(order([1, 3, 0, 4, 2]));
    expect(all.sql[1]).toStrictEqual({ traceId: traces[3]!.traceId, agentId: 'companion-alice', archivedAt: now - 10 * DAY, archiveReason: 'perspective_source', byteSize: 1 });
    expect(all.hub).toStrictEqual(all.sql);

    const cases: Array<[Parameters<IMemoryArchive['list']>[0], number[]]> = [
      [{ agentId: 'companion-alice' }, [3, 0, 2]],
      [{ agentId: 'companion-bob' }, [1, 4]],
      [{ agentId: 'nobody' }, []],
      [{ olderThanMs: 4 * DAY }, [1, 3, 0]],
      [{ olderThanMs: 20 * DAY }, []],
      [{ limit: 2 }, [1, 3]],
      [{ agentId: 'companion-alice', olderThanMs: DAY, limit: 1 }, [3]],
      // 0 and '' are no filter (AgentOS tests them for truth)
      [{ agentId: '', olderThanMs: 0, limit: 0 }, [1, 3, 0, 4, 2]],
      // a negative limit is none either (SQLite's LIMIT -1)
      [{ limit: -1 }, [1, 3, 0, 4, 2]],
    ];
    for (const [options, expected] of cases) {
      const listed = await both(pair, (a) => a.list(options));
      expect({ options, ids: listed.sql.map((e) => e.traceId) }).toStrictEqual({ options, ids: order(expected) });
      expect({ options, entries: listed.hub }).toStrictEqual({ options, entries: listed.sql });
    }
  });

  it('has no lastAccessedAt before a rehydration and the latest one after', async () => {
    const pair = await newPair();
    const trace = archivedTrace();
    await both(pair, (a) => a.store(trace));
    expect(await both(pair, (a) => a.lastAccessedAt(trace.traceId))).toStrictEqual({ sql: null, hub: null });

    const first = { before: Date.now(), after: 0 };
    await both(pair, (a) => a.rehydrate(trace.traceId, 'turn-1'));
    first.after = Date.now();
    const afterFirst = await both(pair, (a) => a.lastAccessedAt(trace.traceId));
    // (normalised: each side stamps its own rehydration; both inside the calls)
    for (const at of [afterFirst.sql, afterFirst.hub]) {
      expect(at).toBeGreaterThanOrEqual(first.before);
      expect(at).toBeLessThanOrEqual(first.after);
    }

    // (AgentOS's access log is keyed by the millisecond: a second rehydration in the same one fails there)
    await pause(5);
    const second = Date.now();
    await both(pair, (a) => a.rehydrate(trace.traceId, 'turn-2'));
    const afterSecond = await both(pair, (a) => a.lastAccessedAt(trace.traceId));
    for (const at of [afterSecond.sql, afterSecond.hub]) expect(at).toBeGreaterThanOrEqual(second);
  });

  it('initializes idempotently', async () => {
    const pair = await newPair();
    const trace = archivedTrace();
    await both(pair, (a) => a.store(trace));
    expect(await both(pair, (a) => a.initialize())).toStrictEqual({ sql: undefined, hub: undefined });
    expect(await both(pair, (a) => a.initialize())).toStrictEqual({ sql: undefined, hub: undefined });
    const rehydrated = await both(pair, (a) => a.rehydrate(trace.traceId));
    expect(rehydrated.sql?.verbatimContent).toBe(trace.verbatimContent);
    expect(rehydrated.hub).toStrictEqual(rehydrated.sql);
  });

  it('shows a second process (a second archive on the same brain) what the first stored and rehydrated', async () => {
    const pair = await newPair();
    const trace = archivedTrace();
    await both(pair, (a) => a.store(trace));
    const before = Date.now();
    await both(pair, (a) => a.rehydrate(trace.traceId, 'process-1'));

    const second = await pair.second();
    const seen = await both(second, (a) => a.lastAccessedAt(trace.traceId));
    for (const at of [seen.sql, seen.hub]) expect(at).toBeGreaterThanOrEqual(before);
    const listed = await both(second, (a) => a.list());
    expect(listed.sql.map((e) => e.traceId)).toStrictEqual([trace.traceId]);
    expect(listed.hub).toStrictEqual(listed.sql);
    const again = await both(second, (a) => a.store(trace));
    expect(again).toStrictEqual({ sql: { success: true, traceId: trace.traceId, bytesWritten: 0 }, hub: { success: true, traceId: trace.traceId, bytesWritten: 0 } });
    await both(second, (a) => a.drop(trace.traceId));
    // (a third opening: sql.js holds the file in memory, so an archive opened before the drop keeps its own copy)
    expect(await both(await pair.second(), (a) => a.rehydrate(trace.traceId))).toStrictEqual({ sql: null, hub: null });
  });

  it('keeps brains apart: another brainId sees none of this brain archive', async () => {
    const pair = await newPair('brain-a');
    const trace = archivedTrace();
    await both(pair, (a) => a.store(trace));
    const other = {
      sql: new SqlStorageMemoryArchive(pair.sqlite, createStorageFeatures(pair.sqlite), 'brain-b'),
      hub: new AgentHubMemoryArchive({ baseUrl: apiBaseUrl(), apiKey: pair.apiKey }, { brainId: 'brain-b' }),
    };
    expect(await both(other, (a) => a.rehydrate(trace.traceId))).toStrictEqual({ sql: null, hub: null });
    expect(await both(other, (a) => a.list())).toStrictEqual({ sql: [], hub: [] });
    const stored = await both(other, (a) => a.store(trace));
    expect(stored.sql.bytesWritten).toBeGreaterThan(0);
    expect(stored.hub).toStrictEqual(stored.sql);
    await both(other, (a) => a.drop(trace.traceId));
    const still = await both(pair, (a) => a.rehydrate(trace.traceId));
    expect(still.sql?.verbatimContent).toBe(trace.verbatimContent);
    expect(still.hub).toStrictEqual(still.sql);
  });

  // AgentHub only: AgentOS's sql.js archive lives in one process.
  it('stores a trace once when two processes archive it at the same moment', async () => {
    const apiKey = await newOrganizationKey('agentos-archive');
    const connection = { baseUrl: apiBaseUrl(), apiKey };
    const [one, two] = [new AgentHubMemoryArchive(connection, { brainId: 'race' }), new AgentHubMemoryArchive(connection, { brainId: 'race' })];
    const trace = archivedTrace();
    // the same trace archived by two gist cycles: same content and hash, archivedAt a moment apart
    const results = await Promise.all([one.store(trace), two.store({ ...trace, archivedAt: trace.archivedAt + 1 })]);
    expect(results.every((r) => r.success)).toBe(true);
    expect(results.map((r) => r.bytesWritten).sort((a, b) => a - b)).toStrictEqual([0, Buffer.byteLength(trace.verbatimContent)]);
    expect(await one.list()).toHaveLength(1);
    // and the same request twice at once (a retry racing the original)
    const same = archivedTrace();
    const twice = await Promise.all([one.store(same), two.store(same)]);
    expect(twice.map((r) => r.bytesWritten).sort((a, b) => a - b)).toStrictEqual([0, Buffer.byteLength(same.verbatimContent)]);
    expect(await two.list()).toHaveLength(2);
  });

  // AgentHub only: what AgentOS would store as any text but an AgentHub title cannot hold.
  it('refuses a trace id that cannot be a document title rather than store it under another', async () => {
    const sut = new AgentHubMemoryArchive({ baseUrl: apiBaseUrl(), apiKey: await newOrganizationKey('agentos-archive') }, { brainId: 'titles' });
    const result = await sut.store(archivedTrace({ traceId: ' padded ' }));
    expect(result).toMatchObject({ success: false, traceId: ' padded ', bytesWritten: 0 });
    expect(result.error).toMatch(/document title/);
    expect(await sut.rehydrate(' padded ')).toBeNull();
  });
});
