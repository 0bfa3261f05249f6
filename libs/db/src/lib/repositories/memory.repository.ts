import { randomUUID } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { InvalidInputError, NotFoundError, isForeignKeyViolation } from '../errors';
import { cursorDate, decodeCursor, isUuid, pageSize, toPage, type Page } from '../pagination';
import { PrismaService, type Db } from '../prisma.service';
import { checkJson, checkText, invalid, throwIfProblems, type Problem } from '../validation';
import { ownedReferences, type ReferenceKind } from '../references';
import { LargeSearchMemo, rankedSearch, type Scored, type SearchTarget } from '../search/ranked-search';
import {
  assertExactSearchThreshold,
  DEFAULT_EXACT_SEARCH_THRESHOLD,
  filterId,
  filterMetadata,
  validateSearch,
  type SearchOptions,
} from '../search/search-options';
import { EMBEDDING_DIMENSIONS, mapInSlices, parseVector, toEmbedding, VECTOR_DIMENSIONS, vectorParam, vectorText, type EmbeddingInput } from '../vector';

export const MEMORY_SELECT = {
  id: true,
  organizationId: true,
  agentId: true,
  userId: true,
  conversationId: true,
  content: true,
  embeddingModel: true,
  importance: true,
  kind: true,
  metadata: true,
  expiresAt: true,
  createdAt: true,
  updatedAt: true,
} satisfies Prisma.MemorySelect;
/** A memory without its embedding (lists, search results, batch creation). */
export type MemoryRow = Prisma.MemoryGetPayload<{ select: typeof MEMORY_SELECT }>;
/** A memory with its embedding as stored (float4, so values are rounded to single precision). */
export type Memory = MemoryRow & { embedding: number[] };
export type MemorySearchResult = Scored<MemoryRow>;

/** The raw-SQL twin of MEMORY_SELECT: `embedding` is Unsupported in Prisma, so every read here is raw SQL. */
const MEMORY_COLUMNS = {
  id: 'id',
  organizationId: 'organization_id',
  agentId: 'agent_id',
  userId: 'user_id',
  conversationId: 'conversation_id',
  content: 'content',
  embeddingModel: 'embedding_model',
  importance: 'importance',
  kind: 'kind',
  metadata: 'metadata',
  expiresAt: 'expires_at',
  createdAt: 'created_at',
  updatedAt: 'updated_at',
} as const satisfies Record<keyof typeof MEMORY_SELECT, string>;

// Constant identifiers only; no input reaches Prisma.raw.
const columns = (alias: string) =>
  Prisma.raw(
    Object.entries(MEMORY_COLUMNS)
      .map(([field, column]) => `${alias}."${column}" as "${field}"`)
      .join(', '),
  );
const M = columns('m');
const M_WITH_EMBEDDING = Prisma.sql`${M}, m.embedding::text as "embedding"`;
/** Expired memories are gone for every read and write except purgeExpired. */
const VISIBLE = Prisma.sql`(m.expires_at is null or m.expires_at > now())`;

export const MAX_MEMORY_BATCH = 1000;

export interface MemoryInput {
  content: string;
  /** numbers, or base64 of little-endian float32 values (see EmbeddingInput) */
  embedding: EmbeddingInput;
  embeddingModel?: string | null;
  /** 0..1, default 0.5 */
  importance?: number;
  /** default 'fact' */
  kind?: string;
  agentId?: string | null;
  userId?: string | null;
  conversationId?: string | null;
  metadata?: Prisma.InputJsonObject;
  expiresAt?: Date | null;
}

export type MemoryPatch = Partial<MemoryInput>;

export interface MemorySearchFilter {
  agentId?: string;
  userId?: string;
  conversationId?: string;
  kind?: string;
  /** JSONB containment: rows whose metadata @> this object */
  metadata?: Record<string, unknown>;
}

export interface MemoryRepositoryOptions {
  /**
   * Vector searches over at most this many matching rows scan them all and are exact; when more rows match,
   * the HNSW index answers and the result is approximate (see SearchOptions). Default 10,000.
   */
  exactSearchThreshold?: number;
}
export const MEMORY_REPOSITORY_OPTIONS = Symbol('MEMORY_REPOSITORY_OPTIONS');

