import { InvalidInputError } from './errors';
import { decodeCursor, encodeCursor, pageSize, toPage } from './pagination';

describe('pagination', () => {
  it('bounds the page size to 1..200 with 50 by default', () => {
    expect(pageSize(undefined)).toBe(50);
    expect(pageSize(200)).toBe(200);
    for (const bad of [0, -1, 201, 1.5, Number.NaN]) expect(() => pageSize(bad)).toThrow(InvalidInputError);
  });

  it('round-trips cursors and refuses ones it did not issue', () => {
    const id = '0b5e3c3e-9d7a-4c37-8c52-5b1b0f3f3c11';
    expect(decodeCursor(encodeCursor('2026-01-01T00:00:00.000Z', id))).toEqual({ sortValue: '2026-01-01T00:00:00.000Z', id });
    expect(decodeCursor(undefined)).toBeNull();
    for (const bad of ['x', Buffer.from('[1,"not-a-uuid"]').toString('base64url'), Buffer.from('{"a":1}').toString('base64url')]) {
      expect(() => decodeCursor(bad)).toThrow(InvalidInputError);
    }
  });

  it('gives a cursor only when a further row exists', () => {
    const rows = [{ id: 'a', n: 1 }, { id: 'b', n: 2 }, { id: 'c', n: 3 }];
    const page = toPage(rows, 2, (r) => r.n);
    expect(page.data.map((r) => r.id)).toEqual(['a', 'b']);
    expect(page.nextCursor).not.toBeNull();
    expect(toPage(rows.slice(0, 2), 2, (r) => r.n).nextCursor).toBeNull();
  });
});
