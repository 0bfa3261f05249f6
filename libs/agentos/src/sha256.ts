import { createHash } from 'node:crypto';

/** SHA-256 of UTF-8 text, hex: the content hashes of archived traces and memories (idempotency keys, dedup). */
export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
