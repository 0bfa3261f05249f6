import { createHash } from 'node:crypto';
import type { Json, JsonObject, MessageRecord, Warning } from './import.types';

/**
 * Helpers every source mapper shares: parsing JSON text that may be malformed, timestamps in the shapes legacy
 * stores use, and text PostgreSQL would refuse.
 */

/** PostgreSQL text and JSONB cannot hold U+0000; legacy SQLite text can. */
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/g;

export function cleanText(value: string, onChange?: () => void): string {
  if (!value.includes('\u0000')) return value;
  onChange?.();
  return value.replace(NUL, '');
}

/** A JSON value with NULs removed from every string (keys too). */
export function cleanJson(value: unknown, onChange?: () => void): Json {
  if (typeof value === 'string') return cleanText(value, onChange);
  if (Array.isArray(value)) return value.map((v) => cleanJson(v, onChange));
  if (value && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[cleanText(k, onChange)] = cleanJson(v, onChange);
    return out;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  if (typeof value === 'bigint') return value.toString();
  return (value ?? null) as Json;
}

export type ParsedJson = { ok: true; value: Json } | { ok: false; raw: string; error: string };

/**
 * JSON stored as text. Malformed text is not a reason to drop the row it belongs to (the message content is the
 * valuable part): the caller keeps the raw text in metadata and records a warning.
 */
export function parseJsonText(text: string | null | undefined): ParsedJson | null {
  if (text === null || text === undefined || text.trim() === '') return null;
  try {
    return { ok: true, value: cleanJson(JSON.parse(text)) };
  } catch (e) {
    return { ok: false, raw: cleanText(text), error: (e as Error).message };
  }
}

/** Epoch milliseconds (AgentOS) → Date; null when not a plausible time. */
export function fromEpochMs(value: unknown): Date | null {
  const n = typeof value === 'bigint' ? Number(value) : typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) return null;
  const d = new Date(Math.trunc(n));
  return plausible(d) ? d : null;
}

/** Epoch seconds (payment `created`), possibly fractional → Date (millisecond precision). */
export function fromEpochSeconds(value: unknown): Date | null {
  if (typeof value !== 'number' || !Number.isFinite(value)) return null;
  const d = new Date(Math.round(value * 1000));
  return plausible(d) ? d : null;
}

/**
 * ISO 8601 or SQLAlchemy's SQLite form (`2025-01-23 10:00:00.123456`); a time without an offset is UTC (ADK
 * stores UTC). Date objects pass through. Sub-millisecond digits are cut (the target keeps milliseconds).
 */
export function fromTimeText(value: unknown): Date | null {
  if (value instanceof Date) return plausible(value) ? value : null;
  if (typeof value === 'number') return fromEpochSeconds(value);
  if (typeof value !== 'string') return null;
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(value.trim());
  if (!m) return null;
  const frac = m[3] ? `.${m[3].slice(0, 3).padEnd(3, '0')}` : '';
  const zone = m[4] ? (m[4].toUpperCase() === 'Z' ? 'Z' : normaliseOffset(m[4])) : 'Z';
  const d = new Date(`${m[1]}T${m[2].length === 5 ? `${m[2]}:00` : m[2]}${frac}${zone}`);
  return plausible(d) ? d : null;
}

function normaliseOffset(offset: string): string {
  const digits = offset.slice(1).replace(':', '');
  return `${offset[0]}${digits.slice(0, 2)}:${(digits.slice(2) || '00').padEnd(2, '0')}`;
}

function plausible(d: Date): boolean {
  const t = d.getTime();
  // 1970 … 2200: anything else is a unit mix-up (seconds read as ms or the reverse), not a real time.
  return Number.isFinite(t) && t >= 0 && t < 7_258_118_400_000;
}

export const nonEmpty = (s: unknown): s is string => typeof s === 'string' && s.trim() !== '';

/** An integer column value (token counts); anything else null. */
export function intOrNull(value: unknown): number | null {
  const n = typeof value === 'bigint' ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= 2 ** 31 - 1 ? n : null;
}

/**
 * The verification fingerprint of a conversation: md5 over "role:md5(content)" joined by commas, in seq order.
 * The verifier computes the same expression in SQL over the target rows.
 */
export function conversationHash(messages: ReadonlyArray<Pick<MessageRecord, 'role' | 'content'>>): string {
  const parts = messages.map((m) => `${m.role}:${createHash('md5').update(m.content, 'utf8').digest('hex')}`);
  return createHash('md5').update(parts.join(','), 'utf8').digest('hex');
}

/** Collects warnings for one source row. */
export function warner(warnings: Warning[], entity: string, sourceId: string) {
  return (reason: string) => warnings.push({ entity, sourceId, reason });
}

/** Lets other work run (the batch being written) while a source maps the next one. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