type RawMemory = MemoryRow & { embedding: string };
const withEmbedding = ({ embedding, ...row }: RawMemory): Memory => ({ ...row, embedding: parseVector(embedding)! });

@Injectable()
export class MemoryRepository {
  private readonly exactSearchThreshold: number;
  /** Searches known to match more than exactSearchThreshold rows (skip the count for a few seconds). */
  private readonly largeSearches = new LargeSearchMemo();

  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Optional() @Inject(MEMORY_REPOSITORY_OPTIONS) options: MemoryRepositoryOptions = {},
    /** What every embedding must have (DbModule.forRoot({ embeddingDimensions })). */
    @Optional() @Inject(VECTOR_DIMENSIONS) private readonly dimensions: number = EMBEDDING_DIMENSIONS,
  ) {
    this.exactSearchThreshold = assertExactSearchThreshold(options.exactSearchThreshold ?? DEFAULT_EXACT_SEARCH_THRESHOLD);
  }

  /** Unknown agent/user/conversation (or another organization's) is NotFoundError; nothing is written. */
  async create(organizationId: string, input: MemoryInput, db: Db = this.prisma): Promise<Memory> {
    const row = validateInput(input, '', this.dimensions);
    await this.assertReferences(organizationId, [row], db);
    const [created] = await this.insert(organizationId, [row], true, db);
    return withEmbedding(created as RawMemory);
  }

  /**
   * Up to 1000 memories in one INSERT (all or nothing), returned in input order without embeddings.
   * Validation errors name the item (`memories.3.embedding`). The inputs are checked and their embeddings
   * formatted in slices that let other requests run in between (mapInSlices).
   */
  async createMany(organizationId: string, inputs: MemoryInput[], db: Db = this.prisma): Promise<MemoryRow[]> {
    if (!Array.isArray(inputs) || inputs.length > MAX_MEMORY_BATCH) {
      throw new InvalidInputError(`at most ${MAX_MEMORY_BATCH} memories per batch`, [
        { path: 'memories', message: `must be an array of at most ${MAX_MEMORY_BATCH} items` },
      ]);
    }
    if (inputs.length === 0) return [];
    const rows = await mapInSlices(inputs, (input, i) => validateInput(input, `memories.${i}.`, this.dimensions));
    const statements = byStatementSize(rows);
    if (statements.length === 1) {
      await this.assertReferences(organizationId, rows, db);
      return this.insert(organizationId, rows, false, db);
    }
    return this.prisma.inTransaction(db, async (tx) => {
      await this.assertReferences(organizationId, rows, tx);
      const created: MemoryRow[] = [];
      for (const part of statements) created.push(...(await this.insert(organizationId, part, false, tx)));
      return created;
    });
  }

  async findById(organizationId: string, id: string, db: Db = this.prisma): Promise<Memory | null> {
    if (!isUuid(id)) return null;
    const [row] = await db.$queryRaw<RawMemory[]>`
      select ${M_WITH_EMBEDDING} from memories m
      where m.id = ${id}::uuid and m.organization_id = ${organizationId}::uuid and ${VISIBLE}`;
    return row ? withEmbedding(row) : null;
  }

  /** null when not found (or expired). Fields left undefined are kept; `null` clears a nullable one. */
  async update(organizationId: string, id: string, patch: MemoryPatch, db: Db = this.prisma): Promise<Memory | null> {
    const sets = validatePatch(patch, this.dimensions);
    if (!isUuid(id)) return null;
    await this.assertReferences(organizationId, [patch], db);
    sets.push(Prisma.sql`updated_at = now()`);
    const [row] = await db.$queryRaw<RawMemory[]>`
      update memories m set ${Prisma.join(sets, ', ')}
      where m.id = ${id}::uuid and m.organization_id = ${organizationId}::uuid and ${VISIBLE}
      returning ${M_WITH_EMBEDDING}`;
    return row ? withEmbedding(row) : null;
  }

  /** false when not found (or already expired). */
  async delete(organizationId: string, id: string, db: Db = this.prisma): Promise<boolean> {
    if (!isUuid(id)) return false;
    const count = await db.$executeRaw`
      delete from memories m where m.id = ${id}::uuid and m.organization_id = ${organizationId}::uuid and ${VISIBLE}`;
    return count === 1;
  }

  /** Newest first; the cursor is (createdAt, id) of the last row, so it stays valid while rows are added. */
  async listPage(
    organizationId: string,
    options: { agentId?: string; userId?: string; conversationId?: string; kind?: string; limit?: number; cursor?: string | null } = {},
    db: Db = this.prisma,
  ): Promise<Page<MemoryRow>> {
    const limit = pageSize(options.limit);
    const after = decodeCursor(options.cursor);
    const conditions = this.filterConditions(organizationId, options);
    if (after) conditions.push(Prisma.sql`(m.created_at, m.id) < (${cursorDate(after.sortValue)}::timestamptz, ${after.id}::uuid)`);
    const rows = await db.$queryRaw<MemoryRow[]>`
      select ${M} from memories m
      where ${Prisma.join(conditions, ' and ')}
      order by m.created_at desc, m.id desc
      limit ${limit + 1}`;
    return toPage(rows, limit, (r) => r.createdAt.toISOString());
  }

  /**
   * Semantic (`vector`), full-text (`text`) or `hybrid` search over the organization's unexpired memories,
   * best first; see SearchOptions and rankedSearch for the exact/ANN choice and the scores. Filter ids of
   * another organization match nothing, exactly like unknown ones.
   */
  async search(
    organizationId: string,
    options: SearchOptions<MemorySearchFilter>,
    db: Db = this.prisma,
  ): Promise<MemorySearchResult[]> {
    const search = validateSearch(options, this.dimensions);
    const filter = options.filter ?? {};
    const target: SearchTarget = {
      from: Prisma.sql`memories m`,
      where: Prisma.join(this.filterConditions(organizationId, filter, 'filter.'), ' and '),
      columns: M,
      embedding: Prisma.sql`m.embedding`,
      searchVector: Prisma.sql`m.search_vector`,
    };
    return rankedSearch<MemoryRow>((sql) => this.prisma.queryRows(db, sql, { prepare: true }), target, search, this.exactSearchThreshold, this.largeSearches);
  }

  /**
   * Retention (worker): deletes up to `limit` memories of every organization that expired at or before
   * `before` (default: the database's now). Returns how many; call again while it returns `limit`.
   */
  async purgeExpired(before?: Date, limit = 10_000, db: Db = this.prisma): Promise<number> {
    return db.$executeRaw`
      delete from memories where id in (
        select id from memories
        where expires_at <= coalesce(${before ?? null}::timestamptz, now())
        limit ${limit}
        for update skip locked)`;
  }

  private filterConditions(organizationId: string, filter: MemorySearchFilter, pathPrefix = ''): Prisma.Sql[] {
    const agentId = filterId(filter.agentId, `${pathPrefix}agentId`);
    const userId = filterId(filter.userId, `${pathPrefix}userId`);
    const conversationId = filterId(filter.conversationId, `${pathPrefix}conversationId`);
    const metadata = filterMetadata(filter.metadata, `${pathPrefix}metadata`);
    const conditions = [Prisma.sql`m.organization_id = ${organizationId}::uuid`, VISIBLE];
    if (agentId) conditions.push(Prisma.sql`m.agent_id = ${agentId}::uuid`);
    if (userId) conditions.push(Prisma.sql`m.user_id = ${userId}::uuid`);
    if (conversationId) conditions.push(Prisma.sql`m.conversation_id = ${conversationId}::uuid`);
    if (filter.kind !== undefined && filter.kind !== null) conditions.push(Prisma.sql`m.kind = ${filter.kind}::text`);
    if (metadata) conditions.push(Prisma.sql`m.metadata @> ${metadata}::jsonb`);
    return conditions;
  }

  /**
   * One query for every referenced agent, user and conversation: each must belong to the organization
   * (a deleted conversation counts as missing). Another organization's id is reported like a missing one.
   */
  private async assertReferences(
    organizationId: string,
    rows: Array<Pick<MemoryInput, 'agentId' | 'userId' | 'conversationId'>>,
    db: Db,
  ): Promise<void> {
    const wanted = {
      agent: unique(rows.map((r) => r.agentId)),
      user: unique(rows.map((r) => r.userId)),
      conversation: unique(rows.map((r) => r.conversationId)),
    };
    for (const [entity, ids] of Object.entries(wanted)) {
      const malformed = ids.find((id) => !isUuid(id));
      if (malformed !== undefined) throw new NotFoundError(entity, malformed);
    }
    const owned = await ownedReferences(db, organizationId, wanted, { liveConversationsOnly: true });
    for (const [entity, ids] of Object.entries(wanted) as Array<[ReferenceKind, string[]]>) {
      const missing = ids.find((id) => !owned(entity, id));
      if (missing !== undefined) throw new NotFoundError(entity, missing);
    }
  }

  /** One INSERT … SELECT FROM unnest(arrays): one statement (atomic) and 13 parameters whatever the batch size. */
  private async insert(organizationId: string, rows: ValidMemory[], returnEmbedding: boolean, db: Db): Promise<MemoryRow[]> {
    const ids = rows.map(() => randomUUID());
    const column = <K extends keyof ValidMemory>(key: K) => rows.map((r) => r[key]);
    try {
      const inserted = await this.prisma.queryRows<MemoryRow>(db, Prisma.sql`
        insert into memories as m (
          id, organization_id, agent_id, user_id, conversation_id, content, embedding, embedding_model,
          importance, kind, metadata, expires_at, created_at, updated_at)
        select r.id, ${organizationId}::uuid, r.agent_id, r.user_id, r.conversation_id, r.content, r.embedding::vector,
          r.embedding_model, r.importance, r.kind, r.metadata::jsonb, r.expires_at, now(), now()
        from unnest(
          ${ids}::uuid[], ${column('agentId')}::uuid[], ${column('userId')}::uuid[], ${column('conversationId')}::uuid[],
          ${column('content')}::text[], ${column('embedding')}::text[], ${column('embeddingModel')}::text[],
          ${column('importance')}::float8[], ${column('kind')}::text[], ${column('metadata')}::text[],
          ${column('expiresAt')}::timestamptz[]
        ) as r(id, agent_id, user_id, conversation_id, content, embedding, embedding_model, importance, kind, metadata, expires_at)
        returning ${returnEmbedding ? M_WITH_EMBEDDING : M}`, { prepare: true });
      const byId = new Map(inserted.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id)!);
    } catch (error) {
      // A referenced row deleted between the check and the insert.
      if (isForeignKeyViolation(error)) throw new NotFoundError('agent, user or conversation');
      throw error;
    }
  }
}

