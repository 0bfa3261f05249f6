import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import type { CheckpointTupleRow } from '@agenthub/db';
import { isoDateTime, jsonObject, pageQuery, pageSchema } from '../common/http/schemas';

/** Bytes as base64 (LangGraph's serializer output). */
const base64 = z
  .string()
  .max(256 * 1024 * 1024)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64')
  .describe('bytes, base64');
// In the path: a segment holds up to 100 characters percent-encoded (Fastify's maxParamLength; longer is a 414).
const threadId = z.string().min(1).max(1000);
const checkpointId = z.string().min(1).max(200);
const checkpointNs = z.string().max(1000).describe("the checkpoint namespace; '' (default) is the root graph");
const tag = z.string().min(1).max(1000);

export const threadParams = z.object({ threadId });
export class ThreadParams extends createZodDto(threadParams) {}
export class CheckpointParams extends createZodDto(z.object({ threadId, checkpointId })) {}
export class WritesParams extends createZodDto(z.object({ threadId, checkpointId, taskId: tag })) {}

export const putCheckpointSchema = z.strictObject({
  checkpointNs: checkpointNs.optional(),
  parentCheckpointId: checkpointId.nullable().optional().describe('the checkpoint this one follows'),
  checkpoint: jsonObject.describe('the checkpoint without channel_values (those are blobs): id, ts, v, channel_versions, versions_seen, …'),
  metadata: jsonObject.optional(),
  blobs: z
    .array(z.strictObject({ channel: tag, version: z.string().min(1).max(200), type: z.string().min(1).max(100), data: base64.nullable() }))
    .max(10_000)
    .optional()
    .describe('the values of the channels whose version this checkpoint moved; each (channel, version) is stored once'),
});
export class PutCheckpointDto extends createZodDto(putCheckpointSchema) {}

export const putWritesSchema = z.strictObject({
  checkpointNs: checkpointNs.optional(),
  taskPath: z.string().max(1000).optional(),
  writes: z
    .array(z.strictObject({ idx: z.number().int().min(-1000).max(1_000_000), channel: tag, type: z.string().min(1).max(100), data: base64 }))
    .min(1)
    .max(10_000)
    .describe("a write at a negative index (LangGraph's special channels) replaces the task's earlier one there; at any other index an earlier write is kept"),
});
export class PutWritesDto extends createZodDto(putWritesSchema) {}

export const listCheckpointsQuery = z.object({
  ...pageQuery,
  checkpointNs: checkpointNs.optional().describe('only this namespace (default: every namespace)'),
  checkpointId: checkpointId.optional().describe('only this checkpoint'),
  before: checkpointId.optional().describe('only checkpoints with a smaller (older) id'),
});
export class ListCheckpointsQuery extends createZodDto(listCheckpointsQuery) {}

export const searchCheckpointsSchema = z.strictObject({
  threadId: threadId.optional(),
  checkpointNs: checkpointNs.optional(),
  checkpointId: checkpointId.optional(),
  before: checkpointId.optional(),
  filter: jsonObject.optional().describe('only checkpoints whose metadata contains these keys and values'),
  limit: z.number().int().min(1).max(200).optional(),
  cursor: z.string().min(1).max(2000).optional(),
});
export class SearchCheckpointsDto extends createZodDto(searchCheckpointsSchema) {}

export const checkpointTupleSchema = z.object({
  threadId: z.string(),
  checkpointNs: z.string(),
  checkpointId: z.string(),
  parentCheckpointId: z.string().nullable(),
  checkpoint: jsonObject,
  metadata: jsonObject,
  createdAt: isoDateTime,
  blobs: z.array(z.object({ channel: z.string(), version: z.string(), type: z.string(), data: z.string().nullable() })),
  pendingWrites: z.array(z.object({ taskId: z.string(), idx: z.number().int(), channel: z.string(), type: z.string(), data: z.string(), taskPath: z.string() })),
});
export type CheckpointTupleView = z.input<typeof checkpointTupleSchema>;
export class CheckpointTupleDto extends createZodDto(checkpointTupleSchema) {}
export class CheckpointPageDto extends createZodDto(pageSchema(checkpointTupleSchema)) {}

