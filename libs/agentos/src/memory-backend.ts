import type {
  ImportResult,
  IngestResult,
  Memory,
  MemoryConsolidationResult,
  MemoryHealth,
  MemoryScope,
  MemoryTrace,
  MemoryType,
  RecallOptions,
  RememberOptions,
  ScoredTrace,
} from '@framers/agentos';
import { AgentHubDirectory, isStatus, clientOf, paginate, type AgentHubClient, type AgentHubConnection, type components } from '@agenthub/client';
import { sha256 } from './sha256';

type HubMemory = components['schemas']['MemoryDto_Output'];

/** Embeds texts for AgentHub's vector search (e.g. an embeddings API); one vector per text, of the API's dimension. */
export type Embedder = (texts: string[]) => Promise<Array<number[] | Float32Array>>;

export interface AgentHubMemoryBackendOptions {
  /**
   * The brain (AgentOS's `brainId`): the AgentHub agent of its thread-, user- and organization-scoped memories, and
   * the scope of every read. A persona-scoped memory (`scopeId` `<user>::<persona>`) belongs to the persona's agent.
   */
  brainId: string;
  /** makes each memory's embedding and the query's (AgentHub keeps an embedding with every memory) */
  embed: Embedder;
  /** the model that made the embeddings, kept with each memory */
  embeddingModel?: string;
  /** cosine similarity floor of recall's vector half (default none: the nearest memories always come back) */
  minSimilarity?: number;
}

/** What AgentHub keeps of a trace in `metadata.agentos` (the AgentOS importer's shape for a `memory_traces` row). */
interface TraceRecord {
  scope?: string;
  strength?: number;
  retrievalCount?: number;
  /** Unix ms (the importer writes ISO text; both are read) */
  lastAccessed?: number | string;
  tags?: string[];
  emotions?: Record<string, unknown>;
  /** AgentOS's trace metadata: content_hash, entities, scopeId, decay */
  metadata?: Record<string, unknown>;
  feedback?: { used: number; ignored: number; lastSignal: 'used' | 'ignored'; lastQuery: string | null; lastAt: number };
}

/** AgentOS's defaults for a trace without persisted decay state (tracePersistence.js). */
const DEFAULT_STABILITY_MS = 86_400_000;
const DEFAULT_REINFORCEMENT_INTERVAL_MS = 86_400_000;
const PAGE = 200;
/** The search API's largest `k`; it has no offset or cursor, so no recall sees past the 100 best hits. */
const MAX_K = 100;

/**
 * The feedback of this process still being written, per trace: a trace's signals are applied one after the other
 * (each a read and a write of its metadata), so signals sent together, as AgentMemory sends them, all count.
 */
const feedbackQueue = new Map<string, Promise<void>>();

type Backend = Pick<Memory, 'remember' | 'recall' | 'consolidate' | 'health' | 'close' | 'ingest' | 'importFrom' | 'export' | 'feedback'>;

/**
 * A memory backend for AgentOS's `AgentMemory` (`new AgentMemory(backend)` / `AgentMemory.wrapMemory(backend)`: the
 * shape of its standalone SQLite `Memory` facade) that keeps memories in AgentHub, over its HTTP API, so every process
 * of an agent shares them. A trace is an AgentHub memory:
 *
 * | AgentOS trace | AgentHub memory |
 * |---|---|
 * | content | content, with the embedding `embed` makes of it |
 * | type (default `episodic`) | kind |
 * | strength (`importance`, default 1) | importance (clamped to 0..1), and `metadata.agentos.strength` as given |
 * | scope `user` + scopeId | user with that externalId (created when missing) |
 * | scope `persona` + `<user>::<persona>` | user and the persona's agent |
 * | brain | agent named `brainId` (created when missing); `metadata.source = { kind: 'agentos', brainId }` |
 * | scope, tags, emotions, retrieval count, last access | `metadata.agentos` |
 * | content hash, entities, scopeId, decay state | `metadata.agentos.metadata` (AgentOS's trace metadata) |
 * | id | the AgentHub memory id |
 *
 * That is the AgentOS importer's mapping of a brain's `memory_traces`, so imported memories are recalled too.
 * Recall is AgentHub's hybrid search (vector + full text, RRF) within the brain — where AgentOS's facade ranks by
 * full text alone (vectors only once its HNSW sidecar is built), so AgentHub also returns memories that share no
 * word with the query, nearest first. Recall does not write back access statistics (AgentOS's facade does, per hit):
 * `feedback` is where they are recorded.
 */
