import { Prisma } from '../../generated/prisma/client';
import { createTestPrisma, makeOrganization, seededRandom } from '../../testing';
import { float4Vector, makeMemories } from '../../testing/factories/memories';
import type { Db, PrismaService } from '../prisma.service';
import { countMatching, vectorSearchSql, type SearchTarget } from './ranked-search';

/**
 * The exact/ANN split rests on one planner fact: the HNSW index can serve `ORDER BY embedding <=> q LIMIT n`
 * and nothing else. These tests pin it with EXPLAIN while making every alternative look expensive
 * (enable_seqscan/enable_sort off), so a plan without the index is one that cannot use it.
 */
describe(vectorSearchSql.name, () => {
  let prisma: PrismaService;
  let target: SearchTarget;
  const query = float4Vector(seededRandom(99));

  async function plan(sql: Prisma.Sql): Promise<string> {
    return prisma.transaction(async (tx: Db) => {
      await tx.$executeRaw`set local enable_seqscan = off`;
      await tx.$executeRaw`set local enable_sort = off`;
      const rows = await tx.$queryRaw<Array<Record<string, string>>>(Prisma.sql`explain ${sql}`);
      return rows.map((r) => Object.values(r)[0]).join('\n');
    });
  }

  beforeAll(async () => {
    prisma = createTestPrisma();
    const organization = await makeOrganization(prisma);
    await makeMemories(prisma, organization.id, Array.from({ length: 30 }, () => ({})), 11);
    target = {
      from: Prisma.sql`memories m`,
      where: Prisma.sql`m.organization_id = ${organization.id}::uuid`,
      columns: Prisma.sql`m.id as "id"`,
      embedding: Prisma.sql`m.embedding`,
      searchVector: Prisma.sql`m.search_vector`,
    };
  });
  afterAll(() => prisma.$disconnect());

  it('lets the ANN form use the HNSW index', async () => {
    expect(await plan(vectorSearchSql(target, query, 10, false))).toContain('memories_embedding_hnsw_idx');
  });

  it('keeps the exact form off the HNSW index whatever the costs', async () => {
    expect(await plan(vectorSearchSql(target, query, 10, true))).not.toContain('hnsw');
  });

  it('counts matching rows no further than the threshold + 1', async () => {
    expect(await countMatching((sql) => prisma.queryRows(prisma, sql), target, 1000)).toBe(30);
    expect(await countMatching((sql) => prisma.queryRows(prisma, sql), target, 5)).toBe(6);
  });
});