export const putCheckpointResultSchema = z.object({ threadId: z.string(), checkpointNs: z.string(), checkpointId: z.string() });
export class PutCheckpointResultDto extends createZodDto(putCheckpointResultSchema) {}

export function toCheckpointTupleView(row: CheckpointTupleRow): CheckpointTupleView {
  return {
    threadId: row.threadId,
    checkpointNs: row.checkpointNs,
    checkpointId: row.checkpointId,
    parentCheckpointId: row.parentCheckpointId,
    checkpoint: row.checkpoint,
    metadata: row.metadata,
    createdAt: row.createdAt.toISOString(),
    blobs: row.blobs,
    pendingWrites: row.writes,
  };
}

// ——— the store (long-term memory) ———

const label = z.string().min(1).max(500).refine((l) => !l.includes('.'), 'a namespace label holds no period');
const namespace = z.array(label).min(1).max(50).describe('the namespace path, e.g. ["users", "u-1", "memories"]');
const storeKey = z.string().min(1).max(1000);
const vector = z.array(z.number()).min(1).max(16_000);
const ttlMinutes = z.number().positive().max(60 * 24 * 365 * 100).nullable().optional().describe('minutes until the item expires (null: never)');

export const storeOperationSchema = z.discriminatedUnion('op', [
  z.strictObject({ op: z.literal('get'), namespace, key: storeKey, refreshTtl: z.boolean().optional().describe('restart the TTL of the item read (default true)') }),
  z.strictObject({
    op: z.literal('search'),
    namespacePrefix: z.array(label).max(50),
    filter: jsonObject.optional().describe("top-level fields: a value (equal as JSON), or LangGraph's operators $eq $ne $gt $gte $lt $lte $in $nin"),
    limit: z.number().int().min(1).max(1000).optional().describe('default 10'),
    offset: z.number().int().min(0).max(1_000_000).optional(),
    queryVector: vector.optional().describe("the query's embedding: rank by cosine similarity to the items' embedded fields"),
    refreshTtl: z.boolean().optional(),
  }),
  z.strictObject({
    op: z.literal('put'),
    namespace,
    key: storeKey,
    value: jsonObject.nullable().describe('null deletes the item'),
    vectors: z.array(z.strictObject({ field: z.string().min(1).max(1000), embedding: vector })).max(1000).optional().describe("embeddings of the value's indexed fields (they replace the item's earlier ones)"),
    ttlMinutes,
  }),
  z.strictObject({
    op: z.literal('listNamespaces'),
    matchConditions: z.array(z.strictObject({ matchType: z.enum(['prefix', 'suffix']), path: z.array(z.string().min(1).max(500)).max(50) })).max(10).optional(),
    maxDepth: z.number().int().min(1).max(50).optional(),
    limit: z.number().int().min(1).max(1000).optional().describe('default 100'),
    offset: z.number().int().min(0).max(1_000_000).optional(),
  }),
]);
export type StoreOperation = z.infer<typeof storeOperationSchema>;
export const storeBatchSchema = z.strictObject({ operations: z.array(storeOperationSchema).min(1).max(1000) });
export class StoreBatchDto extends createZodDto(storeBatchSchema) {}

const storeItemSchema = z.object({
  namespace: z.array(z.string()),
  key: z.string(),
  value: jsonObject,
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
  score: z.number().nullable().optional().describe('cosine similarity to the query vector, for a search with one'),
});
export type StoreItemView = z.input<typeof storeItemSchema>;
export const storeBatchResultSchema = z.object({
  results: z
    .array(
      z.object({
        item: storeItemSchema.nullable().optional().describe('get: the item, or null'),
        items: z.array(storeItemSchema).optional().describe('search: the items found'),
        namespaces: z.array(z.array(z.string())).optional().describe('listNamespaces'),
      }),
    )
    .describe('one per operation, in order; a put has an empty object'),
});
export class StoreBatchResultDto extends createZodDto(storeBatchResultSchema) {}
