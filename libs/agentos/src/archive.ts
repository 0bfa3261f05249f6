// The archive's types are not re-exported by the package root; their declaration file is (node10 resolution).
import type { ArchiveListEntry, ArchiveWriteResult, ArchivedTrace, IMemoryArchive, RehydratedTrace } from '@framers/agentos/dist/cognition/memory/archive/index';
import { AgentHubDirectory, isStatus, clientOf, paginate, type AgentHubClient, type AgentHubConnection, type components } from '@agenthub/client';
import { sha256 } from './sha256';

type HubDocument = components['schemas']['DocumentDto_Output'];

export interface AgentHubMemoryArchiveOptions {
  /**
   * The brain whose archive this is (SqlStorageMemoryArchive's `brainId`: `brain.brainId`, or a stable id per
   * archived dataset). Every read and write is scoped to it within the organization, as AgentOS scopes its rows.
   */
  brainId: string;
}

/** What the document keeps of the archived trace besides its title (trace id) and content (verbatim content). */
export interface ArchiveRecord extends Omit<ArchivedTrace, 'traceId' | 'verbatimContent'> {
  brainId: string;
  /** UTF-8 bytes of the verbatim content, as SqlStorageMemoryArchive counts them */
  byteSize: number;
}

/** The last rehydration of an archived trace (SqlStorageMemoryArchive's newest `archive_access_log` row). */
export interface ArchiveAccess {
  lastAccessedAt: number;
  requestContext: string | null;
}

/** `metadata.kind` of an archive document, as the AgentOS importer writes it too. */
export const ARCHIVE_DOCUMENT_KIND = 'agentos_archive';
const PAGE = 200;

/**
 * AgentOS's memory archive (`IMemoryArchive`: cold storage of verbatim trace content, written ahead of consolidation)
 * in AgentHub's documents, over its HTTP API. Behaves as AgentOS's own SqlStorageMemoryArchive does (the paired tests
 * run both), in every process that uses the same organization and brain:
 *
 * - an archived trace is a document: title = the trace id, content = the verbatim content, agent = the AgentHub
 *   agent named like the trace's `agentId` (created when missing), `metadata.agentosArchive` = every other field of
 *   the trace as AgentOS gave it, plus `brainId` and `byteSize` (the shape the AgentOS importer gives an imported
 *   `archived_traces` row, so an imported brain and a live one are read alike); no chunks, no embedding: the archive
 *   is not a retrieval path;
 * - `store` is idempotent on the trace id (a second store is a no-op, whatever its content, as in AgentOS); the
 *   content hash is checked on `rehydrate`, which answers null when the content does not match it;
 * - the access log is the document's `metadata.agentosArchiveAccess` (see `rehydrate`).
 *
 * Where the mapping is not one-to-one:
 * - a trace id must be a valid document title (1 to 1000 characters, no surrounding whitespace): `store` refuses
 *   another one (`success: false`), and `rehydrate` / `drop` / `lastAccessedAt` treat it as not archived;
 * - a failed write (API unreachable, refused) is `{ success: false, error }` rather than a thrown error, so the
 *   write-ahead caller (TemporalGist) skips that trace and retries it next cycle instead of aborting the cycle;
 * - only the last rehydration is kept (time and request context), not one row per rehydration: the audit log's
 *   `document.update` entries hold the history;
 * - `list` reads the brain's archive documents page by page (the documents API has no metadata filter); with
 *   `agentId` only that agent's documents. It is a retention-sweep path, not a hot one.
 */
export class AgentHubMemoryArchive implements IMemoryArchive {
  readonly client: AgentHubClient;
  private readonly directory: AgentHubDirectory;
  private readonly brainId: string;

  constructor(connection: AgentHubConnection, options: AgentHubMemoryArchiveOptions) {
    this.client = clientOf(connection);
    // The same key prefix and agent metadata as AgentHubStorageAdapter: both map an AgentOS agentId to one agent.
    this.directory = new AgentHubDirectory(this.client, 'agentos-agent');
    this.brainId = options.brainId;
  }

  /**
   * Nothing to create (AgentHub's schema is the API's); checks once that the API answers and the key may read
   * documents, so a wrong address or key fails at setup as a missing table would. Idempotent.
   */
  async initialize(): Promise<void> {
    await this.client.GET('/api/v1/documents', { params: { query: { limit: 1 } } });
  }

