import { hash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level and `undefined` members dropped: the same value always gives the
 * same text, whatever order its keys were written in. JSONB reorders keys, so anything hashed before it is
 * stored must be hashed in this form on both sides.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const json = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof json === 'function') return sortKeys(json.call(value));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortKeys(member);
    }
    return out;
  }
  return value;
}

/** SHA-256 of the text's UTF-8, hex (crypto.hash: one call, no Hash object per digest). */
export function sha256Hex(text: string): string {
  return hash('sha256', text, 'hex');
}
