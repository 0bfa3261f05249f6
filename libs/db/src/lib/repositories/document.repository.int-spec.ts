import { bruteForceTopK, createTestPrisma, makeOrganization, makeTenant, seededRandom } from '../../testing';
import { float4Vector } from '../../testing/factories/memories';
import { InvalidInputError, NotFoundError } from '../errors';
import type { PrismaService } from '../prisma.service';
import { DocumentRepository, type DocumentChunkInput } from './document.repository';

describe(DocumentRepository.name, () => {
  let prisma: PrismaService;
  let sut: DocumentRepository;

  const chunks = (n: number, seed: number, content = (i: number) => `chunk ${i}`): DocumentChunkInput[] => {
    const random = seededRandom(seed);
    return Array.from({ length: n }, (_, i) => ({ content: content(i), embedding: float4Vector(random) }));
  };
  const countIn = async (organizationId: string) => ({
    documents: await prisma.document.count({ where: { organizationId } }),
    chunks: await prisma.documentChunk.count({ where: { organizationId } }),
  });

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new DocumentRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

  it('creates a document with its chunks at positions 0..n-1 and reads it back', async () => {
    const { organization, agent } = await makeTenant(prisma);

    const created = await sut.create(organization.id, {
      title: 'Handbook', content: 'full text', agentId: agent.id, metadata: { lang: 'en' }, chunks: chunks(3, 1),
    });

    expect(created).toMatchObject({ title: 'Handbook', agentId: agent.id, metadata: { lang: 'en' }, chunkCount: 3 });
    const found = await sut.findById(organization.id, created.id, { includeChunks: true });
    expect(found?.chunkCount).toBe(3);
    expect(found?.chunks?.map((c) => [c.position, c.content])).toEqual([[0, 'chunk 0'], [1, 'chunk 1'], [2, 'chunk 2']]);
    expect(found?.chunks?.[0]).not.toHaveProperty('embedding');
    expect(await sut.findById(organization.id, created.id)).not.toHaveProperty('chunks');
  });

  it('writes nothing when a chunk is invalid or the agent is not the organization’s', async () => {
    const mine = await makeTenant(prisma);
    const theirs = await makeTenant(prisma);
    const bad = chunks(3, 2);
    bad[2] = { content: 'short', embedding: [1, 2] };

    await expect(sut.create(mine.organization.id, { title: 'x', chunks: bad })).rejects.toMatchObject({
      details: [{ path: 'chunks.2.embedding' }],
    });
    await expect(sut.create(mine.organization.id, { title: 'x', chunks: chunks(2, 3), agentId: theirs.agent.id })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(sut.create(mine.organization.id, { title: ' ' })).rejects.toBeInstanceOf(InvalidInputError);
    expect(await countIn(mine.organization.id)).toEqual({ documents: 0, chunks: 0 });
  });

  it('rejects NUL characters in a chunk, the title, the content or the metadata and writes nothing', async () => {
    const { organization } = await makeTenant(prisma);
    const withNulChunk = chunks(3, 9);
    withNulChunk[1] = { ...withNulChunk[1], content: 'part\u0000one' };
    const cases: Array<[Parameters<DocumentRepository['create']>[1], string]> = [
      [{ title: 'Doc', chunks: withNulChunk }, 'chunks.1.content'],
      [{ title: 'Doc', chunks: [{ content: 'ok', embeddingModel: 'm\u0000' }] }, 'chunks.0.embeddingModel'],
      [{ title: 'Do\u0000c', chunks: chunks(1, 10) }, 'title'],
      [{ title: 'Doc', content: 'full\u0000text' }, 'content'],
      [{ title: 'Doc', metadata: { lang: 'e\u0000n' } }, 'metadata.lang'],
      [{ title: 'Doc', metadata: { ['l\u0000ng']: 'en' } }, 'metadata'],
    ];
    for (const [input, path] of cases) {
      const error = await sut.create(organization.id, input).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).details).toEqual([expect.objectContaining({ path })]);
    }
    expect(await countIn(organization.id)).toEqual({ documents: 0, chunks: 0 });
  });

  it("never reads or deletes another organization's document", async () => {
    const mine = await makeOrganization(prisma);
    const theirs = await makeOrganization(prisma);
    const doc = await sut.create(theirs.id, { title: 'Theirs', chunks: chunks(2, 4) });

    expect(await sut.findById(mine.id, doc.id)).toBeNull();
    expect(await sut.delete(mine.id, doc.id)).toBe(false);
    expect((await sut.listPage(mine.id)).data).toEqual([]);
    expect(await sut.delete(theirs.id, doc.id)).toBe(true);
    expect(await countIn(theirs.id)).toEqual({ documents: 0, chunks: 0 });
  });

  it('pages newest first with a keyset cursor', async () => {
    const { id } = await makeOrganization(prisma);
    const created = [];
    for (let i = 0; i < 5; i++) created.push(await sut.create(id, { title: `Doc ${i}` }));

    const first = await sut.listPage(id, { limit: 3 });
    const second = await sut.listPage(id, { limit: 3, cursor: first.nextCursor });

    expect([...first.data, ...second.data].map((d) => d.id).sort()).toEqual(created.map((d) => d.id).sort());
    expect(second.nextCursor).toBeNull();
    // Newest first: created_at descending, then id descending among rows created in the same millisecond.
    const newestFirst = [...created].sort(
      (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
    );
    expect([...first.data, ...second.data].map((d) => d.id)).toEqual(newestFirst.map((d) => d.id));
    expect(first.data).toHaveLength(3);
    expect(first.nextCursor).not.toBeNull();
  });

  describe('search', () => {
    let org: string;
    const all: Array<{ id: string; documentId: string; embedding: number[]; topic: string }> = [];
    const query = float4Vector(seededRandom(77));

    beforeAll(async () => {
      org = (await makeOrganization(prisma)).id;
      for (let d = 0; d < 6; d++) {
        const input = chunks(25, 100 + d, (i) => `document ${d} part ${i}`);
        const doc = await sut.create(org, { title: `Doc ${d}`, metadata: { topic: d % 2 ? 'odd' : 'even' }, chunks: input });
        const stored = await prisma.documentChunk.findMany({ where: { documentId: doc.id }, select: { id: true, position: true } });
        for (const c of stored) {
          all.push({ id: c.id, documentId: doc.id, embedding: input[c.position].embedding as number[], topic: d % 2 ? 'odd' : 'even' });
        }
      }
      // Another organization's chunk identical to the query must never show up.
      await sut.create((await makeOrganization(prisma)).id, { title: 'Other', chunks: [{ content: 'x', embedding: query }] });
    });

    it('returns the true top k chunks with their document', async () => {
      for (const [filter, rows] of [
        [{}, all],
        [{ metadata: { topic: 'odd' } }, all.filter((c) => c.topic === 'odd')],
        [{ documentId: all[0].documentId }, all.filter((c) => c.documentId === all[0].documentId)],
      ] as const) {
        const result = await sut.search(org, { embedding: query, k: 12, filter });
        const expected = bruteForceTopK(rows, query, 12);
        expect(result.map((r) => r.id)).toEqual(expected.map((e) => e.id));
        result.forEach((r, i) => {
          expect(Math.abs(r.similarity! - expected[i].similarity)).toBeLessThan(1e-5);
          expect(r.documentId).toBe(expected[i].documentId);
          expect(r.documentTitle).toMatch(/^Doc \d$/);
        });
      }
    });

    it('ranks chunks by full-text relevance and fuses in hybrid mode', async () => {
      const { id } = await makeOrganization(prisma);
      const doc = await sut.create(id, {
        title: 'Guide',
        chunks: [
          { content: 'Install the espresso machine and descale the espresso machine monthly' },
          { content: 'The warranty covers two years', embedding: float4Vector(seededRandom(5)) },
          { content: 'Espresso needs finely ground beans', embedding: float4Vector(seededRandom(6)) },
        ],
      });

      const text = await sut.search(id, { mode: 'text', query: 'espresso machine' });
      expect(text.map((r) => r.position)).toEqual([0]);
      expect(text[0]).toMatchObject({ documentId: doc.id, documentTitle: 'Guide', similarity: null });
      const hybrid = await sut.search(id, { embedding: float4Vector(seededRandom(5)), query: 'espresso', k: 3 });
      // vector: [1, 2] (chunk 0 has no embedding); text: [0, 2] or [2, 0] → chunk 2 is in both lists
      expect(hybrid[0].position).toBe(2);
      expect(hybrid.map((r) => r.position).sort()).toEqual([0, 1, 2]);
    });

    it('rejects bad search input', async () => {
      await expect(sut.search(org, { embedding: query.slice(1) })).rejects.toBeInstanceOf(InvalidInputError);
      await expect(sut.search(org, { embedding: query, k: 500 })).rejects.toBeInstanceOf(InvalidInputError);
    });
  });
});
