import { Prisma } from '../generated/prisma/client';
import { createTestPrisma, makeTenant } from '../testing';
import type { PrismaService } from './prisma.service';
import { enterTenant, rowSecurityState } from './tenancy';

describe('tenant transactions (row-level security)', () => {
  let prisma: PrismaService;
  beforeAll(() => (prisma = createTestPrisma()));
  afterAll(() => prisma.$disconnect());

  it('a Prisma tenant transaction sees and writes only its organization', async () => {
    const a = await makeTenant(prisma);
    const b = await makeTenant(prisma);
    await prisma.tenantTransaction(a.organization.id, async (tx) => {
      expect(await rowSecurityState(tx)).toEqual({ role: 'agenthub_app', bypassesRls: false, organizationId: a.organization.id });
      const orgs = await tx.$queryRaw<Array<{ id: string }>>`select distinct organization_id::text as id from agents`;
      expect(orgs.map((o) => o.id)).toEqual([a.organization.id]);
      expect(await tx.agent.count({ where: { id: b.agent.id } })).toBe(0);
    });
    await expect(
      prisma.transaction(async (tx) => {
        await enterTenant(tx, a.organization.id);
        await tx.agent.update({ where: { id: b.agent.id }, data: { name: 'taken over' } });
      }),
    ).rejects.toThrow();
    expect((await prisma.agent.findUnique({ where: { id: b.agent.id } }))!.name).not.toBe('taken over');
  });

  it('a raw read transaction applies the same policies, is read-only and refuses model calls', async () => {
    const a = await makeTenant(prisma);
    const b = await makeTenant(prisma);
    const rows = await prisma.rawReadTransaction(a.organization.id, (db) =>
      prisma.queryRows<{ id: string }>(db, Prisma.sql`select distinct organization_id::text as id from conversations`),
    );
    expect(rows.map((r) => r.id)).toEqual([a.organization.id]);
    const state = await prisma.rawReadTransaction(b.organization.id, (db) => rowSecurityStateRaw(prisma, db));
    expect(state).toEqual({ role: 'agenthub_app', org: b.organization.id });
    await expect(
      prisma.rawReadTransaction(a.organization.id, (db) => prisma.queryRows(db, Prisma.sql`update agents set name = 'x'`)),
    ).rejects.toThrow(/read-only/);
    await expect(prisma.rawReadTransaction(a.organization.id, async (db) => db.agent.count())).rejects.toThrow(/raw SQL only/);
    // nothing of the settings leaks to the next user of the pooled connection
    const after = await prisma.queryRows<{ org: string | null; role: string }>(
      prisma,
      Prisma.sql`select nullif(current_setting('app.organization_id', true), '') as org, current_user::text as role`,
    );
    expect(after[0].org).toBeNull();
    expect(after[0].role).not.toBe('agenthub_app');
  });
});

function rowSecurityStateRaw(prisma: PrismaService, db: Parameters<PrismaService['queryRows']>[0]) {
  return prisma
    .queryRows<{ role: string; org: string }>(db, Prisma.sql`select current_user::text as role, current_setting('app.organization_id', true) as org`)
    .then((r) => r[0]);
}
