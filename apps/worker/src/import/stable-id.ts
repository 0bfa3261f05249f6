import { createHash } from 'node:crypto';

/**
 * The target id of an imported row: a UUID derived from (organization, entity, source key) by SHA-256, laid out
 * like a name-based UUID (version 5 bits, RFC 4122 variant). The same source row imported into the same
 * organization always gets the same id, so `ON CONFLICT (id)` recognises it on a re-run or a resume; the same
 * file imported into two organizations gives distinct ids.
 */
export function stableId(organizationId: string, entity: string, key: string): string {
  const h = createHash('sha256').update(`${organizationId}\u0000${entity}\u0000${key}`, 'utf8').digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