  /**
   * Stores the trace as a document unless its id is archived already (then `bytesWritten: 0`, as in AgentOS,
   * even when the content differs: the first write wins).
   *
   * Two processes storing the same trace at once: the create carries the Idempotency-Key
   * `agentos-archive:sha256(brain, trace id, content hash)`, so the second waits for the first and gets its answer
   * back (same request) or a 409 (same trace, e.g. another `archivedAt`); both mean "already archived", and it
   * reports `bytesWritten: 0`. One document either way. A key outlives the document: when the replayed document has
   * been dropped since, the trace is stored again under a key derived from the dropped document's id, which two
   * processes re-archiving at once derive alike.
   */
  async store(trace: ArchivedTrace): Promise<ArchiveWriteResult> {
    const { traceId } = trace;
    try {
      if (!isTitle(traceId)) throw new Error(`trace id ${JSON.stringify(traceId.slice(0, 80))} cannot be an AgentHub document title (1..1000 characters, no surrounding whitespace)`);
      if (await this.find(traceId)) return { success: true, traceId, bytesWritten: 0 };
      const { verbatimContent } = trace;
      const byteSize = new TextEncoder().encode(verbatimContent).byteLength;
      // every field AgentOS gave (extra ones included) but the two the title and content hold
      const record = { brainId: this.brainId, ...trace, byteSize } as ArchiveRecord & Partial<ArchivedTrace>;
      delete record.traceId;
      delete record.verbatimContent;
      const agentName = asAgentName(trace.agentId);
      const agentId = agentName ? await this.directory.agentId(agentName, { metadata: { agentos: { agentId: trace.agentId } } }) : null;
      const body = {
        title: traceId,
        content: verbatimContent,
        agentId,
        metadata: { kind: ARCHIVE_DOCUMENT_KIND, source: { kind: 'agentos', brainId: this.brainId, traceId }, agentosArchive: record },
      };
      let key = `agentos-archive:${sha256(JSON.stringify([this.brainId, traceId, trace.contentHash]))}`;
      for (let generation = 0; generation < 10; generation++) {
        let created: { data?: HubDocument; response: Response };
        try {
          created = await this.client.POST('/api/v1/documents', { params: { header: { 'Idempotency-Key': key } }, body });
        } catch (e) {
          if (isStatus(e, 409) && (await this.find(traceId))) return { success: true, traceId, bytesWritten: 0 };
          throw e;
        }
        if (created.response.headers.get('idempotent-replayed') !== 'true') return { success: true, traceId, bytesWritten: byteSize };
        const document = created.data!;
        if (await this.exists(document.id)) return { success: true, traceId, bytesWritten: 0 };
        if (await this.find(traceId)) return { success: true, traceId, bytesWritten: 0 };
        key = `agentos-archive:${sha256(`${key}:${document.id}`)}`;
      }
      throw new Error(`trace ${traceId} was dropped and stored again too often while this store ran`);
    } catch (e) {
      return { success: false, traceId, bytesWritten: 0, error: e instanceof Error ? e.message : String(e) };
    }
  }

  /**
   * The verbatim content, or null when the trace is not archived or its content no longer matches its hash (no
   * access is recorded then, as in AgentOS).
   *
   * The access is recorded in the document's own metadata (`agentosArchiveAccess`), replaced by a PATCH: that is
   * where a second process looks for it (`lastAccessedAt`), it goes when the document is dropped (as AgentOS deletes
   * the trace's access-log rows), it needs no table the API does not have, and the audit log keeps each PATCH.
   * Two rehydrations at once both write; the later time wins (the PATCH has no If-Match, and keeping the newer of
   * the two times read is all `lastAccessedAt` needs).
   */
  async rehydrate(traceId: string, requestContext?: string): Promise<RehydratedTrace | null> {
    const document = await this.find(traceId);
    if (!document) return null;
    const record = recordOf(document)!;
    const verbatimContent = document.content ?? '';
    if (sha256(verbatimContent) !== record.contentHash) return null;
    const previous = accessOf(document)?.lastAccessedAt ?? 0;
    const access: ArchiveAccess = { lastAccessedAt: Math.max(previous, Date.now()), requestContext: requestContext ?? null };
    await this.client
      .PATCH('/api/v1/documents/{id}', { params: { path: { id: document.id } }, body: { metadata: { ...document.metadata, agentosArchiveAccess: access } } })
      .catch((e: unknown) => {
        // A viewer key reads the archive but may not write: the content is still given, the access not recorded.
        if (!isStatus(e, 403)) throw e;
      });
    return { traceId, verbatimContent, contentHash: record.contentHash, archivedAt: record.archivedAt, archiveReason: record.archiveReason };
  }