/**
 * Text of the values one INSERT takes before a batch is split into several (in one transaction). Measured reason:
 * the statement of 1,000 memories with 1536-dimension embeddings is ~22 MB, and turning the values into that text
 * (array literals, quoting) ran ~60–100 ms in one piece on the event loop, during which the process answered
 * nothing else; at 4 MiB a statement each piece is a fifth of that, for a round trip of ~1 ms each against the
 * seconds PostgreSQL spends putting 1,000 vectors into the HNSW index.
 */
const MAX_STATEMENT_TEXT = 4 * 1024 * 1024;

function byStatementSize(rows: ValidMemory[]): ValidMemory[][] {
  const statements: ValidMemory[][] = [[]];
  let size = 0;
  for (const row of rows) {
    const rowSize = row.embedding.length + row.content.length + row.metadata.length;
    if (size + rowSize > MAX_STATEMENT_TEXT && statements[statements.length - 1].length > 0) {
      statements.push([]);
      size = 0;
    }
    statements[statements.length - 1].push(row);
    size += rowSize;
  }
  return statements;
}

/** A validated input in the column representation the INSERT takes. */
interface ValidMemory {
  agentId: string | null;
  userId: string | null;
  conversationId: string | null;
  content: string;
  /** pgvector text form */
  embedding: string;
  embeddingModel: string | null;
  importance: number;
  kind: string;
  /** JSON text */
  metadata: string;
  /** ISO timestamp */
  expiresAt: string | null;
}

