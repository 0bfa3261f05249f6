import {
  bruteForceTopK,
  createTestPrisma,
  float32Base64,
  makeAgent,
  makeConversation,
  makeOrganization,
  makeTenant,
  makeUser,
  seededRandom,
} from '../../testing';
import { float4Vector, makeMemories, makeMemory, type SeededMemory } from '../../testing/factories/memories';
import { InvalidInputError, NotFoundError } from '../errors';
import type { PrismaService } from '../prisma.service';
import { EMBEDDING_DIMENSIONS } from '../vector';
import { MemoryRepository, type MemoryInput, type MemorySearchResult } from './memory.repository';

const HOUR = 3_600_000;
const TOLERANCE = 1e-5;

/** Unit vector cos(θ)·e0 + sin(θ)·e1: its cosine similarity to e0 is cos(θ). */
function atSimilarity(similarity: number): number[] {
  const v = new Array<number>(EMBEDDING_DIMENSIONS).fill(0);
  v[0] = similarity;
  v[1] = Math.sqrt(1 - similarity * similarity);
  return v;
}

function expectSameRanking(actual: MemorySearchResult[], expected: Array<{ id: string; similarity: number }>) {
  expect(actual.map((r) => r.id)).toEqual(expected.map((r) => r.id));
  actual.forEach((row, i) => {
    expect(Math.abs(row.similarity! - expected[i].similarity)).toBeLessThan(TOLERANCE);
    expect(row.score).toBe(row.similarity);
  });
}

