import { createHash } from 'node:crypto';
import type { Embedder } from '../src/memory-backend';

/** The test API's EMBEDDING_DIMENSIONS (global-setup leaves the default). */
export const DIMENSIONS = 1536;

/** A deterministic embedding: hashed bag of words, normalised (texts sharing words point the same way). */
export function embedText(text: string): number[] {
  const vector = new Array<number>(DIMENSIONS).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) vector[createHash('sha256').update(word).digest().readUInt32BE(0) % DIMENSIONS]! += 1;
  const norm = Math.hypot(...vector) || 1;
  return vector.map((x) => x / norm);
}

/** The deterministic embedder, in AgentHubMemoryBackend's shape (AgentOS's `embed` takes one text: `embedText`). */
export const embed: Embedder = async (texts) => texts.map(embedText);