function validateInput(input: MemoryInput, path: string, dimensions: number): ValidMemory {
  if (!input || typeof input !== 'object') throw invalid(path.replace(/\.$/, '') || 'memory', 'must be an object');
  assertContent(input.content, `${path}content`);
  const embedding = toEmbedding(input.embedding, `${path}embedding`, dimensions);
  const row: ValidMemory = {
    agentId: input.agentId ?? null,
    userId: input.userId ?? null,
    conversationId: input.conversationId ?? null,
    content: input.content,
    embedding: vectorText(embedding),
    embeddingModel: optionalString(input.embeddingModel, `${path}embeddingModel`),
    importance: importance(input.importance ?? 0.5, `${path}importance`),
    kind: kind(input.kind ?? 'fact', `${path}kind`),
    metadata: metadataJson(input.metadata ?? {}, `${path}metadata`),
    expiresAt: expiresAt(input.expiresAt, `${path}expiresAt`),
  };
  assertStorable(input, path);
  return row;
}

/** The SET list of an update; only the fields present in the patch. */
function validatePatch(patch: MemoryPatch, dimensions: number): Prisma.Sql[] {
  if (!patch || typeof patch !== 'object') throw invalid('memory', 'must be an object');
  const sets: Prisma.Sql[] = [];
  if (patch.content !== undefined) {
    assertContent(patch.content, 'content');
    sets.push(Prisma.sql`content = ${patch.content}`);
  }
  if (patch.embedding !== undefined) {
    sets.push(Prisma.sql`embedding = ${vectorParam(toEmbedding(patch.embedding, 'embedding', dimensions))}`);
  }
  if (patch.embeddingModel !== undefined) {
    sets.push(Prisma.sql`embedding_model = ${optionalString(patch.embeddingModel, 'embeddingModel')}`);
  }
  if (patch.importance !== undefined) sets.push(Prisma.sql`importance = ${importance(patch.importance, 'importance')}`);
  if (patch.kind !== undefined) sets.push(Prisma.sql`kind = ${kind(patch.kind, 'kind')}`);
  if (patch.metadata !== undefined) sets.push(Prisma.sql`metadata = ${metadataJson(patch.metadata, 'metadata')}::jsonb`);
  if (patch.expiresAt !== undefined) sets.push(Prisma.sql`expires_at = ${expiresAt(patch.expiresAt, 'expiresAt')}::timestamptz`);
  if (patch.agentId !== undefined) sets.push(Prisma.sql`agent_id = ${patch.agentId}::uuid`);
  if (patch.userId !== undefined) sets.push(Prisma.sql`user_id = ${patch.userId}::uuid`);
  if (patch.conversationId !== undefined) sets.push(Prisma.sql`conversation_id = ${patch.conversationId}::uuid`);
  assertStorable(patch, '');
  return sets;
}

