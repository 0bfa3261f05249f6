import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import { DEFAULT_K, MAX_K } from '@agenthub/db';
import { limitQuery, uuid } from '../common/http/schemas';
import { messageSchema, toMessageView } from '../messages/message.dto';
import type { MessageSearchHit } from '@agenthub/db';

/** Most dimensions an embedding may have (EMBEDDING_DIMENSIONS' upper bound), as numbers or float32 base64. */
const MAX_DIMENSIONS = 16_000;

/**
 * An embedding: JSON numbers, or base64 of little-endian float32 values (`encoding_format: "base64"` of the embedding
 * APIs). Only the shape is checked here: the length (against EMBEDDING_DIMENSIONS, a runtime setting), the base64
 * itself and NaN/Infinity are checked once by the data layer (toEmbedding), with a 400 naming the field. The upper
 * bounds only keep a runaway body from being parsed further.
 */
export const embeddingSchema = z
  .union(
    [
      z.array(z.number()).min(1, 'must not be empty').max(MAX_DIMENSIONS).describe('EMBEDDING_DIMENSIONS numbers'),
      z
        .string()
        .min(1, 'must not be empty')
        .max(Math.ceil((MAX_DIMENSIONS * 4) / 3) + 4)
        .meta({ format: 'byte' })
        .describe('base64 (standard alphabet, padded) of EMBEDDING_DIMENSIONS little-endian float32 values: 8,192 characters for 1536 dimensions'),
    ],
    { error: 'must be an array of numbers or a base64 string of little-endian float32 values' },
  )
  .describe(
    'EMBEDDING_DIMENSIONS numbers, or the same as base64 of little-endian float32 values (what embedding APIs return ' +
      'with encoding_format "base64"; about a third of the bytes of JSON numbers). Stored as float32 either way.',
  );

/** `?embeddingFormat=` of the routes that return embeddings (memory create, get, update). */
export const embeddingFormatQuery = {
  embeddingFormat: z
    .enum(['float', 'base64'], { message: 'must be float or base64' })
    .optional()
    .describe('how returned embeddings are written: float (default), an array of numbers; base64, little-endian float32 values as base64'),
};
export type EmbeddingFormat = 'float' | 'base64';

/** The body of `POST /memories/search` and `POST /documents/search` (API.md), with the filter of each. */
export function searchBodySchema<F extends z.ZodType>(filter: F) {
  return z.strictObject({
    embedding: embeddingSchema.optional().describe('required for vector and hybrid search'),
    query: z.string().min(1).max(1000).optional().describe('full-text query (websearch syntax); required for text and hybrid'),
    mode: z
      .enum(['vector', 'text', 'hybrid'])
      .optional()
      .describe('default: hybrid with both embedding and query, else the one given'),
    k: z.number().int().min(1).max(MAX_K).optional().describe(`results, 1..${MAX_K} (default ${DEFAULT_K})`),
    minSimilarity: z.number().min(0).max(1).optional().describe('cosine similarity floor'),
    filter: filter.optional(),
    strategy: z
      .enum(['auto', 'exact', 'ann'])
      .optional()
      .describe(
        'diagnostics: auto (default) is exact up to 10,000 matching rows and HNSW above; exact scans every match; ann always uses the HNSW index',
      ),
  });
}

export const scoreFields = {
  similarity: z.number().nullable().describe('cosine similarity to the query embedding (null without one)'),
  score: z.number().describe('what results are ordered by: similarity (vector), ts_rank_cd (text), RRF score (hybrid)'),
};

// --- GET /search/messages ---------------------------------------------------------------------------------------

export class SearchMessagesQuery extends createZodDto(
  z.object({
    q: z.string().trim().min(1, 'required').max(1000).describe('full-text query (websearch syntax: "quoted phrase", OR, -not)'),
    agentId: uuid.optional(),
    conversationId: uuid.optional(),
    limit: limitQuery('results'),
  }),
) {}

export const messageHitSchema = messageSchema.extend({
  score: z.number().describe('ts_rank_cd, higher is better'),
  snippet: z.string().describe('the best fragments with matches wrapped in <b>…</b>'),
});
export type MessageHitView = z.input<typeof messageHitSchema>;
export class MessageHitListDto extends createZodDto(z.object({ data: z.array(messageHitSchema) })) {}

export function toMessageHitView(hit: MessageSearchHit): MessageHitView {
  const { rank, snippet, ...row } = hit;
  return { ...toMessageView(row), score: rank, snippet };
}

