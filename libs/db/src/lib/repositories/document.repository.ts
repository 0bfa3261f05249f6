import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { NotFoundError } from '../errors';
import { createdAtBefore, isUuid, pageSize, toPage, type Page } from '../pagination';
import { PrismaService, type Db } from '../prisma.service';
import { checkJson, checkText, invalid, throwIfProblems, type Problem } from '../validation';
import { LargeSearchMemo, rankedSearch, type Scored, type SearchTarget } from '../search/ranked-search';
import {
  assertExactSearchThreshold,
  DEFAULT_EXACT_SEARCH_THRESHOLD,
  filterId,
  filterMetadata,
  validateSearch,
  type SearchOptions,
} from '../search/search-options';
import { EMBEDDING_DIMENSIONS, mapInSlices, toEmbedding, VECTOR_DIMENSIONS, vectorText, type EmbeddingInput } from '../vector';

export const DOCUMENT_SELECT = {
  id: true,
  organizationId: true,
  agentId: true,
  title: true,
  content: true,
  metadata: true,
  createdAt: true,
  updatedAt: true,
} satisfies Prisma.DocumentSelect;
export type DocumentRow = Prisma.DocumentGetPayload<{ select: typeof DOCUMENT_SELECT }>;

/** A chunk as returned by reads: never its embedding (6 KB each). */
export const DOCUMENT_CHUNK_SELECT = {
  id: true,
  documentId: true,
  position: true,
  content: true,
  embeddingModel: true,
  createdAt: true,
} satisfies Prisma.DocumentChunkSelect;
export type DocumentChunkRow = Prisma.DocumentChunkGetPayload<{ select: typeof DOCUMENT_CHUNK_SELECT }>;

export type DocumentSummary = DocumentRow & { chunkCount: number };
export type DocumentDetail = DocumentSummary & { chunks?: DocumentChunkRow[] };
/** A matching chunk with the document it belongs to. */
export type DocumentChunkSearchResult = Scored<DocumentChunkRow & { documentTitle: string }>;

// Raw-SQL twin of DOCUMENT_CHUNK_SELECT (+ the document's title) for search; constant identifiers only.
const CHUNK_COLUMNS = Prisma.raw(
  [
    ...Object.entries({
      id: 'id',
      documentId: 'document_id',
      position: 'position',
      content: 'content',
      embeddingModel: 'embedding_model',
      createdAt: 'created_at',
    } satisfies Record<keyof typeof DOCUMENT_CHUNK_SELECT, string>).map(([field, column]) => `c."${column}" as "${field}"`),
    'd."title" as "documentTitle"',
  ].join(', '),
);

/** Chunks per INSERT: keeps one statement's parameter text (≈ 30 KB per embedding) reasonable. */
const CHUNK_INSERT_BATCH = 500;
export const MAX_DOCUMENT_CHUNKS = 10_000;

export interface DocumentChunkInput {
  content: string;
  /** optional: a chunk without one is found by text search only; numbers or base64 (see EmbeddingInput) */
  embedding?: EmbeddingInput | null;
  embeddingModel?: string | null;
}

export interface DocumentInput {
  title: string;
  content?: string | null;
  agentId?: string | null;
  metadata?: Prisma.InputJsonObject;
  /** stored at positions 0..n-1 in this order */
  chunks?: DocumentChunkInput[];
}

export interface DocumentSearchFilter {
  agentId?: string;
  documentId?: string;
  /** JSONB containment on the document's metadata */
  metadata?: Record<string, unknown>;
}

export interface DocumentRepositoryOptions {
  /** See MemoryRepositoryOptions. Default 10,000 chunks. */
  exactSearchThreshold?: number;
}
export const DOCUMENT_REPOSITORY_OPTIONS = Symbol('DOCUMENT_REPOSITORY_OPTIONS');