export class AgentHubMemoryBackend implements Backend {
  readonly client: AgentHubClient;
  private readonly directory: AgentHubDirectory;

  constructor(
    connection: AgentHubConnection,
    private readonly options: AgentHubMemoryBackendOptions,
  ) {
    this.client = clientOf(connection);
    this.directory = new AgentHubDirectory(this.client, 'agentos-agent');
  }

  /**
   * Stores a memory; as AgentOS's facade, the same content with the same type, scope and scopeId returns the memory
   * stored before instead of a second one: found by the content's hash in the trace metadata's `content_hash` (what
   * `remember` writes) or `import_hash` (what AgentOS's importers write), a missing scopeId counting as ''. The
   * create carries an Idempotency-Key derived from those, so two processes remembering the same thing at once store
   * it once. An embedder failure fails the call (AgentOS would store the trace without a vector; AgentHub keeps one
   * with every memory).
   */
  async remember(content: string, options?: RememberOptions): Promise<MemoryTrace> {
    const type = options?.type ?? 'episodic';
    const scope = options?.scope ?? 'user';
    const scopeId = options?.scopeId ?? '';
    const contentHash = sha256(content);
    const [vector] = await this.options.embed([content]);
    const embedding = Array.from(vector!);
    const duplicate = () => this.findDuplicate(embedding, type, scope, scopeId, contentHash);
    const existing = await duplicate();
    if (existing) return toTrace(existing);

    const owner = ownerOf(this.options.brainId, scope, scopeId);
    const [agentId, userId] = await Promise.all([
      this.directory.agentId(owner.agentName, { metadata: { agentos: { agentId: owner.agentName } } }),
      owner.userExternalId ? this.directory.userId(owner.userExternalId, true) : Promise.resolve(null),
    ]);
    const strength = options?.importance ?? 1.0;
    const record: TraceRecord = {
      scope,
      strength,
      retrievalCount: 0,
      tags: options?.tags ?? [],
      emotions: {},
      metadata: {
        content_hash: contentHash,
        entities: options?.entities ?? [],
        scopeId,
        decay: { stability: DEFAULT_STABILITY_MS, accessCount: 0, reinforcementInterval: DEFAULT_REINFORCEMENT_INTERVAL_MS },
      },
    };
    const body = {
      content,
      embedding,
      embeddingModel: this.options.embeddingModel ?? null,
      kind: type,
      agentId,
      userId,
      importance: Math.min(1, Math.max(0, strength)),
      metadata: { source: { kind: 'agentos', brainId: this.options.brainId }, agentos: record },
    };
    const key = `agentos-memory:${sha256(JSON.stringify([this.options.brainId, type, scope, scopeId, contentHash]))}`;
    try {
      const { data, response } = await this.client.POST('/api/v1/memories', { params: { header: { 'Idempotency-Key': key } }, body });
      if (response.headers.get('idempotent-replayed') !== 'true') return toTrace(data!);
      // The key answered with a memory stored before: it may have been deleted since.
      const again = await duplicate();
      if (again) return toTrace(again);
      const { data: fresh } = await this.client.POST('/api/v1/memories', { body });
      return toTrace(fresh!);
    } catch (e) {
      // The same memory with other tags or importance, stored by another process just now: that one stands.
      if (isStatus(e, 409)) {
        const winner = await duplicate();
        if (winner) return toTrace(winner);
      }
      throw e;
    }
  }

