import pg from 'pg';
import { PrismaService } from '../prisma.service';
import { describeOnPostgres, testDatabaseDirectUrl, testDatabaseTarget } from '../../testing/test-database';

// Found by review of the failover drill: an interactive transaction whose connection was lost kept it checked out for
// good, and after DATABASE_POOL_SIZE such losses every statement of the process waited forever.
describeOnPostgres('interactive transactions whose connection is lost (LostConnectionPrismaPg)', () => {
  let prisma: PrismaService;
  let admin: pg.Client;

  beforeAll(async () => {
    prisma = new PrismaService({ ...testDatabaseTarget(), poolSize: 2 });
    admin = new pg.Client({ connectionString: testDatabaseDirectUrl() });
    await admin.connect();
  });

  afterAll(async () => {
    await admin.end();
    await prisma.onModuleDestroy();
  });

  it('give the connection back: the pool keeps serving after more losses than it has connections', async () => {
    for (let i = 0; i < 3; i++) {
      const tag = `lost-${process.pid}-${i}`;
      const tx = prisma.transaction(async (db) => {
        await db.$executeRawUnsafe(`select set_config('application_name', '${tag}', true)`);
        await db.$queryRawUnsafe('select pg_sleep(30)');
      }, { retries: 0 });
      // Terminate that transaction's backend while its statement runs.
      for (let tries = 0; ; tries++) {
        const { rowCount } = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [tag]);
        if (rowCount) break;
        if (tries > 200) throw new Error('the transaction never started');
        await new Promise((r) => setTimeout(r, 25));
      }
      await expect(tx).rejects.toBeDefined();
    }
    // With 2 connections and 3 of them lost, this waits forever without the shim.
    const started = Date.now();
    await expect(prisma.rawTransaction(null, (db) => db.$queryRawUnsafe<Array<{ ok: number }>>('select 1 as ok'))).resolves.toEqual([{ ok: 1 }]);
    await expect(prisma.transaction((db) => db.$queryRawUnsafe<Array<{ ok: number }>>('select 2 as ok'))).resolves.toEqual([{ ok: 2 }]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
