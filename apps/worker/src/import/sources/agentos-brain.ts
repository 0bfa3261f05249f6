import path from 'node:path';
import type { DatabaseSync, SQLInputValue } from 'node:sqlite';
import type { DocumentRecord, ImportBatch, Json, JsonObject, MemoryRecord, Warning } from '../import.types';
import { cleanJson, cleanText, fromEpochMs, fromTimeText, intOrNull, nonEmpty, parseJsonText, warner, yieldToEventLoop } from '../mapping';
import { addRead, emptyBatch } from './import-source';

/**
 * AgentOS cognitive memory (`Brain.openSqlite`, `@framers/agentos` 0.9): `memory_traces` become AgentHub memories,
 * `archived_traces` (SqlStorageMemoryArchive's cold store of verbatim content) become documents. A brain file holds
 * one agent's brain (v2 scopes its rows by `brain_id`; v1 files have no such column and AgentOS names the brain
 * after the file, as `deriveBrainIdFromPath` does).
 */

/** A time AgentOS stored: epoch ms (INTEGER, or its digits as text), or ISO text. */
export function fromAgentosTime(value: unknown): Date | null {
  if (typeof value === 'string' && !/^-?\d+$/.test(value.trim())) return fromTimeText(value);
  return fromEpochMs(typeof value === 'string' ? value.trim() : value);
}

