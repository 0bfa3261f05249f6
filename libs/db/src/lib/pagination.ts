import { InvalidInputError } from './errors';

/** A page of a keyset-paginated list; `nextCursor` is null on the last page. */
export interface Page<T> {
  data: T[];
  nextCursor: string | null;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** Page size within 1..200, default 50. */
export function pageSize(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_SIZE) {
    throw new InvalidInputError(`limit must be an integer from 1 to ${MAX_PAGE_SIZE}`, [
      { path: 'limit', message: `must be an integer from 1 to ${MAX_PAGE_SIZE}` },
    ]);
  }
  return limit;
}

/**
 * Cursors are the sort key of the last row returned (keyset pagination), so they stay valid while rows are
 * inserted. Opaque to clients: base64url JSON of [sortValue, id].
 */
export function encodeCursor(sortValue: string | number, id: string): string {
  return Buffer.from(JSON.stringify([sortValue, id])).toString('base64url');
}

export function decodeCursor(cursor: string | undefined | null): { sortValue: string | number; id: string } | null {
  if (!cursor) return null;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      (typeof value[0] === 'string' || typeof value[0] === 'number') &&
      isUuid(value[1])
    ) {
      return { sortValue: value[0], id: value[1] };
    }
  } catch {
    // fall through
  }
  throw new InvalidInputError('cursor is not valid', [{ path: 'cursor', message: 'not a cursor this API issued' }]);
}

/** Given limit+1 rows fetched, the page and the cursor of its last row. */
export function toPage<T extends { id: string }>(
  rows: T[],
  limit: number,
  sortValue: (row: T) => string | number,
): Page<T> {
  const data = rows.slice(0, limit);
  const last = data[data.length - 1];
  return { data, nextCursor: rows.length > limit && last ? encodeCursor(sortValue(last), last.id) : null };
}

/** Date sort keys travel as ISO strings. */
export function cursorDate(sortValue: string | number): Date {
  const d = new Date(sortValue);
  if (Number.isNaN(d.getTime())) {
    throw new InvalidInputError('cursor is not valid', [{ path: 'cursor', message: 'not a cursor this API issued' }]);
  }
  return d;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Prisma filter for "after this cursor" in ascending (createdAt, id) order. */
export function createdAtAfter(cursor: string | null | undefined) {
  const after = decodeCursor(cursor);
  if (!after) return {};
  const at = cursorDate(after.sortValue);
  return { OR: [{ createdAt: { gt: at } }, { createdAt: at, id: { gt: after.id } }] };
}

/** Prisma filter for "after this cursor" in descending (createdAt, id) order: newest-first lists. */
export function createdAtBefore(cursor: string | null | undefined) {
  const after = decodeCursor(cursor);
  if (!after) return {};
  const at = cursorDate(after.sortValue);
  return { OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: after.id } }] };
}