  /** Deletes the trace's document (and with it its access record); no-op when it is not archived. */
  async drop(traceId: string): Promise<void> {
    for (const document of await this.findAll(traceId)) {
      await this.client.DELETE('/api/v1/documents/{id}', { params: { path: { id: document.id } } }).catch((e: unknown) => {
        if (!isStatus(e, 404)) throw e;
      });
    }
  }

  /**
   * The brain's archived traces, oldest `archivedAt` first (ties in the order they were stored), filtered as
   * AgentOS filters them: `agentId` exactly, `olderThanMs` as `archivedAt < now - olderThanMs`, at most `limit`;
   * a 0 or empty option is no filter, a negative limit none either (SQLite's `LIMIT -1`).
   */
  async list(options?: { agentId?: string; olderThanMs?: number; limit?: number }): Promise<ArchiveListEntry[]> {
    let hubAgentId: string | undefined;
    if (options?.agentId) {
      const name = asAgentName(options.agentId);
      if (name) {
        hubAgentId = await this.directory.agentId(name);
        if (!hubAgentId) return [];
      }
    }
    const cutoff = options?.olderThanMs ? Date.now() - options.olderThanMs : undefined;
    const found: Array<{ entry: ArchiveListEntry; createdAt: string; id: string }> = [];
    const documents = paginate((cursor) => this.client.GET('/api/v1/documents', { params: { query: { limit: PAGE, cursor, ...(hubAgentId ? { agentId: hubAgentId } : {}) } } }));
    for await (const document of documents) {
      const record = recordOf(document);
      if (!record || record.brainId !== this.brainId) continue;
      if (options?.agentId && record.agentId !== options.agentId) continue;
      if (cutoff !== undefined && !(record.archivedAt < cutoff)) continue;
      found.push({
        entry: { traceId: document.title, agentId: record.agentId, archivedAt: record.archivedAt, archiveReason: record.archiveReason, byteSize: record.byteSize },
        createdAt: document.createdAt,
        id: document.id,
      });
    }
    found.sort((a, b) => a.entry.archivedAt - b.entry.archivedAt || a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
    const entries = found.map((f) => f.entry);
    return options?.limit && options.limit > 0 ? entries.slice(0, options.limit) : entries;
  }

  /** When the trace was last rehydrated (by any process), or null if never or not archived. */
  async lastAccessedAt(traceId: string): Promise<number | null> {
    const document = await this.find(traceId);
    return (document && accessOf(document)?.lastAccessedAt) ?? null;
  }

  /** The trace's document: the first stored, should a race after a drop have stored two. */
  private async find(traceId: string): Promise<HubDocument | undefined> {
    return (await this.findAll(traceId))[0];
  }

  /** This brain's documents of the trace, oldest first (the title index makes this one small query). */
  private async findAll(traceId: string): Promise<HubDocument[]> {
    if (!isTitle(traceId)) return [];
    const found: HubDocument[] = [];
    const documents = paginate((cursor) => this.client.GET('/api/v1/documents', { params: { query: { title: traceId, limit: PAGE, cursor } } }));
    for await (const document of documents) if (document.title === traceId && recordOf(document)?.brainId === this.brainId) found.push(document);
    return found.reverse();
  }

  private async exists(id: string): Promise<boolean> {
    try {
      await this.client.GET('/api/v1/documents/{id}', { params: { path: { id } } });
      return true;
    } catch (e) {
      if (isStatus(e, 404)) return false;
      throw e;
    }
  }
}

/** `metadata.agentosArchive` of an archive document, or undefined for any other document. */
export function recordOf(document: { metadata: Record<string, unknown> }): ArchiveRecord | undefined {
  const record = document.metadata['agentosArchive'];
  return record && typeof record === 'object' && !Array.isArray(record) ? (record as ArchiveRecord) : undefined;
}

function accessOf(document: { metadata: Record<string, unknown> }): ArchiveAccess | undefined {
  const access = document.metadata['agentosArchiveAccess'];
  return access && typeof access === 'object' && typeof (access as ArchiveAccess).lastAccessedAt === 'number' ? (access as ArchiveAccess) : undefined;
}

/** The API trims titles and agent names and takes 1 to 1000 characters. */
function isTitle(value: string): boolean {
  return value.length >= 1 && value.length <= 1000 && value.trim() === value;
}

function asAgentName(agentId: string | undefined): string | undefined {
  const name = agentId?.trim();
  return name && name.length <= 1000 ? name : undefined;
}

