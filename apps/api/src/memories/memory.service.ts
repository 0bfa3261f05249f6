import { Injectable } from '@nestjs/common';
import { MemoryRepository, NotFoundError, type MemoryInput, type MemoryPatch, type Page, type Prisma } from '@agenthub/db';
import { AuditService } from '../common/audit/audit.service';
import { RequestContext } from '../common/tenancy/request-context';
import { EmbeddingDimensions } from '../embeddings/embedding-dimensions.service';
import type { EmbeddingFormat } from '../search/search.dto';
import {
  toMemoryHitView,
  toMemoryView,
  type CreateMemoryBody,
  type MemoryHitView,
  type MemorySearchBody,
  type MemoryView,
  type UpdateMemoryBody,
} from './memory.dto';

@Injectable()
export class MemoryService {
  constructor(
    private readonly memories: MemoryRepository,
    private readonly dimensions: EmbeddingDimensions,
    private readonly audit: AuditService,
    private readonly context: RequestContext,
  ) {}

  async create(body: CreateMemoryBody, embeddingFormat?: EmbeddingFormat): Promise<MemoryView> {
    this.dimensions.assert([['embedding', body.embedding]]);
    const row = await this.memories.create(this.context.organizationId, toInput(body), this.context.db);
    const view = toMemoryView(row, embeddingFormat);
    await this.audit.record('memory.create', 'memory', row.id, { after: withoutEmbedding(view) });
    return view;
  }

  /** All or nothing: one INSERT; the audit entry lists the new ids (embeddings stay out of the audit log). */
  async createMany(bodies: CreateMemoryBody[]): Promise<MemoryView[]> {
    this.dimensions.assert(bodies.map((b, i) => [`memories.${i}.embedding`, b.embedding]));
    const rows = await this.memories.createMany(this.context.organizationId, bodies.map(toInput), this.context.db);
    await this.audit.record('memory.create_batch', 'memory', null, { after: { count: rows.length, ids: rows.map((r) => r.id) } });
    return rows.map((row) => toMemoryView(row));
  }

  async get(id: string, embeddingFormat?: EmbeddingFormat): Promise<MemoryView> {
    const row = await this.memories.findById(this.context.organizationId, id, this.context.db);
    if (!row) throw new NotFoundError('memory', id);
    return toMemoryView(row, embeddingFormat);
  }

  async list(query: { agentId?: string; userId?: string; conversationId?: string; kind?: string; limit?: number; cursor?: string }): Promise<Page<MemoryView>> {
    const page = await this.memories.listPage(this.context.organizationId, query, this.context.db);
    return { data: page.data.map((row) => toMemoryView(row)), nextCursor: page.nextCursor };
  }

  async update(id: string, body: UpdateMemoryBody, embeddingFormat?: EmbeddingFormat): Promise<MemoryView> {
    this.dimensions.assert([['embedding', body.embedding]]);
    const before = await this.memories.findById(this.context.organizationId, id, this.context.db);
    if (!before) throw new NotFoundError('memory', id);
    const row = await this.memories.update(this.context.organizationId, id, toPatch(body), this.context.db);
    if (!row) throw new NotFoundError('memory', id);
    const view = toMemoryView(row, embeddingFormat);
    await this.audit.record('memory.update', 'memory', id, { before: withoutEmbedding(toMemoryView(before)), after: withoutEmbedding(view) });
    return view;
  }

  async delete(id: string): Promise<void> {
    const before = await this.memories.findById(this.context.organizationId, id, this.context.db);
    if (!before || !(await this.memories.delete(this.context.organizationId, id, this.context.db))) throw new NotFoundError('memory', id);
    await this.audit.record('memory.delete', 'memory', id, { before: withoutEmbedding(toMemoryView(before)) });
  }

  async search(body: MemorySearchBody): Promise<{ data: MemoryHitView[] }> {
    this.dimensions.assert([['embedding', body.embedding]]);
    const hits = await this.memories.search(this.context.organizationId, body, this.context.db);
    return { data: hits.map(toMemoryHitView) };
  }
}

function toInput(body: CreateMemoryBody): MemoryInput {
  return {
    ...body,
    metadata: body.metadata as Prisma.InputJsonObject | undefined,
    expiresAt: body.expiresAt === undefined || body.expiresAt === null ? body.expiresAt : new Date(body.expiresAt),
  };
}

function toPatch(body: UpdateMemoryBody): MemoryPatch {
  return {
    ...body,
    metadata: body.metadata as Prisma.InputJsonObject | undefined,
    expiresAt: body.expiresAt === undefined || body.expiresAt === null ? body.expiresAt : new Date(body.expiresAt),
  };
}

/** A 1536-number vector would make every audit entry ~20 KB; the model name says which vector it was. */
function withoutEmbedding(view: MemoryView): Omit<MemoryView, 'embedding'> {
  const rest = { ...view };
  delete rest.embedding;
  return rest;
}
