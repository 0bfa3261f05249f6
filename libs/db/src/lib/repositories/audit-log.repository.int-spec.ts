import { randomUUID } from 'node:crypto';
import { createTestPrisma, describeOnPostgres, makeOrganization } from '../../testing';
import { InvalidInputError, NotFoundError } from '../errors';
import type { PrismaService } from '../prisma.service';
import { canonicalJson } from '../canonical-json';
import { encodeCursor } from '../pagination';
import { AUDIT_GENESIS_HASH, AuditLogRepository, type AppendAuditInput } from './audit-log.repository';

describe(AuditLogRepository.name, () => {
  let prisma: PrismaService;
  let sut: AuditLogRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new AuditLogRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

  const entry = (n: number, overrides: Partial<AppendAuditInput> = {}): AppendAuditInput => ({
    actor: 'user:alice',
    action: 'agent.updated',
    entityType: 'agent',
    entityId: `agent-${n % 3}`,
    // Keys of different lengths in non-sorted order: JSONB stores them reordered.
    before: { zeta: n, a: { yy: [1, 'two', null], b: true }, mid: 'x' },
    after: { zeta: n + 1, a: { yy: [1, 'two', null], b: false }, when: new Date('2026-03-04T05:06:07.089Z') },
    requestId: `req-${n}`,
    ...overrides,
  });

  async function appendMany(organizationId: string, count: number) {
    for (let i = 1; i <= count; i++) await sut.append(organizationId, entry(i));
  }

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('chains entries: seq 1.., genesis prev hash, each prev_hash the previous hash', async () => {
    const org = await makeOrganization(prisma);
    const first = await sut.append(org.id, entry(1));
    expect(first).toMatchObject({ seq: 1, actor: 'user:alice', entityType: 'agent', requestId: 'req-1' });
    expect(first.after).toEqual({ zeta: 2, a: { yy: [1, 'two', null], b: false }, when: '2026-03-04T05:06:07.089Z' });
    await appendMany(org.id, 4);

    const rows = await prisma.auditLog.findMany({ where: { organizationId: org.id }, orderBy: { seq: 'asc' } });
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5]);
    expect(rows[0].prevHash).toBe(AUDIT_GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i].prevHash).toBe(rows[i - 1].hash);
    const head = await prisma.auditChainHead.findUniqueOrThrow({ where: { organizationId: org.id } });
    expect(head).toMatchObject({ lastSeq: 5n, lastHash: rows[4].hash });

    expect(await sut.verify(org.id)).toEqual({ ok: true, checked: 5 });
  });

  it('verifies an empty chain, and entries without before/after', async () => {
    const org = await makeOrganization(prisma);
    expect(await sut.verify(org.id)).toEqual({ ok: true, checked: 0 });
    await sut.append(org.id, { actor: 'system', action: 'org.created', entityType: 'organization' });
    expect(await sut.verify(org.id)).toEqual({ ok: true, checked: 1 });
  });

  it('verifies in batches longer than one', async () => {
    const org = await makeOrganization(prisma);
    await appendMany(org.id, 3);
    // More entries straight through SQL would bypass hashing; appending them is the honest way.
    await prisma.transaction(async (tx) => {
      for (let i = 4; i <= 505; i++) await sut.append(org.id, entry(i), tx);
    });
    expect(await sut.verify(org.id)).toEqual({ ok: true, checked: 505 });
  });

  it('commits and rolls back with the caller transaction', async () => {
    const org = await makeOrganization(prisma);
    await sut.append(org.id, entry(1));
    await expect(
      prisma.transaction(async (tx) => {
        await sut.append(org.id, entry(2), tx);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const next = await sut.append(org.id, entry(3));
    expect(next.seq).toBe(2);
    expect(await sut.verify(org.id)).toEqual({ ok: true, checked: 2 });
  });

  it('detects an edited row', async () => {
    const [org, other] = [await makeOrganization(prisma), await makeOrganization(prisma)];
    await appendMany(org.id, 5);
    await appendMany(other.id, 3);
    await prisma.$executeRaw`
      UPDATE audit_logs SET after = jsonb_set(after, '{zeta}', '999') WHERE organization_id = ${org.id}::uuid AND seq = 3`;
    expect(await sut.verify(org.id)).toEqual({ ok: false, checked: 2, brokenAt: { seq: 3, reason: expect.any(String) } });
    expect(await sut.verify(other.id)).toEqual({ ok: true, checked: 3 });
  });

  it('detects an edited actor or timestamp', async () => {
    const org = await makeOrganization(prisma);
    await appendMany(org.id, 3);
    await prisma.$executeRaw`UPDATE audit_logs SET at = at + interval '1 ms' WHERE organization_id = ${org.id}::uuid AND seq = 2`;
    expect(await sut.verify(org.id)).toMatchObject({ ok: false, brokenAt: { seq: 2 } });
  });

  it('detects a deleted row in the middle and at the end', async () => {
    const org = await makeOrganization(prisma);
    await appendMany(org.id, 5);
    await prisma.$executeRaw`DELETE FROM audit_logs WHERE organization_id = ${org.id}::uuid AND seq = 5`;
    expect(await sut.verify(org.id)).toMatchObject({ ok: false, checked: 4, brokenAt: { seq: 5 } });
    await prisma.$executeRaw`DELETE FROM audit_logs WHERE organization_id = ${org.id}::uuid AND seq = 2`;
    expect(await sut.verify(org.id)).toMatchObject({ ok: false, checked: 1, brokenAt: { seq: 2 } });
  });

  it('detects a rehashed row whose successor still links to the old hash', async () => {
    const org = await makeOrganization(prisma);
    await appendMany(org.id, 3);
    await prisma.$executeRaw`
      UPDATE audit_logs SET hash = repeat('a', 64) WHERE organization_id = ${org.id}::uuid AND seq = 2`;
    expect(await sut.verify(org.id)).toMatchObject({ ok: false, brokenAt: { seq: 2 } });
  });

  it('lists newest first with filters and a cursor; other organizations stay out', async () => {
    const [org, other] = [await makeOrganization(prisma), await makeOrganization(prisma)];
    await appendMany(org.id, 7);
    await appendMany(other.id, 2);
    const first = await sut.listPage(org.id, { limit: 3 });
    expect(first.data.map((e) => e.seq)).toEqual([7, 6, 5]);
    expect(first.data[0]).toMatchObject({ actor: 'user:alice', action: 'agent.updated', requestId: 'req-7' });
    const second = await sut.listPage(org.id, { limit: 3, cursor: first.nextCursor });
    expect(second.data.map((e) => e.seq)).toEqual([4, 3, 2]);
    const third = await sut.listPage(org.id, { limit: 3, cursor: second.nextCursor });
    expect(third).toMatchObject({ nextCursor: null });
    expect(third.data.map((e) => e.seq)).toEqual([1]);

    const one = await sut.listPage(org.id, { entityType: 'agent', entityId: 'agent-1', limit: 10 });
    expect(one.data.map((e) => e.seq)).toEqual([7, 4, 1]);
    expect((await sut.listPage(org.id, { entityType: 'payment', limit: 10 })).data).toEqual([]);
    await expect(sut.listPage(org.id, { limit: 10, cursor: 'nope' })).rejects.toThrow(InvalidInputError);
  });

  it('refuses a cursor of another list or whose seq is not a positive bigint, as InvalidInputError at cursor', async () => {
    const org = await makeOrganization(prisma);
    await appendMany(org.id, 3);
    const id = randomUUID();
    const foreign = [
      encodeCursor(new Date().toISOString(), id), // a (createdAt, id) cursor of another list
      encodeCursor('1.5', id),
      encodeCursor('0', id),
      encodeCursor('-1', id),
      encodeCursor('01', id),
      encodeCursor(' 2', id),
      encodeCursor('0x10', id),
      encodeCursor('', id),
      encodeCursor(1.5, id),
      encodeCursor(1e21, id),
      encodeCursor('9'.repeat(20), id),
      encodeCursor('9223372036854775808', id), // 2^63: beyond bigint
    ];
    for (const cursor of foreign) {
      await expect(sut.listPage(org.id, { limit: 10, cursor })).rejects.toMatchObject({
        constructor: InvalidInputError,
        details: [expect.objectContaining({ path: 'cursor' })],
      });
    }
    // The largest bigint is still a valid position: every entry is before it.
    const all = await sut.listPage(org.id, { limit: 10, cursor: encodeCursor('9223372036854775807', id) });
    expect(all.data.map((e) => e.seq)).toEqual([3, 2, 1]);
    expect((await sut.listPage(org.id, { limit: 10, cursor: encodeCursor('3', id) })).data.map((e) => e.seq)).toEqual([2, 1]);
  });

  it('rejects NUL characters in text fields and in before/after (values and keys), writing nothing', async () => {
    const org = await makeOrganization(prisma);
    const bad: Array<[Partial<AppendAuditInput>, string]> = [
      [{ actor: 'user:\u0000' }, 'actor'],
      [{ action: 'agent.\u0000' }, 'action'],
      [{ entityType: 'age\u0000nt' }, 'entityType'],
      [{ entityId: 'agent-\u0000' }, 'entityId'],
      [{ requestId: 'req\u0000' }, 'requestId'],
      [{ before: { name: 'a\u0000b' } }, 'before.name'],
      [{ after: { ['na\u0000me']: 'x' } }, 'after'],
      [{ entityType: 'x'.repeat(256) }, 'entityType'],
    ];
    for (const [overrides, path] of bad) {
      const error = await sut.append(org.id, entry(1, overrides)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).details).toEqual([expect.objectContaining({ path })]);
    }
    expect(await prisma.auditLog.count({ where: { organizationId: org.id } })).toBe(0);
    expect(await sut.verify(org.id)).toEqual({ ok: true, checked: 0 });
  });

  it('rejects incomplete entries and unknown organizations', async () => {
    const org = await makeOrganization(prisma);
    await expect(sut.append(org.id, { ...entry(1), actor: '' })).rejects.toThrow(InvalidInputError);
    await expect(sut.append(org.id, { ...entry(1), after: { n: 1n } })).rejects.toThrow(InvalidInputError);
    await expect(sut.append(randomUUID(), entry(1))).rejects.toThrow(NotFoundError);
    expect(await prisma.auditLog.count({ where: { organizationId: org.id } })).toBe(0);
  });

  describeOnPostgres('concurrency', () => {
    it('30 concurrent appends get seq 1..30 and a valid chain', async () => {
      const org = await makeOrganization(prisma);
      const entries = await Promise.all(Array.from({ length: 30 }, (_, i) => sut.append(org.id, entry(i))));
      expect(entries.map((e) => e.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(await sut.verify(org.id)).toEqual({ ok: true, checked: 30 });
    });

    it('verify is not disturbed by appends running meanwhile', async () => {
      const org = await makeOrganization(prisma);
      await appendMany(org.id, 5);
      const [verification] = await Promise.all([
        sut.verify(org.id),
        ...Array.from({ length: 10 }, (_, i) => sut.append(org.id, entry(i))),
      ]);
      expect(verification).toMatchObject({ ok: true });
      expect(await sut.verify(org.id)).toEqual({ ok: true, checked: 15 });
    });
  });
});