describe(MemoryRepository.name, () => {
  let prisma: PrismaService;
  let sut: MemoryRepository;

  const input = (overrides: Partial<MemoryInput> = {}): MemoryInput => ({
    content: 'the user prefers window seats',
    embedding: float4Vector(seededRandom(42)),
    ...overrides,
  });
  const countIn = (organizationId: string) => prisma.memory.count({ where: { organizationId } });

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new MemoryRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

  describe('writes and reads', () => {
    it('creates a memory and reads it back with its embedding', async () => {
      const { organization, agent, user, conversation } = await makeTenant(prisma);
      const embedding = float4Vector(seededRandom(1));
      const expiresAt = new Date(Date.now() + HOUR);

      const created = await sut.create(organization.id, input({
        embedding, agentId: agent.id, userId: user.id, conversationId: conversation.id,
        kind: 'preference', importance: 0.9, metadata: { source: 'chat' }, expiresAt, embeddingModel: 'text-embedding-3-small',
      }));

      expect(created).toMatchObject({
        organizationId: organization.id, agentId: agent.id, userId: user.id, conversationId: conversation.id,
        kind: 'preference', importance: 0.9, metadata: { source: 'chat' }, embeddingModel: 'text-embedding-3-small',
      });
      expect(created.expiresAt?.getTime()).toBe(expiresAt.getTime());
      expect(created.embedding).toEqual(embedding);
      expect(await sut.findById(organization.id, created.id)).toEqual(created);
    });

    it('creates a batch in input order with defaults, all or nothing', async () => {
      const { organization, agent } = await makeTenant(prisma);
      const random = seededRandom(2);

      const created = await sut.createMany(organization.id, [
        input({ content: 'first', embedding: float4Vector(random), agentId: agent.id }),
        input({ content: 'second', embedding: float4Vector(random) }),
        input({ content: 'third', embedding: float4Vector(random), kind: 'episode' }),
      ]);

      expect(created.map((m) => [m.content, m.kind, m.importance, m.agentId])).toEqual([
        ['first', 'fact', 0.5, agent.id], ['second', 'fact', 0.5, null], ['third', 'episode', 0.5, null],
      ]);
      await expect(
        sut.createMany(organization.id, [input({ content: 'ok' }), input({ embedding: [1, 2, 3] })]),
      ).rejects.toMatchObject({ details: [{ path: 'memories.1.embedding' }] });
      expect(await countIn(organization.id)).toBe(3);
    });

    it('writes a batch too large for one statement in several, in one transaction, in input order', async () => {
      const { organization } = await makeTenant(prisma);
      const random = seededRandom(6);
      // ~22 KB of statement text each: 400 of them take three statements.
      const inputs = Array.from({ length: 400 }, (_, i) => input({ content: `part ${i}`, embedding: float4Vector(random) }));
      const created = await sut.createMany(organization.id, inputs);
      expect(created.map((m) => m.content)).toEqual(inputs.map((m) => m.content));
      expect((await sut.findById(organization.id, created[399].id))!.embedding).toEqual(inputs[399].embedding);
      expect(await countIn(organization.id)).toBe(400);
    });

    it('stores a base64 embedding exactly like the same float32 values as numbers, extremes of float4 included', async () => {
      const { organization } = await makeTenant(prisma);
      const embedding = float4Vector(seededRandom(5));
      // The smallest subnormal, the largest float4, and values whose 9-digit form sits next to a power of ten.
      embedding.splice(0, 6, 1.401298464324817e-45, -3.4028234663852886e38, Math.fround(9.999999e-5), Math.fround(0.1), -1, 16777216);

      const fromNumbers = await sut.create(organization.id, input({ embedding }));
      const [fromBase64] = await sut.createMany(organization.id, [input({ embedding: float32Base64(embedding) })]);
      await sut.update(organization.id, fromNumbers.id, { embedding: Float32Array.from(embedding).reverse() });

      expect(fromNumbers.embedding).toEqual(embedding);
      expect((await sut.findById(organization.id, fromBase64.id))!.embedding).toEqual(embedding);
      expect((await sut.findById(organization.id, fromNumbers.id))!.embedding).toEqual([...embedding].reverse());
      const [hit] = await sut.search(organization.id, { embedding: float32Base64(embedding), k: 1, filter: { kind: 'fact' } });
      expect(hit.id).toBe(fromBase64.id);
    });

    it('rejects bad embeddings and writes nothing', async () => {
      const { organization } = await makeTenant(prisma);
      const nan = float4Vector(seededRandom(3));
      nan[7] = Number.NaN;

      const bad = [
        float4Vector(seededRandom(3)).slice(1), nan, new Array(EMBEDDING_DIMENSIONS).fill(0),
        float32Base64(float4Vector(seededRandom(3)).slice(1)), float32Base64(nan), 'bm90IGEgdmVjdG9y!',
      ];
      for (const embedding of bad) {
        const error = await sut.create(organization.id, input({ embedding })).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(InvalidInputError);
        expect((error as InvalidInputError).details[0].path).toBe('embedding');
      }
      await expect(sut.create(organization.id, input({ importance: 2 }))).rejects.toBeInstanceOf(InvalidInputError);
      expect(await countIn(organization.id)).toBe(0);
    });

    it("treats another organization's agent, user or conversation like a missing one and writes nothing", async () => {
      const mine = await makeTenant(prisma);
      const theirs = await makeTenant(prisma);

      for (const ref of [{ agentId: theirs.agent.id }, { userId: theirs.user.id }, { conversationId: theirs.conversation.id }, { agentId: 'nope' }]) {
        await expect(sut.create(mine.organization.id, input(ref))).rejects.toBeInstanceOf(NotFoundError);
        await expect(sut.createMany(mine.organization.id, [input(), input(ref)])).rejects.toBeInstanceOf(NotFoundError);
      }
      expect(await countIn(mine.organization.id)).toBe(0);
    });

    it("never reads, updates or deletes another organization's memory", async () => {
      const mine = await makeOrganization(prisma);
      const theirs = await makeOrganization(prisma);
      const memory = await makeMemory(prisma, theirs.id);

      expect(await sut.findById(mine.id, memory.id)).toBeNull();
      expect(await sut.update(mine.id, memory.id, { content: 'hijacked' })).toBeNull();
      expect(await sut.delete(mine.id, memory.id)).toBe(false);
      expect(await sut.findById(mine.id, 'not-a-uuid')).toBeNull();
      expect((await sut.findById(theirs.id, memory.id))?.content).toBe(memory.content);
    });

    it('updates content, embedding and the rest; full-text search sees the new content', async () => {
      const { organization, agent } = await makeTenant(prisma);
      const memory = await makeMemory(prisma, organization.id, { content: 'likes tea' });
      const embedding = float4Vector(seededRandom(4));

      const updated = await sut.update(organization.id, memory.id, {
        content: 'likes espresso', embedding, importance: 0.1, kind: 'preference', metadata: { v: 2 }, agentId: agent.id,
      });

      expect(updated).toMatchObject({ content: 'likes espresso', importance: 0.1, kind: 'preference', metadata: { v: 2 }, agentId: agent.id });
      expect(updated!.embedding).toEqual(embedding);
      expect(updated!.updatedAt.getTime()).toBeGreaterThanOrEqual(updated!.createdAt.getTime());
      const found = await sut.search(organization.id, { mode: 'text', query: 'espresso' });
      expect(found.map((r) => r.id)).toEqual([memory.id]);
      await expect(sut.update(organization.id, memory.id, { embedding: [0.5] })).rejects.toBeInstanceOf(InvalidInputError);
      expect(await sut.delete(organization.id, memory.id)).toBe(true);
      expect(await sut.findById(organization.id, memory.id)).toBeNull();
    });

    it('hides expired memories from every read, and purgeExpired removes them', async () => {
      const { organization } = await makeTenant(prisma);
      const query = float4Vector(seededRandom(5));
      const [expired, live, ancient] = await makeMemories(prisma, organization.id, [
        { embedding: query, content: 'expired secret', expiresAt: new Date(Date.now() - HOUR) },
        { content: 'live secret', expiresAt: new Date(Date.now() + HOUR) },
        { content: 'ancient secret', expiresAt: new Date('2001-01-01T00:00:00Z') },
      ]);

      expect(await sut.findById(organization.id, expired.id)).toBeNull();
      expect((await sut.listPage(organization.id)).data.map((m) => m.id)).toEqual([live.id]);
      expect((await sut.search(organization.id, { embedding: query })).map((m) => m.id)).toEqual([live.id]);
      expect((await sut.search(organization.id, { query: 'secret' })).map((m) => m.id)).toEqual([live.id]);
      expect(await sut.update(organization.id, expired.id, { content: 'back' })).toBeNull();
      expect(await sut.delete(organization.id, expired.id)).toBe(false);

      // A cut-off far in the past touches only this test's ancient row, whatever other suites hold.
      const cutoff = new Date('2001-06-01T00:00:00Z');
      const due = await prisma.memory.count({ where: { expiresAt: { lte: cutoff } } });
      expect(await countIn(organization.id)).toBe(3);
      const purged = await sut.purgeExpired(cutoff);
      expect(purged).toBeGreaterThanOrEqual(1);
      expect(purged).toBe(due);
      // Exactly one row of this organization went: the ancient one; the merely expired and the live one remain.
      expect(await countIn(organization.id)).toBe(2);
      expect(await prisma.memory.findUnique({ where: { id: ancient.id }, select: { id: true } })).toBeNull();
      const left = await prisma.memory.findMany({ where: { organizationId: organization.id }, select: { id: true } });
      expect(left.map((m) => m.id).sort()).toEqual([expired.id, live.id].sort());
      expect(await sut.purgeExpired(cutoff)).toBe(0);
    });

    it('rejects NUL characters in content, kind, embeddingModel and metadata (keys too) and writes nothing', async () => {
      const { organization } = await makeTenant(prisma);
      const memory = await makeMemory(prisma, organization.id, { content: 'untouched', metadata: { v: 1 } });
      const bad: Array<[Partial<MemoryInput>, string]> = [
        [{ content: 'window\u0000seat' }, 'content'],
        [{ metadata: { note: 'a\u0000b' } }, 'metadata.note'],
        [{ metadata: { nested: { list: ['ok', '\u0000'] } } }, 'metadata.nested.list.1'],
        [{ metadata: { ['k\u0000']: 1 } }, 'metadata'],
        [{ kind: 'fa\u0000ct' }, 'kind'],
        [{ embeddingModel: 'model\u0000' }, 'embeddingModel'],
      ];
      for (const [overrides, path] of bad) {
        const created = await sut.create(organization.id, input(overrides)).catch((e: unknown) => e);
        expect(created).toBeInstanceOf(InvalidInputError);
        expect((created as InvalidInputError).details).toEqual([expect.objectContaining({ path })]);

        const batch = await sut.createMany(organization.id, [input(), input(overrides)]).catch((e: unknown) => e);
        expect(batch).toBeInstanceOf(InvalidInputError);
        expect((batch as InvalidInputError).details).toEqual([expect.objectContaining({ path: `memories.1.${path}` })]);

        const updated = await sut.update(organization.id, memory.id, overrides).catch((e: unknown) => e);
        expect(updated).toBeInstanceOf(InvalidInputError);
        expect((updated as InvalidInputError).details).toEqual([expect.objectContaining({ path })]);
      }
      expect(await countIn(organization.id)).toBe(1);
      expect(await sut.findById(organization.id, memory.id)).toMatchObject({ content: 'untouched', metadata: { v: 1 } });
    });

    it('pages with a keyset cursor that returns every row exactly once while rows are inserted', async () => {
      const { organization, agent } = await makeTenant(prisma);
      // One INSERT: all 25 share created_at, so the id tie-breaker carries the ordering.
      const initial = await makeMemories(prisma, organization.id, Array.from({ length: 25 }, () => ({ agentId: agent.id })));
      await makeMemories(prisma, organization.id, [{ kind: 'other' }]);

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await sut.listPage(organization.id, { agentId: agent.id, limit: 7, cursor });
        seen.push(...page.data.map((m) => m.id));
        cursor = page.nextCursor;
        pages++;
        await makeMemories(prisma, organization.id, [{ agentId: agent.id }, { agentId: agent.id }], pages);
      } while (cursor);

      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toEqual(expect.arrayContaining(initial.map((m) => m.id)));
      await expect(sut.listPage(organization.id, { cursor: 'garbage' })).rejects.toBeInstanceOf(InvalidInputError);
    });
  });

  describe('search', () => {
    const ROWS = 300;
    let org: string;
    let live: SeededMemory[];
    let agents: string[];
    let users: string[];
    let otherOrg: string;
    let otherAgent: string;
    const query = float4Vector(seededRandom(2024));
    const visible = (f: (m: SeededMemory) => boolean = () => true) => live.filter(f);

    beforeAll(async () => {
      const organization = await makeOrganization(prisma);
      org = organization.id;
      agents = (await Promise.all([0, 1, 2].map(() => makeAgent(prisma, org)))).map((a) => a.id);
      users = (await Promise.all([0, 1, 2].map(() => makeUser(prisma, org)))).map((u) => u.id);
      const conversation = await makeConversation(prisma, org, agents[0], { userId: users[0] });
      const kinds = ['fact', 'preference', 'episode'];
      const topics = ['travel', 'food', 'work', 'family'];
      live = await makeMemories(
        prisma,
        org,
        Array.from({ length: ROWS }, (_, i) => ({
          agentId: agents[i % 3],
          userId: users[Math.floor(i / 3) % 3],
          conversationId: i % 10 === 0 ? conversation.id : null,
          kind: kinds[Math.floor(i / 9) % 3],
          // 2 of 300 rows (< 1%) carry the rare tag; 20 rows the cohort tag
          metadata: { topic: topics[i % 4], ...(i % 150 === 7 && { rare: true }), ...(i % 15 === 4 && { cohort: 'c' }) },
        })),
        7,
      );
      // Would be the best match of every search if expiry or tenancy leaked.
      await makeMemories(prisma, org, [
        { embedding: query, agentId: agents[0], userId: users[0], kind: 'fact', metadata: { topic: 'travel', rare: true }, expiresAt: new Date(Date.now() - HOUR) },
      ]);
      const other = await makeTenant(prisma);
      otherOrg = other.organization.id;
      otherAgent = other.agent.id;
      await makeMemories(prisma, otherOrg, [{ embedding: query, agentId: otherAgent, metadata: { topic: 'travel', rare: true } }], 8);
    });

    it('returns the true top k with cosine similarities, without a filter', async () => {
      const result = await sut.search(org, { embedding: query, k: 10 });
      expectSameRanking(result, bruteForceTopK(visible(), query, 10));
    });

    it('filters by agent', async () => {
      const result = await sut.search(org, { embedding: query, k: 15, filter: { agentId: agents[1] } });
      expectSameRanking(result, bruteForceTopK(visible((m) => m.agentId === agents[1]), query, 15));
    });

    it('filters by user and kind', async () => {
      const result = await sut.search(org, { embedding: query, filter: { userId: users[2], kind: 'episode' } });
      const expected = bruteForceTopK(visible((m) => m.userId === users[2] && m.kind === 'episode'), query, 10);
      expect(expected).toHaveLength(10);
      expectSameRanking(result, expected);
    });

    it('filters by metadata containment and conversation', async () => {
      const byTopic = await sut.search(org, { embedding: query, k: 20, filter: { metadata: { topic: 'food' } } });
      expectSameRanking(byTopic, bruteForceTopK(visible((m) => m.metadata.topic === 'food'), query, 20));
      const byConversation = await sut.search(org, { embedding: query, filter: { conversationId: live[0].conversationId! } });
      expectSameRanking(byConversation, bruteForceTopK(visible((m) => m.conversationId === live[0].conversationId), query, 10));
    });

    it('finds every row of a filter matching under 1% of the organization', async () => {
      const rare = visible((m) => m.metadata.rare === true);
      expect(rare.length / ROWS).toBeLessThan(0.01);
      for (const strategy of ['auto', 'exact'] as const) {
        const result = await sut.search(org, { embedding: query, k: 10, strategy, filter: { metadata: { rare: true } } });
        expectSameRanking(result, bruteForceTopK(rare, query, 10));
      }
      // Above the exact threshold the HNSW path answers; it must still find the rare rows.
      const annFirst = new MemoryRepository(prisma, { exactSearchThreshold: 0 });
      const viaAnn = await annFirst.search(org, { embedding: query, filter: { metadata: { rare: true } } });
      expectSameRanking(viaAnn, bruteForceTopK(rare, query, 10));
    });

    it('applies minSimilarity to the top k after it is picked', async () => {
      const top = bruteForceTopK(visible(), query, 10);
      const floor = (top[4].similarity + top[5].similarity) / 2;
      expectSameRanking(await sut.search(org, { embedding: query, k: 10, minSimilarity: floor }), top.slice(0, 5));
      expectSameRanking(await sut.search(org, { embedding: query, k: 3, minSimilarity: -1 }), top.slice(0, 3));
      expect(await sut.search(org, { embedding: query, minSimilarity: 0.99 })).toEqual([]);
    });

    it('keeps recall@10 >= 0.9 when forced onto the HNSW index', async () => {
      // HNSW is approximate: with ef_search=100 it may legitimately swap a near-tie or miss a neighbour,
      // so the ANN path is held to recall, not to exact equality.
      for (const filter of [{}, { agentId: agents[2] }]) {
        const expected = bruteForceTopK(visible((m) => !filter.agentId || m.agentId === filter.agentId), query, 10);
        const result = await sut.search(org, { embedding: query, k: 10, strategy: 'ann', filter });
        const hits = result.filter((r) => expected.some((e) => e.id === r.id)).length;
        expect(hits / expected.length).toBeGreaterThanOrEqual(0.9);
        for (const row of result) {
          const truth = visible().find((m) => m.id === row.id)!;
          expect(row.agentId).toBe(truth.agentId);
        }
      }
    });

    it('keeps recall@10 >= 0.9 on the HNSW path with a filter when more rows match than the exact threshold', async () => {
      const cohort = visible((m) => m.metadata.cohort === 'c');
      expect(cohort).toHaveLength(20);
      const expected = bruteForceTopK(cohort, query, 10);
      const smallThreshold = new MemoryRepository(prisma, { exactSearchThreshold: 5 });
      const queries = jest.spyOn(prisma, 'queryRows');
      let result: MemorySearchResult[];
      let calls: Array<{ text: string; values: unknown[] }>;
      let plan: string;
      try {
        // On a table this small the planner would rather sort the filtered rows than walk the index; with sorting
        // priced out (this transaction only) the ANN statement is answered by the HNSW index, as on a big table.
        [result, calls, plan] = await prisma.transaction(async (tx) => {
          await tx.$executeRawUnsafe('set local enable_sort = off');
          const rows = await smallThreshold.search(org, { embedding: query, k: 10, filter: { metadata: { cohort: 'c' } } }, tx);
          const sent = queries.mock.calls.map(([, sql]) => ({ text: sql.text, values: sql.values as unknown[] }));
          const explained = await tx.$queryRawUnsafe<Array<Record<string, string>>>(
            `explain (analyze, costs off, timing off, summary off) ${sent[0].text}`,
            ...sent[0].values,
          );
          return [rows, sent, explained.map((r) => Object.values(r)[0]).join('\n')] as const;
        });
      } finally {
        queries.mockRestore();
      }
      // 20 matching rows > 5: one statement (autoVectorSearchSql) with the bounded count, the ANN form (ORDER BY
      // distance) served by the HNSW index, and the exact form as the fallback should the ANN form come back short.
      expect(calls).toHaveLength(1);
      expect(calls[0].text).toContain('count(*)');
      expect(calls[0].text).toContain('as distance');
      expect(plan).toContain('memories_embedding_hnsw_idx');
      if (prisma.mode === 'postgres') {
        // iterative_scan keeps walking the index until k rows pass the filter: the exact branch (the union's
        // second) returns nothing. The embedded database's HNSW scan may stop short of k filtered rows, and the
        // exact branch then answers.
        expect(plan).toMatch(/Subquery Scan on "\*SELECT\* 2" \(actual rows=0 /);
      }

      expect(result).toHaveLength(10);
      expect(new Set(result.map((r) => r.id)).size).toBe(10);
      const hits = result.filter((r) => expected.some((e) => e.id === r.id)).length;
      expect(hits / expected.length).toBeGreaterThanOrEqual(0.9);
      for (let i = 1; i < result.length; i++) expect(result[i - 1].similarity!).toBeGreaterThanOrEqual(result[i].similarity!);
      for (const row of result) {
        const truth = cohort.find((m) => m.id === row.id);
        expect(truth).toBeDefined();
        expect(row.metadata).toMatchObject({ cohort: 'c' });
        const [brute] = bruteForceTopK([truth!], query, 1);
        expect(Math.abs(row.similarity! - brute.similarity)).toBeLessThan(TOLERANCE);
        expect(row.score).toBe(row.similarity);
      }
    });

    it('skips the count while a search is known to match more than the threshold, with the same result', async () => {
      const smallThreshold = new MemoryRepository(prisma, { exactSearchThreshold: 5 });
      const search = () => smallThreshold.search(org, { embedding: query, k: 10, filter: { metadata: { cohort: 'c' } } });
      const queries = jest.spyOn(prisma, 'queryRows');
      try {
        const first = await search();
        const second = await search();
        // Counted first (the auto statement), remembered after: the second search is the HNSW statement alone.
        const counted = queries.mock.calls.map(([, sql]) => sql.text.includes('count(*)'));
        expect(counted).toEqual([true, false]);
        expect(queries.mock.calls[1][1].text).toMatch(/order by distance\s+limit 10\s*$/);
        expect(second.map((r) => r.id)).toEqual(first.map((r) => r.id));
        expect(second.map((r) => r.similarity)).toEqual(first.map((r) => r.similarity));
        // Another filter is another search: counted.
        await smallThreshold.search(org, { embedding: query, k: 10, filter: { metadata: { cohort: 'x' } } });
        expect(queries.mock.calls[2][1].text).toContain('count(*)');
      } finally {
        queries.mockRestore();
      }
    });

    it("never returns another organization's memories; their ids in a filter match nothing", async () => {
      const result = await sut.search(org, { embedding: query, k: 100 });
      expect(result.every((r) => r.organizationId === org)).toBe(true);
      expect(await sut.search(org, { embedding: query, filter: { agentId: otherAgent } })).toEqual([]);
      expect((await sut.search(otherOrg, { embedding: query })).map((r) => r.organizationId)).toEqual([otherOrg]);
    });

    it('rejects bad search input', async () => {
      const bad = [
        { embedding: query.slice(0, 100) },
        { embedding: query, k: 0 },
        { embedding: query, k: 101 },
        { embedding: query, k: 2.5 },
        { embedding: query, minSimilarity: 2 },
        { mode: 'text' as const },
        { mode: 'hybrid' as const, embedding: query },
        { embedding: query, filter: { agentId: 'x' } },
      ];
      for (const options of bad) {
        await expect(sut.search(org, options)).rejects.toBeInstanceOf(InvalidInputError);
      }
    });
  });

  describe('text and hybrid search', () => {
    it('ranks the memory with the query terms first', async () => {
      const { organization } = await makeTenant(prisma);
      const [coffee, tea] = await makeMemories(prisma, organization.id, [
        { content: 'The user orders dark roast coffee every morning; coffee keeps them going' },
        { content: 'The user drinks green tea in the afternoon' },
        { content: 'Meetings are scheduled on Tuesdays' },
        { content: 'Coffee machines in the office were replaced' },
      ]);

      const result = await sut.search(organization.id, { mode: 'text', query: 'dark roast coffee' });

      expect(result[0].id).toBe(coffee.id);
      expect(result.map((r) => r.id)).not.toContain(tea.id);
      expect(result[0].similarity).toBeNull();
      expect(result[0].score).toBeGreaterThan(0);
    });

    it('fuses the vector and text rankings with RRF (k = 60)', async () => {
      const { organization } = await makeTenant(prisma);
      const query = atSimilarity(1);
      // vector order: a (0.99), d (0.8), b (0.5), c (0.1); text order for "coffee": b (3 hits), c (1 hit)
      const [a, b, c, d] = await makeMemories(prisma, organization.id, [
        { embedding: atSimilarity(0.99), content: 'apples and pears' },
        { embedding: atSimilarity(0.5), content: 'coffee, coffee and more coffee' },
        { embedding: atSimilarity(0.1), content: 'a long note that mentions coffee only once among many other words' },
        { embedding: atSimilarity(0.8), content: 'bicycles' },
      ]);

      const result = await sut.search(organization.id, { mode: 'hybrid', embedding: query, query: 'coffee', k: 4 });

      const expected = [
        [b.id, 1 / 63 + 1 / 61],
        [c.id, 1 / 64 + 1 / 62],
        [a.id, 1 / 61],
        [d.id, 1 / 62],
      ] as const;
      expect(result.map((r) => r.id)).toEqual(expected.map(([id]) => id));
      result.forEach((r, i) => expect(r.score).toBeCloseTo(expected[i][1], 12));
      expect(result.map((r) => r.similarity)).toEqual([0.5, 0.1, 0.99, 0.8].map((s) => expect.closeTo(s, 5)));
    });
  });
});
