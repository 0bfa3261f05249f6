import { Prisma } from '../../generated/prisma/client';
import { LargeSearchMemo, type SearchTarget } from './ranked-search';

describe(LargeSearchMemo.name, () => {
  const target = (org: string, kind?: string): SearchTarget => ({
    from: Prisma.sql`memories m`,
    where: kind ? Prisma.sql`m.organization_id = ${org}::uuid and m.kind = ${kind}::text` : Prisma.sql`m.organization_id = ${org}::uuid`,
    columns: Prisma.sql`m.id`,
    embedding: Prisma.sql`m.embedding`,
    searchVector: Prisma.sql`m.search_vector`,
  });

  it('remembers a large search for its time to live only, per organization, filter and threshold', () => {
    const sut = new LargeSearchMemo(1_000);
    const key = LargeSearchMemo.key(target('a'), 10);
    expect(sut.isLarge(key, 0)).toBe(false);
    sut.remember(key, 0);
    expect(sut.isLarge(key, 999)).toBe(true);
    expect(sut.isLarge(key, 1_000)).toBe(false);
    sut.remember(key, 2_000);
    for (const other of [LargeSearchMemo.key(target('b'), 10), LargeSearchMemo.key(target('a', 'fact'), 10), LargeSearchMemo.key(target('a'), 11)]) {
      expect(other).not.toBe(key);
      expect(sut.isLarge(other, 2_000)).toBe(false);
    }
    sut.forget(key);
    expect(sut.isLarge(key, 2_000)).toBe(false);
  });

  it('stays bounded', () => {
    const sut = new LargeSearchMemo(1_000, 2);
    for (const org of ['a', 'b', 'c']) sut.remember(LargeSearchMemo.key(target(org), 10), 0);
    expect(sut.isLarge(LargeSearchMemo.key(target('c'), 10), 0)).toBe(true);
    expect(sut.isLarge(LargeSearchMemo.key(target('a'), 10), 0)).toBe(false);
  });
});