/** The brain id AgentOS derives from a file path when none is stored (`brain.sqlite` → `brain`). */
export function brainIdOfFile(file: string): string {
  const base = path.basename(file);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** JSON text kept parsed, or raw with a warning under `<key>Raw` (the row is still imported). */
export function putJson(target: JsonObject, key: string, text: unknown, warn: (reason: string) => void): void {
  if (typeof text !== 'string') return;
  const parsed = parseJsonText(text);
  if (parsed?.ok) target[key] = parsed.value;
  else if (parsed) {
    target[`${key}Raw`] = parsed.raw;
    warn(`${key} is not valid JSON (${parsed.error}); kept as text in ${key}Raw`);
  }
}

const num = (v: unknown): number | null => {
  const n = typeof v === 'bigint' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : null;
};

interface TraceRow {
  brain: string;
  id: string;
  type: string | null;
  scope: string | null;
  content: string | null;
  embedding: Uint8Array | string | null;
  strength: unknown;
  created_at: unknown;
  last_accessed: unknown;
  retrieval_count: unknown;
  tags: string | null;
  emotions: string | null;
  metadata: string | null;
  deleted: unknown;
}

interface ArchivedRow {
  brain: string;
  trace_id: string;
  agent_id: string | null;
  verbatim_content: string | null;
  content_hash: string | null;
  trace_type: string | null;
  emotional_context: string | null;
  entities: string | null;
  tags: string | null;
  created_at: unknown;
  archived_at: unknown;
  archive_reason: string | null;
  byte_size: unknown;
}

/** Who a trace belongs to: `user` scope → user; `persona` scope (`<user>::<persona>`) → user and persona; else the brain. */
export function traceOwner(brain: string, scope: string | null, scopeId: unknown): { agentName: string; userExternalId: string | null } {
  const id = typeof scopeId === 'string' ? cleanText(scopeId) : '';
  if (scope === 'user' && nonEmpty(id)) return { agentName: cleanText(brain), userExternalId: id };
  if (scope === 'persona' && id.includes('::')) {
    const [user, persona] = [id.slice(0, id.indexOf('::')), id.slice(id.indexOf('::') + 2)];
    return { agentName: nonEmpty(persona) ? persona : cleanText(brain), userExternalId: nonEmpty(user) ? user : null };
  }
  return { agentName: cleanText(brain), userExternalId: null };
}

/** An embedding as AgentOS stores it: Float32 little-endian BLOB (NodeBlobCodec), or a JSON array in text. */
export function decodeEmbedding(value: Uint8Array | string | null, dimensions: number): number[] | string {
  if (value === null) return 'it has no embedding (AgentOS had not embedded it); AgentHub memories need one';
  let vector: number[];
  if (typeof value === 'string') {
    const parsed = parseJsonText(value);
    if (!parsed?.ok || !Array.isArray(parsed.value)) return 'its embedding is text that is not a JSON array of numbers';
    vector = parsed.value as number[];
  } else {
    if (value.byteLength % 4 !== 0) return `its embedding BLOB has ${value.byteLength} bytes, not a whole number of float32 values`;
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    vector = Array.from({ length: value.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true));
  }
  if (vector.length !== dimensions) return `its embedding has ${vector.length} dimensions, the target's memories ${dimensions}`;
  if (!vector.every((x) => typeof x === 'number' && Number.isFinite(x))) return 'its embedding holds values that are not finite numbers';
  if (!vector.some((x) => x !== 0)) return 'its embedding is all zeros (no direction to search by)';
  return vector;
}

export class AgentosBrainReader {
  constructor(
    private readonly db: DatabaseSync,
    /** brain of v1 files (no brain_id column) */
    private readonly fileBrain: string,
    private readonly embeddingDimensions: number,
    readonly hasTraces: boolean,
    readonly hasArchive: boolean,
    private readonly traceColumns: Set<string>,
    private readonly archiveColumns: Set<string>,
  ) {}

  static open(db: DatabaseSync, file: string, tables: Set<string>, embeddingDimensions: number): AgentosBrainReader {
    const columns = (t: string) => (tables.has(t) ? new Set((db.prepare(`PRAGMA table_info("${t}")`).all() as Array<{ name: string }>).map((c) => c.name)) : new Set<string>());
    return new AgentosBrainReader(db, brainIdOfFile(file), embeddingDimensions, tables.has('memory_traces'), tables.has('archived_traces'), columns('memory_traces'), columns('archived_traces'));
  }

  private brainExpr(columns: Set<string>): string {
    return columns.has('brain_id') ? 'brain_id' : `'${this.fileBrain.replace(/'/g, "''")}'`;
  }

  count(): number {
    let n = 0;
    if (this.hasTraces) n += Number((this.db.prepare('SELECT count(*) AS n FROM memory_traces').get() as { n: number }).n);
    if (this.hasArchive) n += Number((this.db.prepare('SELECT count(*) AS n FROM archived_traces').get() as { n: number }).n);
    return n;
  }

  /** Agents (brains, personas, archive agents) and users (user/persona scopes) the memories and documents refer to. */
  refs(): { agents: Set<string>; users: Set<string> } {
    const agents = new Set<string>();
    const users = new Set<string>();
    if (this.hasTraces) {
      const scopeId = this.traceColumns.has('metadata')
        ? `CASE WHEN json_valid(metadata) THEN json_extract(metadata, '$.scopeId') END`
        : 'NULL';
      for (const r of this.db.prepare(`SELECT DISTINCT ${this.brainExpr(this.traceColumns)} AS brain, scope, ${scopeId} AS scope_id FROM memory_traces`).all() as Array<{ brain: string; scope: string | null; scope_id: unknown }>) {
        const owner = traceOwner(r.brain, r.scope, r.scope_id);
        agents.add(owner.agentName);
        if (owner.userExternalId) users.add(owner.userExternalId);
      }
    }
    if (this.hasArchive) {
      for (const r of this.db.prepare(`SELECT DISTINCT agent_id AS a FROM archived_traces`).all() as Array<{ a: string | null }>) if (nonEmpty(r.a)) agents.add(cleanText(r.a));
    }
    return { agents, users };
  }

  /** Traces, then archived traces, in (brain, id) order; the checkpoint is the last (brain, id) of its section. */
  async *batches(from: { section: string; after: Json } | null, batchSize: number): AsyncGenerator<ImportBatch> {
    if (this.hasTraces && (!from || from.section === 'memories')) {
      yield* this.section('memories', 'memory_traces', 'id', this.traceColumns, from?.section === 'memories' ? from.after : null, batchSize, (b, r) => this.addTrace(b, r as unknown as TraceRow));
    }
    if (this.hasArchive) {
      const after = from?.section === 'archive' ? from.after : null;
      yield* this.section('archive', 'archived_traces', 'trace_id', this.archiveColumns, after, batchSize, (b, r) => this.addArchived(b, r as unknown as ArchivedRow));
    }
  }

  private async *section(
    section: string,
    table: string,
    idColumn: string,
    columns: Set<string>,
    after: Json,
    batchSize: number,
    add: (batch: ImportBatch, row: Record<string, unknown>) => void,
  ): AsyncGenerator<ImportBatch> {
    const brain = this.brainExpr(columns);
    const resume = Array.isArray(after) && after.length === 2;
    const statement = this.db.prepare(`SELECT ${brain} AS brain, * FROM ${table} ${resume ? `WHERE (${brain}, ${idColumn}) > (?, ?)` : ''} ORDER BY 1, ${idColumn}`);
    statement.setReadBigInts(true);
    let batch = emptyBatch({ section, after: resume ? after : null });
    let n = 0;
    for (const row of statement.iterate(...((resume ? after : []) as SQLInputValue[])) as IterableIterator<Record<string, unknown>>) {
      add(batch, row);
      batch.units++;
      batch.checkpoint = { section, after: [row['brain'] as string, row[idColumn] as string] };
      if (batch.units >= batchSize) {
        yield batch;
        batch = emptyBatch(batch.checkpoint);
      }
      if (++n % 500 === 0) await yieldToEventLoop();
    }
    if (batch.units) yield batch;
  }

  private addTrace(batch: ImportBatch, t: TraceRow): void {
    addRead(batch, 'memories');
    const sourceId = `agentos:${t.brain}:${t.id}`;
    const reject = (reason: string): void => void batch.rejections.push({ entity: 'memories', sourceId, reason });
    if (t.deleted !== null && Number(t.deleted) !== 0) return reject('deleted in AgentOS (deleted = 1); a tombstone is not imported');
    if (!nonEmpty(t.content)) return reject('it has no content');
    const createdAt = fromAgentosTime(t.created_at);
    if (!createdAt) return reject(`created_at ${String(t.created_at)} is not a time`);
    const embedding = decodeEmbedding(t.embedding, this.embeddingDimensions);
    if (typeof embedding === 'string') return reject(embedding);
    const warnings: Warning[] = batch.warnings;
    const warn = warner(warnings, 'memories', sourceId);
    const agentos: JsonObject = { scope: t.scope, strength: num(t.strength), retrievalCount: intOrNull(t.retrieval_count) };
    const lastAccessed = t.last_accessed === null ? null : fromAgentosTime(t.last_accessed);
    if (t.last_accessed !== null) agentos['lastAccessed'] = lastAccessed ? lastAccessed.toISOString() : cleanJson(t.last_accessed);
    putJson(agentos, 'tags', t.tags, warn);
    putJson(agentos, 'emotions', t.emotions, warn);
    putJson(agentos, 'metadata', t.metadata, warn);
    const scopeId = (agentos['metadata'] as JsonObject | undefined)?.['scopeId'];
    const owner = traceOwner(t.brain, t.scope, scopeId);
    let importance = num(t.strength) ?? 1;
    if (importance < 0 || importance > 1) {
      warn(`strength ${importance} is outside 0..1; importance clamped`);
      importance = Math.min(1, Math.max(0, importance));
    }
    batch.memories.push({
      sourceId,
      agentName: owner.agentName,
      userExternalId: owner.userExternalId,
      content: cleanText(t.content, () => warn('NUL characters removed from content')),
      embedding,
      importance,
      kind: nonEmpty(t.type) ? cleanText(t.type) : 'fact',
      metadata: cleanJson({ source: { kind: 'agentos-sqlite', brainId: t.brain, traceId: t.id }, agentos }) as JsonObject,
      createdAt,
    } satisfies MemoryRecord);
  }

  private addArchived(batch: ImportBatch, a: ArchivedRow): void {
    addRead(batch, 'documents');
    const sourceId = `agentos-archive:${a.brain}:${a.trace_id}`;
    const reject = (reason: string): void => void batch.rejections.push({ entity: 'documents', sourceId, reason });
    const createdAt = fromAgentosTime(a.created_at);
    if (!createdAt) return reject(`created_at ${String(a.created_at)} is not a time`);
    const warn = warner(batch.warnings, 'documents', sourceId);
    // The shape @agenthub/agentos writes for its own archive: title = trace id, the rest under agentosArchive.
    const archive: JsonObject = {
      brainId: a.brain,
      agentId: a.agent_id,
      contentHash: a.content_hash,
      traceType: a.trace_type,
      createdAt: num(a.created_at),
      archivedAt: num(a.archived_at),
      archiveReason: a.archive_reason,
      byteSize: num(a.byte_size),
    };
    putJson(archive, 'emotionalContext', a.emotional_context, warn);
    putJson(archive, 'entities', a.entities, warn);
    putJson(archive, 'tags', a.tags, warn);
    batch.documents.push({
      sourceId,
      agentName: nonEmpty(a.agent_id) ? cleanText(a.agent_id) : null,
      title: cleanText(a.trace_id),
      content: a.verbatim_content === null ? null : cleanText(a.verbatim_content, () => warn('NUL characters removed from verbatim_content')),
      metadata: cleanJson({ kind: 'agentos_archive', source: { kind: 'agentos-sqlite', brainId: a.brain, traceId: a.trace_id }, agentosArchive: archive }) as JsonObject,
      chunks: [],
      createdAt,
    } satisfies DocumentRecord);
  }
}
