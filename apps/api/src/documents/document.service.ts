import { Injectable } from '@nestjs/common';
import { DocumentRepository, NotFoundError, type Page, type Prisma } from '@agenthub/db';
import { AuditService } from '../common/audit/audit.service';
import { RequestContext } from '../common/tenancy/request-context';
import { EmbeddingDimensions } from '../embeddings/embedding-dimensions.service';
import {
  toChunkHitView,
  toDocumentView,
  type ChunkHitView,
  type CreateDocumentBody,
  type DocumentSearchBody,
  type DocumentView,
  type UpdateDocumentBody,
} from './document.dto';

@Injectable()
export class DocumentService {
  constructor(
    private readonly documents: DocumentRepository,
    private readonly dimensions: EmbeddingDimensions,
    private readonly audit: AuditService,
    private readonly context: RequestContext,
  ) {}

  /** The document and its chunks in the request's transaction, with their audit entry. */
  async create(body: CreateDocumentBody): Promise<DocumentView> {
    const chunks = body.chunks ?? [];
    this.dimensions.assert(chunks.map((c, i) => [`chunks.${i}.embedding`, c.embedding]));
    const row = await this.documents.create(
      this.context.organizationId,
      {
        title: body.title,
        content: body.content,
        agentId: body.agentId,
        metadata: body.metadata as Prisma.InputJsonObject | undefined,
        chunks: chunks.map((c) => ({
          content: c.content,
          embedding: c.embedding,
          // The model is kept with every vector; a chunk without a vector has no model.
          embeddingModel: c.embedding ? (c.embeddingModel ?? body.embeddingModel ?? null) : null,
        })),
      },
      this.context.db,
    );
    const view = toDocumentView(row);
    await this.audit.record('document.create', 'document', row.id, { after: { ...view, content: undefined } });
    return view;
  }

  async get(id: string, includeChunks = false): Promise<DocumentView> {
    const row = await this.documents.findById(this.context.organizationId, id, { includeChunks }, this.context.db);
    if (!row) throw new NotFoundError('document', id);
    return toDocumentView(row);
  }

  async update(id: string, body: UpdateDocumentBody): Promise<DocumentView> {
    const before = await this.documents.findById(this.context.organizationId, id, {}, this.context.db);
    if (!before) throw new NotFoundError('document', id);
    const row = await this.documents.update(
      this.context.organizationId,
      id,
      { title: body.title, metadata: body.metadata as Prisma.InputJsonObject | undefined },
      this.context.db,
    );
    if (!row) throw new NotFoundError('document', id);
    const view = toDocumentView(row);
    await this.audit.record('document.update', 'document', id, {
      before: { title: before.title, metadata: before.metadata },
      after: { title: view.title, metadata: view.metadata },
    });
    return view;
  }

  async list(query: { agentId?: string; title?: string; limit?: number; cursor?: string }): Promise<Page<DocumentView>> {
    const page = await this.documents.listPage(this.context.organizationId, query, this.context.db);
    return { data: page.data.map(toDocumentView), nextCursor: page.nextCursor };
  }

  async delete(id: string): Promise<void> {
    const before = await this.documents.findById(this.context.organizationId, id, {}, this.context.db);
    if (!before || !(await this.documents.delete(this.context.organizationId, id, this.context.db))) throw new NotFoundError('document', id);
    await this.audit.record('document.delete', 'document', id, { before: { ...toDocumentView(before), content: undefined } });
  }

  async search(body: DocumentSearchBody): Promise<{ data: ChunkHitView[] }> {
    this.dimensions.assert([['embedding', body.embedding]]);
    const hits = await this.documents.search(this.context.organizationId, body, this.context.db);
    return { data: hits.map(toChunkHitView) };
  }
}