@Injectable()
export class DocumentRepository {
  private readonly exactSearchThreshold: number;
  /** Searches known to match more than exactSearchThreshold rows (skip the count for a few seconds). */
  private readonly largeSearches = new LargeSearchMemo();

  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Optional() @Inject(DOCUMENT_REPOSITORY_OPTIONS) options: DocumentRepositoryOptions = {},
    /** What every chunk's embedding must have (DbModule.forRoot({ embeddingDimensions })). */
    @Optional() @Inject(VECTOR_DIMENSIONS) private readonly dimensions: number = EMBEDDING_DIMENSIONS,
  ) {
    this.exactSearchThreshold = assertExactSearchThreshold(options.exactSearchThreshold ?? DEFAULT_EXACT_SEARCH_THRESHOLD);
  }

  /**
   * The document and its chunks in one transaction. Everything is validated before anything is written;
   * an unknown (or another organization's) agent is NotFoundError.
   */
  async create(organizationId: string, input: DocumentInput, db?: Db): Promise<DocumentSummary> {
    const chunks = await validateDocument(input, this.dimensions);
    return this.prisma.inTransaction(db, async (tx) => {
      if (input.agentId) {
        // documents.agent_id has a foreign key (migration 20261122010000), but it only proves the agent exists:
        // this check is what makes another organization's agent a NotFoundError, like a missing one.
        const agent = isUuid(input.agentId) && (await tx.agent.count({ where: { id: input.agentId, organizationId } }));
        if (!agent) throw new NotFoundError('agent', input.agentId);
      }
      const document = await tx.document.create({
        data: {
          organizationId,
          agentId: input.agentId ?? null,
          title: input.title,
          content: input.content ?? null,
          metadata: input.metadata ?? {},
        },
        select: DOCUMENT_SELECT,
      });
      for (let start = 0; start < chunks.length; start += CHUNK_INSERT_BATCH) {
        const batch = chunks.slice(start, start + CHUNK_INSERT_BATCH);
        await tx.$executeRaw`
          insert into document_chunks (id, organization_id, document_id, position, content, embedding, embedding_model, created_at)
          select r.id, ${organizationId}::uuid, ${document.id}::uuid, r.position, r.content, r.embedding::vector, r.embedding_model, now()
          from unnest(
            ${batch.map(() => randomUUID())}::uuid[], ${batch.map((_, i) => start + i)}::int[],
            ${batch.map((c) => c.content)}::text[], ${batch.map((c) => c.embedding)}::text[],
            ${batch.map((c) => c.embeddingModel)}::text[]
          ) as r(id, position, content, embedding, embedding_model)`;
      }
      return { ...document, chunkCount: chunks.length };
    });
  }

  /** With the chunk count; `includeChunks` adds the chunks in position order (without embeddings). */
  async findById(
    organizationId: string,
    id: string,
    options: { includeChunks?: boolean } = {},
    db: Db = this.prisma,
  ): Promise<DocumentDetail | null> {
    if (!isUuid(id)) return null;
    const row = await db.document.findFirst({
      where: { id, organizationId },
      select: {
        ...DOCUMENT_SELECT,
        _count: { select: { chunks: true } },
        ...(options.includeChunks && { chunks: { select: DOCUMENT_CHUNK_SELECT, orderBy: { position: 'asc' as const } } }),
      },
    });
    if (!row) return null;
    const { _count, ...document } = row;
    return { ...document, chunkCount: _count.chunks };
  }

  /** Changes the title and/or replaces the metadata; null when not found. The chunks stay as they are. */
  async update(
    organizationId: string,
    id: string,
    patch: { title?: string; metadata?: Prisma.InputJsonObject },
    db: Db = this.prisma,
  ): Promise<DocumentDetail | null> {
    if (!isUuid(id)) return null;
    const problems: Problem[] = [];
    checkJson(patch.metadata, 'metadata', problems);
    throwIfProblems(problems, 'invalid document');
    const { count } = await db.document.updateMany({ where: { id, organizationId }, data: { title: patch.title, metadata: patch.metadata } });
    return count === 1 ? this.findById(organizationId, id, {}, db) : null;
  }

  /** false when not found; the chunks go with the document (ON DELETE CASCADE). */
  async delete(organizationId: string, id: string, db: Db = this.prisma): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { count } = await db.document.deleteMany({ where: { id, organizationId } });
    return count === 1;
  }

  /** Newest first; the cursor is (createdAt, id) of the last row. */
  async listPage(
    organizationId: string,
    options: { agentId?: string; title?: string; limit?: number; cursor?: string | null } = {},
    db: Db = this.prisma,
  ): Promise<Page<DocumentSummary>> {
    const limit = pageSize(options.limit);
    const agentId = filterId(options.agentId, 'agentId');
    if (options.title !== undefined) {
      const problems: Problem[] = [];
      checkText(options.title, 'title', problems);
      throwIfProblems(problems, 'invalid title');
    }
    const rows = await db.document.findMany({
      where: {
        organizationId,
        ...(agentId && { agentId }),
        ...(options.title !== undefined && { title: options.title }),
        ...createdAtBefore(options.cursor),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      select: { ...DOCUMENT_SELECT, _count: { select: { chunks: true } } },
    });
    const withCounts = rows.map(({ _count, ...document }) => ({ ...document, chunkCount: _count.chunks }));
    return toPage(withCounts, limit, (d) => d.createdAt.toISOString());
  }

  /**
   * Search over the organization's chunks, same options and semantics as MemoryRepository.search; each result
   * is a chunk with its document's id and title.
   */
  async search(
    organizationId: string,
    options: SearchOptions<DocumentSearchFilter>,
    db: Db = this.prisma,
  ): Promise<DocumentChunkSearchResult[]> {
    const search = validateSearch(options, this.dimensions);
    const filter = options.filter ?? {};
    const agentId = filterId(filter.agentId, 'filter.agentId');
    const documentId = filterId(filter.documentId, 'filter.documentId');
    const metadata = filterMetadata(filter.metadata, 'filter.metadata');
    const conditions = [
      Prisma.sql`c.organization_id = ${organizationId}::uuid`,
      Prisma.sql`d.organization_id = ${organizationId}::uuid`,
    ];
    if (agentId) conditions.push(Prisma.sql`d.agent_id = ${agentId}::uuid`);
    if (documentId) conditions.push(Prisma.sql`c.document_id = ${documentId}::uuid`);
    if (metadata) conditions.push(Prisma.sql`d.metadata @> ${metadata}::jsonb`);
    const target: SearchTarget = {
      from: Prisma.sql`document_chunks c join documents d on d.id = c.document_id`,
      where: Prisma.join(conditions, ' and '),
      columns: CHUNK_COLUMNS,
      embedding: Prisma.sql`c.embedding`,
      searchVector: Prisma.sql`c.search_vector`,
    };
    return rankedSearch<DocumentChunkRow & { documentTitle: string }>((sql) => this.prisma.queryRows(db, sql, { prepare: true }), target, search, this.exactSearchThreshold, this.largeSearches);
  }
}