  /**
   * The brain's memories most relevant to the query (AgentHub's hybrid search), best first; `score` is AgentHub's
   * (the RRF score). Filters as AgentOS's: `type`, `scope`, `scopeId`, `minStrength`, `after`, `before` (creation
   * time, exclusive); `limit` default 10, at most 100 (0 or less: none). `policy` is not applied. An empty query
   * finds nothing.
   *
   * `type`, `scope`, `scopeId` and the brain are filters of the search itself. `minStrength`, `after` and `before`
   * are not (the search API filters on kind, agent, user and metadata containment only: no ranges, and strength is
   * in metadata), so they are applied to the hits: with any of them the search asks for its maximum, the 100 best
   * hits, and keeps those that pass. The search has no offset or cursor, so the bound is exact: a memory that passes
   * them but ranks below the 100th hit of the search (only possible when more than 100 of the brain's memories match
   * type, scope and scopeId) is not returned, and fewer than `limit` come back although more match.
   */
  async recall(query: string, options?: RecallOptions): Promise<ScoredTrace[]> {
    if (!query.trim()) return [];
    const limit = Math.min(options?.limit ?? 10, MAX_K);
    if (limit <= 0) return [];
    const minStrength = options?.minStrength ?? 0;
    const postFilter = minStrength > 0 || options?.after != null || options?.before != null;
    const [vector] = await this.options.embed([query]);
    const agentos: Record<string, unknown> = {};
    if (options?.scope) agentos['scope'] = options.scope;
    if (options?.scopeId) agentos['metadata'] = { scopeId: options.scopeId };
    const { data } = await this.client.POST('/api/v1/memories/search', {
      body: {
        query,
        mode: 'hybrid',
        embedding: Array.from(vector!),
        k: postFilter ? MAX_K : limit,
        ...(this.options.minSimilarity !== undefined ? { minSimilarity: this.options.minSimilarity } : {}),
        filter: { ...(options?.type ? { kind: options.type } : {}), metadata: { source: { brainId: this.options.brainId }, ...(Object.keys(agentos).length ? { agentos } : {}) } },
      },
    });
    return data!.data
      .map((hit) => ({ trace: toTrace(hit), score: hit.score }))
      .filter(({ trace }) => {
        if (minStrength > 0 && trace.encodingStrength < minStrength) return false;
        if (options?.after != null && !(trace.createdAt > options.after)) return false;
        if (options?.before != null && !(trace.createdAt < options.before)) return false;
        return true;
      })
      .slice(0, limit);
  }

  /**
   * AgentHub does not consolidate memories (no pruning, merging or deriving; the worker only purges expired ones),
   * so this consolidates nothing and says so: every count is 0. It does not throw, so AgentOS's `consolidate()`
   * schedules keep working.
   */
  async consolidate(): Promise<MemoryConsolidationResult> {
    return { pruned: 0, merged: 0, derived: 0, compacted: 0, durationMs: 0 };
  }

  /**
   * Records that a recalled memory was used or ignored, in its `metadata.agentos`: `feedback` counts the signals
   * (with the last query) and both set `lastAccessed`, as AgentOS's facade does; `used` also counts a retrieval
   * (`retrievalCount`, `decay.accessCount`). Unlike AgentOS's facade it does not recompute strength and stability
   * (AgentOS's spaced-repetition model, which this library does not run), so `importance` is unchanged. Best effort,
   * as in AgentOS: an unknown id or a failed request is ignored (AgentMemory does not await it, so it must not
   * reject).
   *
   * Each signal reads the memory and writes its metadata back. Within a process the signals for one trace are
   * applied one after another (AgentMemory fires them without waiting), so none is lost. Across processes they are
   * not: AgentHub has no conditional update of a memory, so two processes giving feedback on the same trace at the
   * same moment can lose one count (the last write wins) — as AgentOS's own facade loses them within one process.
   */
  feedback(traceId: string, signal: 'used' | 'ignored', query?: string): Promise<void> {
    const previous = feedbackQueue.get(traceId) ?? Promise.resolve();
    const next = previous.then(() => this.applyFeedback(traceId, signal, query));
    feedbackQueue.set(traceId, next);
    void next.then(() => {
      if (feedbackQueue.get(traceId) === next) feedbackQueue.delete(traceId);
    });
    return next;
  }

