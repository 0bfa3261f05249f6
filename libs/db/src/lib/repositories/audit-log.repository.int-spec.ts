import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { Prisma } from '../../generated/prisma/client';
import { TEST_AUDIT_MAC_KEY, createTestPrisma, describeOnPostgres, makeOrganization } from '../../testing';
import { InvalidInputError, NotFoundError } from '../errors';
import type { PrismaService } from '../prisma.service';
import { canonicalJson } from '../canonical-json';
import { encodeCursor } from '../pagination';
import { AuditMacKey } from '../audit/audit-mac-key';
import { AuditSealer } from '../audit/audit-sealer';
import {
  AUDIT_ENTRY_MISSING,
  AUDIT_GENESIS_HASH,
  AUDIT_SEALER_ACTOR,
  AuditLogRepository,
  auditInsertSql,
  buildAuditRow,
  type AppendAuditInput,
} from './audit-log.repository';

describe(AuditLogRepository.name, () => {
  let prisma: PrismaService;
  let sut: AuditLogRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new AuditLogRepository(prisma, TEST_AUDIT_MAC_KEY);
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
    const out = [];
    for (let i = 1; i <= count; i++) out.push(await sut.append(organizationId, entry(i)));
    return out;
  }

  /** Entries 1..count with `at` 1 ms apart, so that their order is the order of n (append takes the clock). */
  async function insertInOrder(organizationId: string, count: number) {
    const base = Date.now() - 60_000;
    const rows = Array.from({ length: count }, (_, i) => sut.buildRow(organizationId, entry(i + 1), new Date(base + i)));
    await prisma.queryRows(prisma, auditInsertSql(rows));
    return rows;
  }

  /** Seals everything pending, as the sealer would (one call seals up to 1,000). */
  async function sealAll(organizationId: string) {
    let sealed = 0;
    for (;;) {
      const result = await sut.sealPending(organizationId);
      sealed += result.sealed;
      if (!result.more) return sealed;
    }
  }

  const seqsOf = async (organizationId: string) =>
    (await prisma.auditLog.findMany({ where: { organizationId, seq: { not: null } }, orderBy: { seq: 'asc' } })).map((r) => Number(r.seq));

  const ok = (sealed: number, pending = 0) => ({
    ok: true,
    checked: sealed + pending,
    sealed,
    pending,
    oldestPendingSeconds: pending > 0 ? expect.any(Number) : null,
  });

  it('canonical JSON sorts keys at every level', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[{"y":2,"z":1}]},"b":1}');
  });

  it('appends pending entries with a MAC, and the sealer chains them: seq 1.., genesis prev hash, each prev_hash the previous hash', async () => {
    const org = await makeOrganization(prisma);
    const first = await sut.append(org.id, entry(1));
    expect(first).toMatchObject({ seq: null, actor: 'user:alice', entityType: 'agent', requestId: 'req-1', mac: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(first.after).toEqual({ zeta: 2, a: { yy: [1, 'two', null], b: false }, when: '2026-03-04T05:06:07.089Z' });
    await appendMany(org.id, 4);
    expect(await prisma.auditChainHead.findUnique({ where: { organizationId: org.id } })).toBeNull(); // no head touched
    expect(await sut.verify(org.id)).toEqual(ok(0, 5));

    expect(await sut.sealPending(org.id)).toMatchObject({ locked: true, sealed: 5, rejected: [], missing: [], more: false });
    const rows = await prisma.auditLog.findMany({ where: { organizationId: org.id }, orderBy: { seq: 'asc' } });
    expect(rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5]);
    expect(rows[0].prevHash).toBe(AUDIT_GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i].prevHash).toBe(rows[i - 1].hash);
    expect(rows.every((r) => r.sealedAt !== null && r.mac !== null)).toBe(true);
    const head = await prisma.auditChainHead.findUniqueOrThrow({ where: { organizationId: org.id } });
    expect(head).toMatchObject({ lastSeq: 5n, lastHash: rows[4].hash });

    expect(await sut.verify(org.id)).toEqual(ok(5));
    expect(await sut.sealPending(org.id)).toMatchObject({ locked: true, sealed: 0 }); // nothing left
  });

  it('verifies an empty chain, entries without before/after, and sealed and pending entries together', async () => {
    const org = await makeOrganization(prisma);
    expect(await sut.verify(org.id)).toEqual(ok(0));
    await sut.append(org.id, { actor: 'system', action: 'org.created', entityType: 'organization' });
    expect(await sut.verify(org.id)).toEqual(ok(0, 1));
    await sealAll(org.id);
    expect(await sut.verify(org.id)).toEqual(ok(1));
    await appendMany(org.id, 2);
    expect(await sut.verify(org.id)).toEqual(ok(1, 2));
  });

  it('verifies in batches longer than one, pending and sealed', async () => {
    const org = await makeOrganization(prisma);
    await appendMany(org.id, 3);
    // More entries straight through SQL would bypass the MAC; appending them is the honest way.
    await prisma.transaction(async (tx) => {
      for (let i = 4; i <= 505; i++) await sut.append(org.id, entry(i), tx);
    });
    expect(await sut.verify(org.id)).toEqual(ok(0, 505));
    expect(await sealAll(org.id)).toBe(505);
    expect(await sut.verify(org.id)).toEqual(ok(505));
  });

  it('seals at most 1,000 entries a call and says there are more', async () => {
    const org = await makeOrganization(prisma);
    await insertInOrder(org.id, 1001);
    expect(await sut.sealPending(org.id)).toMatchObject({ sealed: 1000, more: true });
    expect(await sut.verify(org.id)).toEqual(ok(1000, 1));
    expect(await sut.sealPending(org.id)).toMatchObject({ sealed: 1, more: false });
    expect(await sut.verify(org.id)).toEqual(ok(1001));
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
    await sut.append(org.id, entry(3));
    expect(await sealAll(org.id)).toBe(2);
    expect(await seqsOf(org.id)).toEqual([1, 2]);
    expect(await sut.verify(org.id)).toEqual(ok(2));
  });

  it('builds the row as a pure function: the MAC covers content, time and id, under the key', () => {
    const at = new Date('2026-05-06T07:08:09.123Z');
    const id = randomUUID();
    const org = randomUUID();
    const a = buildAuditRow(TEST_AUDIT_MAC_KEY, org, entry(1), at, id);
    expect(a).toMatchObject({ id, organizationId: org, at, actor: 'user:alice', entityId: 'agent-1', requestId: 'req-1' });
    expect(buildAuditRow(TEST_AUDIT_MAC_KEY, org, entry(1), at, id).mac).toBe(a.mac);
    expect(buildAuditRow(TEST_AUDIT_MAC_KEY, org, entry(2), at, id).mac).not.toBe(a.mac);
    expect(buildAuditRow(TEST_AUDIT_MAC_KEY, org, entry(1), new Date(at.getTime() + 1), id).mac).not.toBe(a.mac);
    expect(buildAuditRow(TEST_AUDIT_MAC_KEY, org, entry(1), at, randomUUID()).mac).not.toBe(a.mac);
    expect(buildAuditRow(AuditMacKey.fromSecret('x'.repeat(32)), org, entry(1), at, id).mac).not.toBe(a.mac);
    expect(() => buildAuditRow(TEST_AUDIT_MAC_KEY, org, { ...entry(1), actor: '' })).toThrow(InvalidInputError);
  });

  it('never shows the key material', () => {
    const key = AuditMacKey.derive('an admin token of at least 24 characters');
    expect(String(key)).toBe('[AuditMacKey]');
    expect(JSON.stringify({ key })).toBe('{"key":"[AuditMacKey]"}');
    expect(inspect(key)).toBe('[AuditMacKey]');
    expect(key.mac('x')).toBe(AuditMacKey.derive('an admin token of at least 24 characters').mac('x'));
    expect(key.mac('x')).not.toBe(AuditMacKey.derive('another admin token of 24+ characters').mac('x'));
  });

  it('refuses to append or verify without a key', async () => {
    const org = await makeOrganization(prisma);
    const keyless = new AuditLogRepository(prisma);
    await expect(keyless.append(org.id, entry(1))).rejects.toThrow(/no audit MAC key/);
  });

  describe('tampering with sealed entries', () => {
    it('detects an edited row', async () => {
      const [org, other] = [await makeOrganization(prisma), await makeOrganization(prisma)];
      await appendMany(org.id, 5);
      await appendMany(other.id, 3);
      await sealAll(org.id);
      await sealAll(other.id);
      await prisma.$executeRaw`
        UPDATE audit_logs SET after = jsonb_set(after, '{zeta}', '999') WHERE organization_id = ${org.id}::uuid AND seq = 3`;
      expect(await sut.verify(org.id)).toEqual({
        ok: false,
        checked: 2,
        sealed: 2,
        pending: 0,
        oldestPendingSeconds: null,
        brokenAt: { seq: 3, reason: expect.any(String) },
      });
      expect(await sut.verify(other.id)).toEqual(ok(3));
    });

    it('detects an edited actor or timestamp', async () => {
      const org = await makeOrganization(prisma);
      await appendMany(org.id, 3);
      await sealAll(org.id);
      await prisma.$executeRaw`UPDATE audit_logs SET at = at + interval '1 ms' WHERE organization_id = ${org.id}::uuid AND seq = 2`;
      expect(await sut.verify(org.id)).toMatchObject({ ok: false, brokenAt: { seq: 2 } });
    });

    it('detects a deleted row in the middle and at the end', async () => {
      const org = await makeOrganization(prisma);
      await appendMany(org.id, 5);
      await sealAll(org.id);
      await prisma.$executeRaw`DELETE FROM audit_logs WHERE organization_id = ${org.id}::uuid AND seq = 5`;
      expect(await sut.verify(org.id)).toMatchObject({ ok: false, checked: 4, brokenAt: { seq: 5 } });
      await prisma.$executeRaw`DELETE FROM audit_logs WHERE organization_id = ${org.id}::uuid AND seq = 2`;
      expect(await sut.verify(org.id)).toMatchObject({ ok: false, checked: 1, brokenAt: { seq: 2 } });
    });

    it('detects a rehashed row whose successor still links to the old hash', async () => {
      const org = await makeOrganization(prisma);
      await appendMany(org.id, 3);
      await sealAll(org.id);
      await prisma.$executeRaw`
        UPDATE audit_logs SET hash = repeat('a', 64) WHERE organization_id = ${org.id}::uuid AND seq = 2`;
      expect(await sut.verify(org.id)).toMatchObject({ ok: false, brokenAt: { seq: 2 } });
    });

    it('detects two sealed entries swapped (seq exchanged), and a sealed entry turned back into a pending one', async () => {
      const org = await makeOrganization(prisma);
      await appendMany(org.id, 3);
      await sealAll(org.id);
      await prisma.$transaction([
        prisma.$executeRaw`UPDATE audit_logs SET seq = 1000 WHERE organization_id = ${org.id}::uuid AND seq = 1`,
        prisma.$executeRaw`UPDATE audit_logs SET seq = 1 WHERE organization_id = ${org.id}::uuid AND seq = 2`,
        prisma.$executeRaw`UPDATE audit_logs SET seq = 2 WHERE organization_id = ${org.id}::uuid AND seq = 1000`,
      ]);
      expect(await sut.verify(org.id)).toMatchObject({ ok: false, brokenAt: { seq: 1 } });

      const other = await makeOrganization(prisma);
      await appendMany(other.id, 3);
      await sealAll(other.id);
      await prisma.$executeRaw`
        UPDATE audit_logs SET seq = NULL, prev_hash = NULL, hash = NULL, sealed_at = NULL WHERE organization_id = ${other.id}::uuid AND seq = 3`;
      expect(await sut.verify(other.id)).toMatchObject({ ok: false, brokenAt: { seq: 3, reason: expect.stringMatching(/missing/) } });
    });

    it('detects a row inserted beyond the head, whatever its hash, MAC or lack of one', async () => {
      const org = await makeOrganization(prisma);
      await appendMany(org.id, 2);
      await sealAll(org.id);
      const [forged] = await insertInOrder(org.id, 1);
      await prisma.$executeRaw`
        UPDATE audit_logs SET seq = 7, prev_hash = repeat('b', 64), hash = repeat('c', 64), mac = NULL WHERE id = ${forged.id}::uuid`;
      expect(await sut.verify(org.id)).toMatchObject({ ok: false, checked: 2, brokenAt: { id: forged.id, seq: 7 } });
    });
  });

  describe('pending entries', () => {
    it('detects a pending entry whose content was edited, and never seals it', async () => {
      const org = await makeOrganization(prisma);
      const [, second] = await appendMany(org.id, 3);
      await prisma.$executeRaw`UPDATE audit_logs SET after = jsonb_set(after, '{zeta}', '999') WHERE id = ${second.id}::uuid`;
      expect(await sut.verify(org.id)).toMatchObject({ ok: false, brokenAt: { id: second.id, reason: expect.stringMatching(/MAC/) } });

      expect(await sut.sealPending(org.id)).toMatchObject({ sealed: 2, rejected: [second.id] });
      expect(await prisma.auditLog.findUniqueOrThrow({ where: { id: second.id } })).toMatchObject({ seq: null, hash: null });
      expect(await sut.verify(org.id)).toEqual({
        ok: false,
        checked: 2,
        sealed: 2,
        pending: 0,
        oldestPendingSeconds: expect.any(Number),
        brokenAt: { id: second.id, reason: expect.stringMatching(/MAC/) },
      });
    });

    // The edit comes from a second connection while the sealer's transaction is open: the embedded database's one
    // backend would run it only after that transaction, which waits for it.
    describeOnPostgres('an edit racing the sealer', () => {
      it('never seals an entry edited between the sealer reading it and sealing it: the seal rolls back, and a retry rejects the entry', async () => {
        const org = await makeOrganization(prisma);
        const [, second] = await appendMany(org.id, 3);
        // The edit lands right after the sealer's read of the pending entries, from another connection.
        const queryRows = prisma.queryRows.bind(prisma);
        let edited = false;
        const spy = jest.spyOn(prisma, 'queryRows').mockImplementation(async (db, sql, options) => {
          const rows = await queryRows(db, sql, options);
          if (!edited && /seq IS NULL/.test(sql.text) && /ORDER BY audit_logs\.at/.test(sql.text)) {
            edited = true;
            await prisma.$executeRaw`UPDATE audit_logs SET after = jsonb_set(after, '{zeta}', '999') WHERE id = ${second.id}::uuid`;
          }
          return rows as never;
        });
        try {
          // In a tenant transaction on a plain connection, as AuditSealer runs it; no retry, to see the failure.
          await expect(prisma.rawTransaction(org.id, (tx) => sut.sealPending(org.id, [], tx), { retries: 0 })).rejects.toMatchObject({
            retryTransaction: true,
            message: expect.stringMatching(/changed while being sealed/),
          });
        } finally {
          spy.mockRestore();
        }
        expect(edited).toBe(true);
        expect(await seqsOf(org.id)).toEqual([]);
        // Run again (as the sealer's transaction would be), the edited entry fails its MAC and stays pending.
        expect(await sut.sealPending(org.id)).toMatchObject({ sealed: 2, rejected: [second.id] });
        expect(await prisma.auditLog.findUniqueOrThrow({ where: { id: second.id } })).toMatchObject({ seq: null, hash: null });
        expect(await sut.verify(org.id)).toMatchObject({ ok: false, sealed: 2, brokenAt: { id: second.id, reason: expect.stringMatching(/MAC/) } });
      });
    });

    it('detects an edited actor, request id or entity of a pending entry', async () => {
      for (const column of ['actor', 'request_id', 'entity_id', 'action']) {
        const org = await makeOrganization(prisma);
        const [first] = await appendMany(org.id, 2);
        await prisma.$executeRawUnsafe(`UPDATE audit_logs SET ${column} = 'forged' WHERE id = $1::uuid`, first.id);
        expect(await sut.verify(org.id)).toMatchObject({ ok: false, brokenAt: { id: first.id } });
      }
    });

    it('detects a pending entry inserted with a made-up MAC or with a MAC under another key', async () => {
      const org = await makeOrganization(prisma);
      await appendMany(org.id, 2);
      const madeUp = sut.buildRow(org.id, entry(9));
      await prisma.queryRows(prisma, auditInsertSql([{ ...madeUp, mac: 'f'.repeat(64) }]));
      expect(await sut.verify(org.id)).toMatchObject({ ok: false, brokenAt: { id: madeUp.id } });

      const other = await makeOrganization(prisma);
      const foreign = buildAuditRow(AuditMacKey.fromSecret('not the server key, 32+ characters'), other.id, entry(1));
      await prisma.queryRows(prisma, auditInsertSql([foreign]));
      expect(await sut.verify(other.id)).toMatchObject({ ok: false, brokenAt: { id: foreign.id } });
      expect(await sut.sealPending(other.id)).toMatchObject({ sealed: 0, rejected: [foreign.id] });
    });

    it('detects two pending entries reordered (their times swapped)', async () => {
      const org = await makeOrganization(prisma);
      const [a, b] = await insertInOrder(org.id, 2);
      await prisma.$executeRaw`
        UPDATE audit_logs SET at = CASE id WHEN ${a.id}::uuid THEN ${b.at}::timestamptz ELSE ${a.at}::timestamptz END
         WHERE id IN (${a.id}::uuid, ${b.id}::uuid)`;
      const verification = await sut.verify(org.id);
      expect(verification).toMatchObject({ ok: false, brokenAt: { reason: expect.stringMatching(/MAC/) } });
      expect([a.id, b.id]).toContain(verification.brokenAt?.id);
      const sealed = await sut.sealPending(org.id);
      expect(sealed).toMatchObject({ sealed: 0 });
      expect(sealed.rejected.sort()).toEqual([a.id, b.id].sort());
    });

    it('detects two pending entries whose ids were swapped', async () => {
      const org = await makeOrganization(prisma);
      const [a, b] = await insertInOrder(org.id, 2);
      const temp = randomUUID();
      await prisma.$transaction([
        prisma.$executeRaw`UPDATE audit_logs SET id = ${temp}::uuid WHERE id = ${a.id}::uuid`,
        prisma.$executeRaw`UPDATE audit_logs SET id = ${a.id}::uuid WHERE id = ${b.id}::uuid`,
        prisma.$executeRaw`UPDATE audit_logs SET id = ${b.id}::uuid WHERE id = ${temp}::uuid`,
      ]);
      expect(await sut.verify(org.id)).toMatchObject({ ok: false });
    });

    it('seals a tombstone for a witnessed pending entry that was deleted, and verify fails there', async () => {
      const org = await makeOrganization(prisma);
      const [a, b, c] = await appendMany(org.id, 3);
      await prisma.$executeRaw`DELETE FROM audit_logs WHERE id = ${b.id}::uuid`;
      // Without the witness nothing shows the deletion (the documented limit)...
      expect(await sut.verify(org.id)).toEqual(ok(0, 2));
      // ...with it, the sealer records it in the chain.
      const result = await sut.sealPending(org.id, [a, b, c].map(({ id, mac }) => ({ id, mac })));
      expect(result).toMatchObject({ sealed: 3, missing: [b.id] });
      expect(result.settled.sort()).toEqual([a.id, b.id, c.id].sort());
      const tombstone = await prisma.auditLog.findFirstOrThrow({ where: { organizationId: org.id, seq: 3 } });
      expect(tombstone).toMatchObject({
        actor: AUDIT_SEALER_ACTOR,
        action: AUDIT_ENTRY_MISSING,
        entityType: 'audit_log',
        entityId: b.id,
        after: { mac: b.mac },
      });
      expect(await sut.verify(org.id)).toMatchObject({
        ok: false,
        checked: 2,
        brokenAt: { seq: 3, reason: expect.stringContaining(b.id) },
      });
      // Once: a second pass with the same witness finds nothing new.
      expect(await sut.sealPending(org.id)).toMatchObject({ sealed: 0, missing: [] });
    });

    it('a witness of an entry already sealed or still valid and pending is no tombstone', async () => {
      const org = await makeOrganization(prisma);
      const [a] = await appendMany(org.id, 1);
      await sealAll(org.id);
      expect(await sut.sealPending(org.id, [{ id: a.id, mac: a.mac }])).toMatchObject({ missing: [], settled: [a.id] });
      expect(await sut.verify(org.id)).toEqual(ok(1));
    });
  });

  describe(AuditSealer.name, () => {
    it('after a crash between commit and sealing, a new sealer finds and seals everything by its sweep', async () => {
      const [org, other] = [await makeOrganization(prisma), await makeOrganization(prisma)];
      const written = [...(await appendMany(org.id, 4)), ...(await appendMany(other.id, 2))];
      // The process that wrote them is gone (no sealer ran); a new one starts.
      const sealer = new AuditSealer(prisma, sut);
      await sealer.sweep(0);
      expect(await sut.verify(org.id)).toEqual(ok(4));
      expect(await sut.verify(other.id)).toEqual(ok(2));
      const ids = (await prisma.auditLog.findMany({ where: { organizationId: { in: [org.id, other.id] } }, select: { id: true } })).map((r) => r.id);
      expect(ids.sort()).toEqual(written.map((w) => w.id).sort());
      expect((await sut.sealingLag(org.id)).pending).toBe(0);
    });

    it('seals witnessed entries soon after the commit, and drains before shutdown', async () => {
      const org = await makeOrganization(prisma);
      const sealer = new AuditSealer(prisma, sut).configure({ coalesceMs: 5 });
      const written = await appendMany(org.id, 3);
      sealer.witness(org.id, written);
      await sealer.drain();
      expect(await sut.verify(org.id)).toEqual(ok(3));
      const lag = await sut.sealingLag(org.id);
      expect(lag).toMatchObject({ sealed: 3, pending: 0, oldestPendingMs: null, p50Ms: expect.any(Number), p99Ms: expect.any(Number), maxMs: expect.any(Number) });
    });

    it('records a witnessed entry deleted before sealing', async () => {
      const org = await makeOrganization(prisma);
      const sealer = new AuditSealer(prisma, sut);
      const written = await appendMany(org.id, 2);
      await prisma.$executeRaw`DELETE FROM audit_logs WHERE id = ${written[0].id}::uuid`;
      sealer.witness(org.id, written);
      await sealer.drain();
      expect(await sut.verify(org.id)).toMatchObject({ ok: false, brokenAt: { seq: 2, reason: expect.stringContaining(written[0].id) } });
    });

    it('forgets the witnesses of an organization deleted meanwhile', async () => {
      const org = await makeOrganization(prisma);
      const sealer = new AuditSealer(prisma, sut);
      sealer.witness(org.id, await appendMany(org.id, 2));
      await prisma.organization.delete({ where: { id: org.id } });
      await expect(sealer.drain()).resolves.toBeUndefined(); // no tombstones for a cascade, no endless retries
      expect(await prisma.auditLog.count({ where: { organizationId: org.id } })).toBe(0);
    });

    it('seals under row-level security, and the sweep sees every organization with pending entries', async () => {
      const [org, other] = [await makeOrganization(prisma), await makeOrganization(prisma)];
      await appendMany(org.id, 1);
      await appendMany(other.id, 1);
      const pending = await prisma.tenantTransaction(org.id, (tx) =>
        prisma.queryRows<{ id: string }>(tx, Prisma.sql`SELECT org::text AS id FROM audit_pending_organizations('0 seconds'::interval) org`),
      );
      expect(pending.map((p) => p.id)).toEqual(expect.arrayContaining([org.id, other.id]));
      const result = await new AuditSealer(prisma, sut).seal(org.id);
      expect(result).toMatchObject({ locked: true, sealed: 1 });
      expect(await sut.verify(other.id)).toEqual(ok(0, 1));
    });

    it('two sealers racing on one organization make one gap-free chain', async () => {
      const org = await makeOrganization(prisma);
      const second = prisma.mode === 'postgres' ? createTestPrisma() : prisma;
      try {
        const a = new AuditSealer(prisma, sut);
        const b = new AuditSealer(second, new AuditLogRepository(second, TEST_AUDIT_MAC_KEY));
        for (let round = 0; round < 5; round++) {
          await Promise.all([appendMany(org.id, 10), a.seal(org.id), b.seal(org.id), a.seal(org.id), b.seal(org.id)]);
        }
        await Promise.all([a.seal(org.id), b.seal(org.id)]);
        await sealAll(org.id); // whatever a skipped (the other held the head) and nobody retried here
        expect(await seqsOf(org.id)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        expect(await sut.verify(org.id)).toEqual(ok(50));
      } finally {
        if (second !== prisma) await second.$disconnect();
      }
    });
  });

  it('lists newest first (pending entries too) with filters and a cursor; other organizations stay out', async () => {
    const [org, other] = [await makeOrganization(prisma), await makeOrganization(prisma)];
    const rows = await insertInOrder(org.id, 7);
    await appendMany(other.id, 2);
    await sut.sealPending(org.id);
    // Pending, and older than all of them: listed last.
    const older = sut.buildRow(org.id, entry(1), new Date(rows[0].at.getTime() - 1000));
    await prisma.queryRows(prisma, auditInsertSql([older]));
    const n = (e: { requestId: string | null }) => e.requestId;
    const first = await sut.listPage(org.id, { limit: 3 });
    expect(first.data.map(n)).toEqual(['req-7', 'req-6', 'req-5']);
    expect(first.data[0]).toMatchObject({ actor: 'user:alice', action: 'agent.updated', seq: 7 });
    const second = await sut.listPage(org.id, { limit: 3, cursor: first.nextCursor });
    expect(second.data.map(n)).toEqual(['req-4', 'req-3', 'req-2']);
    const third = await sut.listPage(org.id, { limit: 3, cursor: second.nextCursor });
    expect(third).toMatchObject({ nextCursor: null });
    expect(third.data.map(n)).toEqual(['req-1', 'req-1']);
    expect(third.data.map((e) => e.seq)).toEqual([1, null]);

    const one = await sut.listPage(org.id, { entityType: 'agent', entityId: 'agent-1', limit: 10 });
    expect(one.data.map(n)).toEqual(['req-7', 'req-4', 'req-1', 'req-1']);
    expect((await sut.listPage(org.id, { entityType: 'payment', limit: 10 })).data).toEqual([]);
    await expect(sut.listPage(org.id, { limit: 10, cursor: 'nope' })).rejects.toThrow(InvalidInputError);
  });

  it('refuses a cursor of another list or whose time is not one it issued, as InvalidInputError at cursor', async () => {
    const org = await makeOrganization(prisma);
    await insertInOrder(org.id, 3);
    const id = randomUUID();
    const foreign = [
      encodeCursor('3', id), // a seq cursor of the chain-ordered list this replaced
      encodeCursor(3, id),
      encodeCursor('2026-01-01', id),
      encodeCursor('2026-01-01T00:00:00Z', id),
      encodeCursor('2026-13-01T00:00:00.000Z', id),
      encodeCursor('', id),
      encodeCursor(1.5, id),
    ];
    for (const cursor of foreign) {
      await expect(sut.listPage(org.id, { limit: 10, cursor })).rejects.toMatchObject({
        constructor: InvalidInputError,
        details: [expect.objectContaining({ path: 'cursor' })],
      });
    }
    // A time after every entry is still a valid position: every entry is before it.
    const all = await sut.listPage(org.id, { limit: 10, cursor: encodeCursor('9999-12-31T23:59:59.999Z', id) });
    expect(all.data.map((e) => e.requestId)).toEqual(['req-3', 'req-2', 'req-1']);
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
    expect(await sut.verify(org.id)).toEqual(ok(0));
  });

  it('rejects incomplete entries and unknown organizations', async () => {
    const org = await makeOrganization(prisma);
    await expect(sut.append(org.id, { ...entry(1), actor: '' })).rejects.toThrow(InvalidInputError);
    await expect(sut.append(org.id, { ...entry(1), after: { n: 1n } })).rejects.toThrow(InvalidInputError);
    await expect(sut.append(randomUUID(), entry(1))).rejects.toThrow(NotFoundError);
    expect(await prisma.auditLog.count({ where: { organizationId: org.id } })).toBe(0);
  });

  describeOnPostgres('concurrency', () => {
    it('30 concurrent appends are sealed as seq 1..30 in a valid chain', async () => {
      const org = await makeOrganization(prisma);
      await Promise.all(Array.from({ length: 30 }, (_, i) => sut.append(org.id, entry(i))));
      expect(await sut.verify(org.id)).toEqual(ok(0, 30));
      await sealAll(org.id);
      expect(await seqsOf(org.id)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(await sut.verify(org.id)).toEqual(ok(30));
    });

    it('verify is not disturbed by appends and sealing running meanwhile, and counts every entry once', async () => {
      const org = await makeOrganization(prisma);
      await appendMany(org.id, 5);
      await sealAll(org.id);
      const [verification] = await Promise.all([
        sut.verify(org.id),
        ...Array.from({ length: 10 }, (_, i) => sut.append(org.id, entry(i))),
        sut.sealPending(org.id),
        sut.sealPending(org.id),
      ]);
      expect(verification).toMatchObject({ ok: true });
      await sealAll(org.id);
      expect(await sut.verify(org.id)).toEqual(ok(15));
    });

    it('writes of one organization do not wait on each other, nor on the sealer', async () => {
      const org = await makeOrganization(prisma);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let appendedInFirst!: () => void;
      const firstAppended = new Promise<void>((resolve) => (appendedInFirst = resolve));
      const first = prisma.transaction(async (tx) => {
        const e = await sut.append(org.id, entry(1), tx);
        appendedInFirst();
        await held; // kept open, with its entry written, until the second has committed
        return e;
      });
      await firstAppended;
      // With the head row locked per append (before), this would wait for the first: lock_timeout turns that into an error.
      const second = await prisma.transaction(async (tx) => {
        await tx.$executeRawUnsafe(`SET LOCAL lock_timeout = '10s'`);
        return sut.append(org.id, entry(2), tx);
      });
      // The sealer does not wait for the open transaction either: it seals what is committed.
      const sealed = await prisma.transaction(async (tx) => {
        await tx.$executeRawUnsafe(`SET LOCAL lock_timeout = '10s'`);
        return sut.sealPending(org.id, [second], tx);
      });
      expect(sealed).toMatchObject({ sealed: 1, missing: [] });
      release();
      const firstEntry = await first;
      expect(await sut.sealPending(org.id, [firstEntry])).toMatchObject({ sealed: 1, missing: [] });
      expect(await sut.verify(org.id)).toEqual(ok(2));
    });
  });
});