interface ValidChunk {
  content: string;
  /** pgvector text form */
  embedding: string | null;
  embeddingModel: string | null;
}

/** The chunks are checked and their embeddings formatted in slices that let other requests run in between. */
async function validateDocument(input: DocumentInput, dimensions: number): Promise<ValidChunk[]> {
  if (!input || typeof input !== 'object') throw invalid('document', 'must be an object');
  if (typeof input.title !== 'string' || input.title.trim().length === 0) throw invalid('title', 'must be a non-empty string');
  if (input.content !== undefined && input.content !== null && typeof input.content !== 'string') {
    throw invalid('content', 'must be a string');
  }
  if (input.metadata !== undefined && (input.metadata === null || typeof input.metadata !== 'object' || Array.isArray(input.metadata))) {
    throw invalid('metadata', 'must be an object');
  }
  const chunks = input.chunks ?? [];
  if (!Array.isArray(chunks) || chunks.length > MAX_DOCUMENT_CHUNKS) {
    throw invalid('chunks', `must be an array of at most ${MAX_DOCUMENT_CHUNKS} items`);
  }
  // Text and JSON PostgreSQL would refuse (NUL characters, chunk text too long for its generated tsvector, NUL
  // in metadata) is an InvalidInputError before the transaction starts, never a raw SQL error.
  const problems: Problem[] = [];
  checkText(input.title, 'title', problems);
  // documents.content has no tsvector: only what text cannot hold at all is refused.
  checkText(input.content, 'content', problems, Number.MAX_SAFE_INTEGER);
  checkJson(input.metadata, 'metadata', problems);
  const valid = await mapInSlices(chunks, (chunk, i) => {
    if (!chunk || typeof chunk.content !== 'string' || chunk.content.length === 0) {
      throw invalid(`chunks.${i}.content`, 'must be a non-empty string');
    }
    const hasEmbedding = chunk.embedding !== undefined && chunk.embedding !== null;
    const embedding = hasEmbedding ? toEmbedding(chunk.embedding, `chunks.${i}.embedding`, dimensions) : null;
    if (chunk.embeddingModel !== undefined && chunk.embeddingModel !== null && typeof chunk.embeddingModel !== 'string') {
      throw invalid(`chunks.${i}.embeddingModel`, 'must be a string');
    }
    checkText(chunk.content, `chunks.${i}.content`, problems);
    checkText(chunk.embeddingModel, `chunks.${i}.embeddingModel`, problems);
    return {
      content: chunk.content,
      embedding: embedding ? vectorText(embedding) : null,
      embeddingModel: chunk.embeddingModel ?? null,
    };
  });
  throwIfProblems(problems, 'invalid document');
  return valid;
}
