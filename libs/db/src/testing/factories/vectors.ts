/** Deterministic vectors for tests: a seeded generator, so a failing case can be replayed. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomVector(dimensions: number, random: () => number): number[] {
  return Array.from({ length: dimensions }, () => random() * 2 - 1);
}

export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / (Math.sqrt(na) * Math.sqrt(nb));
}

/** The exact top k by cosine similarity: the reference the database's answer is checked against. */
export function bruteForceTopK<T extends { embedding: readonly number[] }>(
  rows: readonly T[],
  query: readonly number[],
  k: number,
  minSimilarity = -1,
): Array<T & { similarity: number }> {
  return rows
    .map((r) => ({ ...r, similarity: cosineSimilarity(r.embedding, query) }))
    .filter((r) => r.similarity >= minSimilarity)
    .sort((a, b) => b.similarity - a.similarity)
    .slice(0, k);
}

/**
 * The vector as an embedding API's `encoding_format: "base64"` sends it: little-endian float32 values, base64
 * (what `base64.b64encode(numpy.asarray(v, dtype="<f4").tobytes())` makes). Written with a DataView so that it
 * does not share code with the server's decoder.
 */
export function float32Base64(vector: readonly number[]): string {
  const view = new DataView(new ArrayBuffer(vector.length * 4));
  vector.forEach((x, i) => view.setFloat32(i * 4, x, true));
  return Buffer.from(view.buffer).toString('base64');
}