  private async applyFeedback(traceId: string, signal: 'used' | 'ignored', query?: string): Promise<void> {
    try {
      const { data: memory } = await this.client.GET('/api/v1/memories/{id}', { params: { path: { id: traceId } } });
      const metadata = memory!.metadata;
      const record = { ...recordOf(memory!) };
      const now = Date.now();
      const previous = record.feedback ?? { used: 0, ignored: 0 };
      record.feedback = { used: previous.used + (signal === 'used' ? 1 : 0), ignored: previous.ignored + (signal === 'ignored' ? 1 : 0), lastSignal: signal, lastQuery: query ?? null, lastAt: now };
      record.lastAccessed = now;
      if (signal === 'used') {
        const retrievalCount = (record.retrievalCount ?? 0) + 1;
        const traceMetadata = { ...record.metadata };
        const decay = { ...(traceMetadata['decay'] as Record<string, unknown> | undefined) };
        decay['accessCount'] = (typeof decay['accessCount'] === 'number' ? decay['accessCount'] : retrievalCount - 1) + 1;
        Object.assign(record, { retrievalCount, metadata: { ...traceMetadata, decay } });
      }
      await this.client.PATCH('/api/v1/memories/{id}', { params: { path: { id: traceId } }, body: { metadata: { ...metadata, agentos: record } } });
    } catch {
      // best effort (see feedback)
    }
  }

  /**
   * Counts over the brain's memories (read page by page: a diagnostics path). AgentHub keeps no deleted traces, so
   * total and active are the same; there is no knowledge graph, consolidation log or ingestion here (0 / null).
   */
  async health(): Promise<MemoryHealth> {
    let count = 0;
    let sum = 0;
    let weakest = Infinity;
    const tracesPerType: Record<string, number> = {};
    const tracesPerScope: Record<string, number> = {};
    for await (const memory of paginate((cursor) => this.client.GET('/api/v1/memories', { params: { query: { limit: PAGE, cursor } } }))) {
      if ((memory.metadata['source'] as { brainId?: unknown } | undefined)?.brainId !== this.options.brainId) continue;
      const trace = toTrace(memory);
      count++;
      sum += trace.encodingStrength;
      weakest = Math.min(weakest, trace.encodingStrength);
      tracesPerType[trace.type] = (tracesPerType[trace.type] ?? 0) + 1;
      tracesPerScope[trace.scope] = (tracesPerScope[trace.scope] ?? 0) + 1;
    }
    return {
      totalTraces: count,
      activeTraces: count,
      avgStrength: count ? sum / count : 0,
      weakestTraceStrength: count ? weakest : 0,
      graphNodes: 0,
      graphEdges: 0,
      lastConsolidation: null,
      tracesPerType,
      tracesPerScope,
      documentsIngested: 0,
    };
  }

  /** Nothing to release: the backend holds no connection (each call is an HTTP request). */
  async close(): Promise<void> {
    // nothing to close
  }

  /**
   * Not supported: AgentOS's ingestion loads, chunks and stores files in its own SQLite tables. Put documents in
   * AgentHub with its documents API (`POST /api/v1/documents`, chunks with embeddings) instead. Always throws.
   */
  async ingest(source: string): Promise<IngestResult> {
    throw new Error(`AgentHubMemoryBackend.ingest(${JSON.stringify(source)}): not supported; store documents with AgentHub's documents API`);
  }

  /**
   * Not supported here: an AgentOS export or brain file is imported into AgentHub by the worker's importer
   * (`agenthub import agentos-sqlite <file>`), which maps traces the way this backend stores them. Always throws.
   */
  async importFrom(source: string): Promise<ImportResult> {
    throw new Error(`AgentHubMemoryBackend.importFrom(${JSON.stringify(source)}): not supported; use the AgentHub importer (agenthub import agentos-sqlite)`);
  }

  /**
   * Not supported: AgentOS's export formats are its SQLite file and dumps of it. AgentHub's memories are read with
   * its API (`GET /api/v1/memories`) and backed up by AgentHub. Always throws.
   */
  async export(outputPath: string): Promise<void> {
    throw new Error(`AgentHubMemoryBackend.export(${JSON.stringify(outputPath)}): not supported; read memories with AgentHub's API`);
  }

