import pg from 'pg';
import { createTestPrisma, testDatabaseMode } from '../../testing';
import { InvalidInputError } from '../errors';
import type { PrismaService } from '../prisma.service';
import { BACKUP_REQUESTED_CHANNEL, BackupRepository } from './backup.repository';

describe(BackupRepository.name, () => {
  let prisma: PrismaService;
  let sut: BackupRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new BackupRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

  it('queues a request, notifies the worker channel, and lets exactly one claimer take it', async () => {
    const listener = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await listener.connect();
    try {
      await listener.query(`listen ${BACKUP_REQUESTED_CHANNEL}`);
      const heard = new Promise<string>((resolve) => listener.on('notification', (n) => resolve(n.payload!)));
      const requested = await sut.requestBackup();
      expect(requested).toMatchObject({ status: 'queued', sizeBytes: null, finishedAt: null });
      // The embedded server delivers NOTIFY only inside its own process (EMBEDDED_LIMITATIONS); the worker polls there.
      if (testDatabaseMode() === 'postgres') expect(await heard).toBe(requested.id);
      const claimed = await sut.claimQueued(requested.id, { target: 'local', location: '/x' });
      expect(claimed).toMatchObject({ id: requested.id, status: 'running', target: 'local' });
      expect(await sut.claimQueued(requested.id, { target: 'local', location: '/x' })).toBeNull();
      expect(await sut.markCompleted(requested.id, { location: '/x', schemaVersion: 'v1', sizeBytes: 5_000_000_000, encrypted: true, manifest: { a: 1 } })).toBe(true);
      expect(await sut.findById(requested.id)).toMatchObject({ status: 'completed', sizeBytes: 5_000_000_000, encrypted: true });
      expect(await sut.markFailed(requested.id, 'late')).toBe(false);
    } finally {
      await listener.end();
    }
  });

  it('lists newest first with keyset cursors and a status filter; bad input is an InvalidInputError', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await sut.createRunning({ target: 'local', location: `/l${i}` }));
    for (const m of made) await sut.markFailed(m.id, 'test');
    const first = await sut.listPage({ limit: 2, status: 'failed' });
    expect(first.data).toHaveLength(2);
    const second = await sut.listPage({ limit: 2, status: 'failed', cursor: first.nextCursor });
    const ids = [...first.data, ...second.data].map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(expect.arrayContaining([made[2].id, made[1].id]));
    expect(first.data[0].startedAt.getTime()).toBeGreaterThanOrEqual(first.data[1].startedAt.getTime());
    await expect(sut.listPage({ status: 'nope' as never })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(sut.listPage({ cursor: 'garbage' })).rejects.toBeInstanceOf(InvalidInputError);
    expect(await sut.findById('not-a-uuid')).toBeNull();
    expect(await sut.delete(made[0].id)).toBe(true);
    expect(await sut.findById(made[0].id)).toBeNull();
  });
});
