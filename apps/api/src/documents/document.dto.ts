import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import { MAX_DOCUMENT_CHUNKS, type DocumentChunkRow, type DocumentChunkSearchResult, type DocumentDetail } from '@agenthub/db';
import { booleanQuery, isoDateTime, jsonObject, pageQuery, pageSchema, uuid } from '../common/http/schemas';
import { embeddingSchema, scoreFields, searchBodySchema } from '../search/search.dto';

const embeddingModel = z.string().min(1).max(200).nullable().optional();

export const createDocumentSchema = z.strictObject({
  title: z.string().trim().min(1, 'required').max(1000),
  content: z.string().max(50 * 1024 * 1024).nullable().optional(),
  agentId: uuid.nullable().optional(),
  metadata: jsonObject.optional(),
  embeddingModel: embeddingModel.describe('the model of every chunk embedding that does not name its own'),
  chunks: z
    .array(
      z.strictObject({
        content: z.string().min(1, 'required').max(512 * 1024),
        embedding: embeddingSchema.nullable().optional().describe('without one the chunk is found by text search only'),
        embeddingModel,
      }),
    )
    .max(MAX_DOCUMENT_CHUNKS, `at most ${MAX_DOCUMENT_CHUNKS} chunks`)
    .optional()
    .describe('stored at positions 0..n-1 in this order'),
});
export type CreateDocumentBody = z.infer<typeof createDocumentSchema>;
export class CreateDocumentDto extends createZodDto(createDocumentSchema) {}

export class ListDocumentsQuery extends createZodDto(
  z.object({ ...pageQuery, agentId: uuid.optional(), title: z.string().min(1).max(1000).optional().describe('exact title') }),
) {}

export const updateDocumentSchema = z.strictObject({
  title: z.string().trim().min(1, 'required').max(1000).optional(),
  metadata: jsonObject.optional().describe('replaces the metadata'),
});
export type UpdateDocumentBody = z.infer<typeof updateDocumentSchema>;
export class UpdateDocumentDto extends createZodDto(updateDocumentSchema) {}
export class GetDocumentQuery extends createZodDto(
  z.object({ includeChunks: booleanQuery.optional().describe('add the chunks in position order (without embeddings)') }),
) {}

export const documentFilterSchema = z.strictObject({
  agentId: uuid.optional(),
  documentId: uuid.optional(),
  metadata: jsonObject.optional().describe("JSON containment on the document's metadata"),
});
export const documentSearchSchema = searchBodySchema(documentFilterSchema);
export type DocumentSearchBody = z.infer<typeof documentSearchSchema>;
export class DocumentSearchDto extends createZodDto(documentSearchSchema) {}

const chunkSchema = z.object({
  id: uuid,
  position: z.number().int(),
  content: z.string(),
  embeddingModel: z.string().nullable(),
  createdAt: isoDateTime,
});

export const documentSchema = z.object({
  id: uuid,
  title: z.string(),
  content: z.string().nullable(),
  agentId: uuid.nullable(),
  metadata: jsonObject,
  chunkCount: z.number().int(),
  chunks: z.array(chunkSchema).optional(),
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
});
export type DocumentView = z.input<typeof documentSchema>;
export class DocumentDto extends createZodDto(documentSchema) {}
export class DocumentPageDto extends createZodDto(pageSchema(documentSchema)) {}

export const chunkHitSchema = chunkSchema.extend({ documentId: uuid, documentTitle: z.string(), ...scoreFields });
export type ChunkHitView = z.input<typeof chunkHitSchema>;
export class ChunkHitListDto extends createZodDto(z.object({ data: z.array(chunkHitSchema) })) {}

function toChunkView(row: DocumentChunkRow) {
  return { id: row.id, position: row.position, content: row.content, embeddingModel: row.embeddingModel, createdAt: row.createdAt.toISOString() };
}

export function toDocumentView(row: DocumentDetail): DocumentView {
  return {
    id: row.id,
    title: row.title,
    content: row.content,
    agentId: row.agentId,
    metadata: row.metadata as Record<string, unknown>,
    chunkCount: row.chunkCount,
    ...(row.chunks ? { chunks: row.chunks.map(toChunkView) } : {}),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function toChunkHitView(hit: DocumentChunkSearchResult): ChunkHitView {
  return {
    ...toChunkView(hit),
    documentId: hit.documentId,
    documentTitle: hit.documentTitle,
    similarity: hit.similarity,
    score: hit.score,
  };
}