/**
 * Text and JSON PostgreSQL would refuse (NUL characters, text too long for the generated tsvector, NUL in a
 * metadata string or key) is an InvalidInputError before anything is written, never a raw SQL error.
 */
function assertStorable(input: MemoryPatch, path: string): void {
  const problems: Problem[] = [];
  checkText(input.content, `${path}content`, problems);
  checkText(input.kind, `${path}kind`, problems);
  checkText(input.embeddingModel, `${path}embeddingModel`, problems);
  checkJson(input.metadata, `${path}metadata`, problems);
  throwIfProblems(problems, 'invalid memory');
}

function assertContent(value: unknown, path: string): asserts value is string {
  if (typeof value !== 'string' || value.trim().length === 0) throw invalid(path, 'must be a non-empty string');
}

function optionalString(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw invalid(path, 'must be a string');
  return value;
}

function importance(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) throw invalid(path, 'must be a number from 0 to 1');
  return value;
}

function kind(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 100) throw invalid(path, 'must be a string of 1 to 100 characters');
  return value;
}

function metadataJson(value: unknown, path: string): string {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(path, 'must be an object');
  return JSON.stringify(value);
}

function expiresAt(value: unknown, path: string): string | null {
  if (value === undefined || value === null) return null;
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw invalid(path, 'must be a valid date');
  return value.toISOString();
}

function unique(values: Array<string | null | undefined>): string[] {
  return [...new Set(values.filter((v): v is string => v !== undefined && v !== null))];
}