  /**
   * A memory of this brain stored before with the same content, type, scope and scopeId, if any — AgentOS's
   * `_findExistingTraceByHash`: the hash in `content_hash` or `import_hash`, `ifnull(scopeId, '')` equal to scopeId.
   * Containment cannot say "or" nor "missing", so it is one search per hash key (in parallel); for scopeId '' (where
   * a memory without one counts) the scopeId is checked on the hits of the same content, type and scope — the first
   * 100 of them, so a duplicate is missed only behind 100 copies of the content under other scopeIds.
   */
  private async findDuplicate(embedding: number[], type: string, scope: string, scopeId: string, contentHash: string): Promise<HubMemory | undefined> {
    const search = async (hashKey: 'content_hash' | 'import_hash') => {
      const { data } = await this.client.POST('/api/v1/memories/search', {
        body: {
          mode: 'vector',
          embedding,
          k: scopeId ? 1 : MAX_K,
          filter: { kind: type, metadata: { source: { brainId: this.options.brainId }, agentos: { scope, metadata: { [hashKey]: contentHash, ...(scopeId ? { scopeId } : {}) } } } },
        },
      });
      return data!.data.find((hit) => ((recordOf(hit).metadata?.['scopeId'] as unknown) ?? '') === scopeId);
    };
    const [byContent, byImport] = await Promise.all([search('content_hash'), search('import_hash')]);
    return byContent ?? byImport;
  }
}

/** Who a trace belongs to, as the AgentOS importer decides it (agentos-brain.ts `traceOwner`). */
function ownerOf(brainId: string, scope: string, scopeId: string): { agentName: string; userExternalId: string | null } {
  const id = scopeId.trim();
  if (scope === 'user' && id) return { agentName: brainId, userExternalId: id };
  if (scope === 'persona' && id.includes('::')) {
    const at = id.indexOf('::');
    const [user, persona] = [id.slice(0, at).trim(), id.slice(at + 2).trim()];
    return { agentName: persona || brainId, userExternalId: user || null };
  }
  return { agentName: brainId, userExternalId: null };
}

function recordOf(memory: { metadata: Record<string, unknown> }): TraceRecord {
  const record = memory.metadata['agentos'];
  return record && typeof record === 'object' && !Array.isArray(record) ? (record as TraceRecord) : {};
}

/** An AgentHub memory as the MemoryTrace AgentOS's facade builds from its row (`Memory._buildTrace`). */
export function toTrace(memory: Omit<HubMemory, 'embedding'>): MemoryTrace {
  const record = recordOf(memory);
  const metadata = record.metadata ?? {};
  const decay = (metadata['decay'] ?? {}) as Record<string, unknown>;
  const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
  const createdAt = Date.parse(memory.createdAt);
  const retrievalCount = num(record.retrievalCount) ?? 0;
  const lastAccessed = typeof record.lastAccessed === 'string' ? Date.parse(record.lastAccessed) : num(record.lastAccessed);
  const nextReinforcementAt = num(decay['nextReinforcementAt']);
  return {
    id: memory.id,
    type: memory.kind as MemoryType,
    scope: (record.scope ?? 'user') as MemoryScope,
    scopeId: typeof metadata['scopeId'] === 'string' ? metadata['scopeId'] : '',
    content: memory.content,
    entities: Array.isArray(metadata['entities']) ? (metadata['entities'] as string[]) : [],
    tags: Array.isArray(record.tags) ? record.tags : [],
    provenance: { sourceType: 'user_statement', sourceTimestamp: createdAt, confidence: 1.0, verificationCount: 0 },
    emotionalContext: { valence: 0, arousal: 0, dominance: 0, intensity: 0, gmiMood: 'neutral', ...record.emotions },
    encodingStrength: num(record.strength) ?? memory.importance,
    stability: num(decay['stability']) ?? DEFAULT_STABILITY_MS,
    retrievalCount,
    lastAccessedAt: lastAccessed !== undefined && Number.isFinite(lastAccessed) ? lastAccessed : createdAt,
    accessCount: num(decay['accessCount']) ?? retrievalCount,
    reinforcementInterval: num(decay['reinforcementInterval']) ?? DEFAULT_REINFORCEMENT_INTERVAL_MS,
    ...(nextReinforcementAt !== undefined ? { nextReinforcementAt } : {}),
    associatedTraceIds: [],
    createdAt,
    updatedAt: Date.parse(memory.updatedAt),
    isActive: true,
  };
}

