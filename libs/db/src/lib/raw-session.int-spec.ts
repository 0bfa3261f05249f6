import { Prisma } from '../generated/prisma/client';
import { createTestPrisma, makeTenant, testDatabaseMode } from '../testing';
import { ConflictError } from './errors';
import { PrismaService } from './prisma.service';

/** Raw transactions (PrismaService.rawTransaction over RawSession) against the real database. */
describe('raw transactions: statements deferred until commit', () => {
  let prisma: PrismaService;
  beforeAll(() => (prisma = createTestPrisma()));
  afterAll(() => prisma.$disconnect());

  const rename = (id: string, name: string) => Prisma.sql`UPDATE agents SET name = ${name}::text WHERE id = ${id}::uuid`;
  const nameOf = async (id: string) => (await prisma.agent.findUniqueOrThrow({ where: { id } })).name;

  it('commit with the transaction, in the order they were queued, and vanish with a rollback', async () => {
    const { organization, agent } = await makeTenant(prisma);
    const seen = await prisma.rawTransaction(organization.id, async (db) => {
      await prisma.queryRows(db, rename(agent.id, 'first'), { deferUntilCommit: true });
      await prisma.queryRows(db, rename(agent.id, 'second'), { deferUntilCommit: true });
      // not sent yet: the transaction's own reads do not see them
      return (await prisma.queryRows<{ name: string }>(db, Prisma.sql`SELECT name FROM agents WHERE id = ${agent.id}::uuid`))[0].name;
    });
    expect(seen).toBe(agent.name);
    expect(await nameOf(agent.id)).toBe('second');

    await expect(
      prisma.rawTransaction(organization.id, async (db) => {
        await prisma.queryRows(db, rename(agent.id, 'never'), { deferUntilCommit: true });
        throw new Error('the handler failed');
      }),
    ).rejects.toThrow('the handler failed');
    expect(await nameOf(agent.id)).toBe('second');
  });

  it('commit: a statement sent with the deferred ones and COMMIT ends the transaction; a later one runs in a new one, under the tenant again', async () => {
    const { organization, agent } = await makeTenant(prisma);
    const tenantOf = (db: Parameters<Parameters<PrismaService['rawTransaction']>[1]>[0]) =>
      prisma.queryRows<{ org: string | null }>(db, Prisma.sql`SELECT current_setting('app.organization_id', true) AS org`);
    await expect(
      prisma.rawTransaction(organization.id, async (db) => {
        await prisma.queryRows(db, rename(agent.id, 'deferred'), { deferUntilCommit: true });
        const [row] = await prisma.queryRows<{ name: string }>(db, Prisma.sql`SELECT name FROM agents WHERE id = ${agent.id}::uuid`, { commit: true });
        expect(row.name).toBe(agent.name); // the deferred statement runs after it, before COMMIT
        expect(await tenantOf(db)).toEqual([{ org: organization.id }]);
        await prisma.queryRows(db, rename(agent.id, 'rolled back'));
        throw new Error('the handler failed');
      }),
    ).rejects.toThrow('the handler failed');
    expect(await nameOf(agent.id)).toBe('deferred');

    // A failing statement sent with COMMIT rolls back what went before it.
    await expect(
      prisma.rawTransaction(organization.id, async (db) => {
        await prisma.queryRows(db, rename(agent.id, 'never'));
        await prisma.queryRows(db, Prisma.sql`SELECT 1 / (0 * ${1}::int)`, { commit: true });
      }, { retries: 0 }),
    ).rejects.toThrow(/division by zero/);
    expect(await nameOf(agent.id)).toBe('deferred');
  });

  it('after a statement committed with `commit`, a failure is not retried (that would repeat the durable write) and nothing can be deferred', async () => {
    const { organization, agent } = await makeTenant(prisma);
    let runs = 0;
    const retryable = Object.assign(new ConflictError('a retryable failure after the commit'), { retryTransaction: true });
    await expect(
      prisma.rawTransaction(organization.id, async (db) => {
        runs++;
        await prisma.queryRows(db, rename(agent.id, `committed ${runs}`), { commit: true });
        throw retryable;
      }),
    ).rejects.toBe(retryable);
    expect(runs).toBe(1);
    expect(await nameOf(agent.id)).toBe('committed 1');
    // Without the early commit the same failure is retried, as before.
    runs = 0;
    await expect(
      prisma.rawTransaction(organization.id, async (db) => {
        runs++;
        await prisma.queryRows(db, rename(agent.id, `rolled back ${runs}`));
        throw retryable;
      }, { retries: 1 }),
    ).rejects.toBe(retryable);
    expect(runs).toBe(2);
    expect(await nameOf(agent.id)).toBe('committed 1');
    await expect(
      prisma.rawTransaction(organization.id, async (db) => {
        await prisma.queryRows(db, rename(agent.id, 'committed again'), { commit: true });
        await prisma.queryRows(db, rename(agent.id, 'too late'), { deferUntilCommit: true });
      }),
    ).rejects.toThrow(/nothing can be deferred/);
    expect(await nameOf(agent.id)).toBe('committed again');
  });

  it('a deferred statement runs prepared on the connection, and one the server lost is prepared again', async () => {
    // One connection, so every transaction below meets the statements the ones before it prepared.
    const single = new PrismaService({ mode: testDatabaseMode(), url: process.env.TEST_DATABASE_URL!, poolSize: 1, close: async () => undefined });
    try {
      const { organization, agent } = await makeTenant(prisma);
      const prepared = () =>
        single.queryRows<{ n: number }>(single, Prisma.sql`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement LIKE '%UPDATE agents SET name%'`);
      for (const name of ['a', 'b', 'c']) {
        await single.rawTransaction(organization.id, (db) => single.queryRows(db, rename(agent.id, name), { deferUntilCommit: true }));
      }
      expect(await nameOf(agent.id)).toBe('c');
      // PostgreSQL: prepared once, EXECUTEd three times; the embedded database's shared backend writes it out.
      expect((await prepared())[0].n).toBe(testDatabaseMode() === 'postgres' ? 1 : 0);
      // The server forgets it behind the session's back (as DISCARD ALL of a pooler would): the next transaction
      // fails on its EXECUTE, is retried and prepares it again.
      await single.queryRows(single, Prisma.sql`DEALLOCATE ALL`);
      await single.rawTransaction(organization.id, (db) => single.queryRows(db, rename(agent.id, 'd'), { deferUntilCommit: true }));
      expect(await nameOf(agent.id)).toBe('d');
      expect((await prepared())[0].n).toBe(testDatabaseMode() === 'postgres' ? 1 : 0);
    } finally {
      // Ends its pool too ($disconnect does only when Prisma itself connected, which it never did here).
      await single.onModuleDestroy();
    }
  });
});
