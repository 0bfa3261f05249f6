import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import { encodeEmbedding, MAX_MEMORY_BATCH, type Memory, type MemoryRow, type MemorySearchResult } from '@agenthub/db';
import { isoDateTime, jsonObject, pageQuery, pageSchema, uuid } from '../common/http/schemas';
import { embeddingFormatQuery, embeddingSchema, scoreFields, searchBodySchema, type EmbeddingFormat } from '../search/search.dto';

const memoryFields = {
  content: z.string().trim().min(1, 'required').max(512 * 1024),
  embedding: embeddingSchema,
  embeddingModel: z.string().min(1).max(200).nullable().optional().describe('the model that made the embedding'),
  importance: z.number().min(0).max(1).optional().describe('0..1, default 0.5'),
  kind: z.string().min(1).max(100).optional().describe('default fact'),
  agentId: uuid.nullable().optional(),
  userId: uuid.nullable().optional(),
  conversationId: uuid.nullable().optional(),
  metadata: jsonObject.optional(),
  expiresAt: isoDateTime.nullable().optional().describe('invisible from then on; purged later by the worker'),
};

export const createMemorySchema = z.strictObject(memoryFields);
export type CreateMemoryBody = z.infer<typeof createMemorySchema>;
export class CreateMemoryDto extends createZodDto(createMemorySchema) {}

export const createMemoryBatchSchema = z.strictObject({
  memories: z.array(createMemorySchema).min(1, 'must hold at least one memory').max(MAX_MEMORY_BATCH, `at most ${MAX_MEMORY_BATCH} memories`),
});
export class CreateMemoryBatchDto extends createZodDto(createMemoryBatchSchema) {}

export const updateMemorySchema = z.strictObject({
  ...memoryFields,
  content: memoryFields.content.optional(),
  embedding: memoryFields.embedding.optional(),
});
export type UpdateMemoryBody = z.infer<typeof updateMemorySchema>;
export class UpdateMemoryDto extends createZodDto(updateMemorySchema) {}

/** `?embeddingFormat=float|base64` of the routes that return a memory's embedding. */
export class EmbeddingFormatQuery extends createZodDto(z.object(embeddingFormatQuery)) {}

export class ListMemoriesQuery extends createZodDto(
  z.object({
    ...pageQuery,
    agentId: uuid.optional(),
    userId: uuid.optional(),
    conversationId: uuid.optional(),
    kind: z.string().min(1).max(100).optional(),
  }),
) {}

export const memoryFilterSchema = z.strictObject({
  agentId: uuid.optional(),
  userId: uuid.optional(),
  conversationId: uuid.optional(),
  kind: z.string().min(1).max(100).optional(),
  metadata: jsonObject.optional().describe('JSON containment: memories whose metadata includes this object'),
});
export const memorySearchSchema = searchBodySchema(memoryFilterSchema);
export type MemorySearchBody = z.infer<typeof memorySearchSchema>;
export class MemorySearchDto extends createZodDto(memorySearchSchema) {}

export const memorySchema = z.object({
  id: uuid,
  content: z.string(),
  embedding: z
    .union([z.array(z.number()), z.string().meta({ format: 'byte' })])
    .optional()
    .describe(
      'on create, update and get by id (left out of lists, batches and search results): numbers, or with ' +
        '?embeddingFormat=base64 little-endian float32 values as base64; the stored float32 values either way',
    ),
  embeddingModel: z.string().nullable(),
  importance: z.number(),
  kind: z.string(),
  agentId: uuid.nullable(),
  userId: uuid.nullable(),
  conversationId: uuid.nullable(),
  metadata: jsonObject,
  expiresAt: isoDateTime.nullable(),
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
});
export type MemoryView = z.input<typeof memorySchema>;
export class MemoryDto extends createZodDto(memorySchema) {}
export class MemoryPageDto extends createZodDto(pageSchema(memorySchema)) {}
export class MemoryListDto extends createZodDto(z.object({ data: z.array(memorySchema) })) {}

export const memoryHitSchema = memorySchema.extend(scoreFields);
export type MemoryHitView = z.input<typeof memoryHitSchema>;
export class MemoryHitListDto extends createZodDto(z.object({ data: z.array(memoryHitSchema) })) {}

export function toMemoryView(row: MemoryRow | Memory, embeddingFormat: EmbeddingFormat = 'float'): MemoryView {
  return {
    id: row.id,
    content: row.content,
    ...('embedding' in row ? { embedding: embeddingFormat === 'base64' ? encodeEmbedding(row.embedding) : row.embedding } : {}),
    embeddingModel: row.embeddingModel,
    importance: row.importance,
    kind: row.kind,
    agentId: row.agentId,
    userId: row.userId,
    conversationId: row.conversationId,
    metadata: row.metadata as Record<string, unknown>,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export function toMemoryHitView(hit: MemorySearchResult): MemoryHitView {
  const { similarity, score, ...row } = hit;
  return { ...toMemoryView(row), similarity, score };
}
