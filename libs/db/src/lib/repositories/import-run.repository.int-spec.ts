import { createTestPrisma, makeOrganization } from '../../testing';
import type { PrismaService } from '../prisma.service';
import { ImportRunRepository } from './import-run.repository';

describe(ImportRunRepository.name, () => {
  let prisma: PrismaService;
  let sut: ImportRunRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new ImportRunRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

  const start = (organizationId: string, overrides: Partial<Parameters<ImportRunRepository['start']>[0]> = {}) =>
    sut.start({ organizationId, source: 'agentos-sqlite', sourceDigest: 'abc', dryRun: false, onConflict: 'skip', ...overrides });

  it('records a run, its checkpoints and how it ended', async () => {
    const org = await makeOrganization(prisma);
    const run = await start(org.id);
    expect(run).toMatchObject({ status: 'running', checkpoint: null, counts: {}, finishedAt: null });
    await sut.checkpoint(run.id, { section: 'conversations', after: 'c-9' }, { done: 10 });
    expect(await sut.findById(run.id)).toMatchObject({ checkpoint: { section: 'conversations', after: 'c-9' }, counts: { done: 10 } });
    const done = await sut.complete(run.id, { done: 20 });
    expect(done).toMatchObject({ status: 'completed', counts: { done: 20 }, error: null });
    expect(done.finishedAt).toBeInstanceOf(Date);
    expect(await sut.findById('not-a-uuid')).toBeNull();
  });

  it('a checkpoint written in a transaction that rolls back is not kept', async () => {
    const org = await makeOrganization(prisma);
    const run = await start(org.id);
    await expect(
      prisma.transaction(async (tx) => {
        await sut.checkpoint(run.id, { section: 's', after: 1 }, { done: 1 }, tx);
        throw new Error('batch failed');
      }, { retries: 0 }),
    ).rejects.toThrow('batch failed');
    expect((await sut.findById(run.id))?.checkpoint).toBeNull();
  });

  it('finds the newest unfinished real run of the same source, digest and organization to resume', async () => {
    const org = await makeOrganization(prisma);
    const other = await makeOrganization(prisma);
    const completed = await start(org.id);
    await sut.complete(completed.id, {});
    await start(org.id, { dryRun: true });
    await start(org.id, { sourceDigest: 'other' });
    await start(other.id);
    expect(await sut.findResumable(org.id, 'agentos-sqlite', 'abc')).toBeNull();

    const failed = await start(org.id);
    await sut.fail(failed.id, 'x'.repeat(5000), { done: 3 });
    const stored = await sut.findById(failed.id);
    expect(stored).toMatchObject({ status: 'failed', counts: { done: 3 } });
    expect(stored?.error).toHaveLength(4000);
    expect((await sut.findResumable(org.id, 'agentos-sqlite', 'abc'))?.id).toBe(failed.id);

    const reopened = await sut.reopen(failed.id, 'replace');
    expect(reopened).toMatchObject({ status: 'running', error: null, finishedAt: null, onConflict: 'replace' });
    expect((await sut.listForOrganization(org.id)).map((r) => r.id)).toContain(failed.id);
    expect(await sut.listForOrganization('nope')).toEqual([]);
  });
});
