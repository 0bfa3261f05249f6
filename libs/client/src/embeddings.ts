/**
 * Embeddings on the wire. The API takes every embedding as JSON numbers or as base64 of little-endian float32 (a
 * quarter of the bytes; apps/api README, "Embeddings"), and stores float32 either way — so sending base64 changes
 * nothing about the row, only the size of the request.
 */

/** An embedding as the API's compact form: base64 of little-endian float32. */
export function encodeEmbedding(values: ArrayLike<number>): string {
  const bytes = Buffer.alloc(values.length * 4);
  for (let i = 0; i < values.length; i++) bytes.writeFloatLE(values[i], i * 4);
  return bytes.toString('base64');
}

/** The values of an embedding the API sent as base64 (`?embeddingFormat=base64`). */
export function decodeEmbedding(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  const out = new Float32Array(bytes.length / 4);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readFloatLE(i * 4);
  return out;
}

/**
 * JSON for a request body, its embeddings in the compact form: `embedding` at the top (a memory, a search, an
 * update) and in `memories[]` and `chunks[]` (a batch, a document), as numbers or a Float32Array. Nothing else is
 * touched — a `metadata` or `toolArgs` of the caller's keeps whatever it holds. The client's body serializer.
 */
export function serializeBody(body: unknown): string {
  return JSON.stringify(withCompactEmbeddings(body));
}

function withCompactEmbeddings(body: unknown): unknown {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return body;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  out.embedding = compact(out.embedding);
  if (out.embedding === undefined) delete out.embedding;
  for (const list of ['memories', 'chunks']) {
    if (Array.isArray(out[list])) out[list] = (out[list] as unknown[]).map((item) => (item && typeof item === 'object' && 'embedding' in item ? { ...item, embedding: compact((item as { embedding: unknown }).embedding) } : item));
  }
  return out;
}

function compact(value: unknown): unknown {
  if (value instanceof Float32Array) return encodeEmbedding(value);
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'number')) return encodeEmbedding(value);
  return value;
}
