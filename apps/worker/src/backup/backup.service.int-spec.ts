import fs from 'node:fs';
import path from 'node:path';
import { MemoryRepository, PrismaService } from '@agenthub/db';
import { freshDatabase, makeKit, query, testEncryptionKey, whenFree } from '../../test/backup-kit';
import { seedRealisticData } from '../../test/seed';
import { BackupBusyError } from './backup-events';
import { BackupService } from './backup.service';
import { RestoreRefusedError } from './restore.service';
import { manifestKey, objectKey, parseManifest } from './backup-manifest';

/** Every row of the seeded organizations, table by table, as PostgreSQL renders it (stable order). */
async function snapshot(url: string, organizationIds: string[]): Promise<Record<string, string[]>> {
  const tables = await query<{ table: string; scoped: boolean }>(
    url,
    `select c.relname as table, exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'organization_id') as scoped
       from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and c.relname <> '_prisma_migrations'
      order by 1`,
  );
  const out: Record<string, string[]> = {};
  for (const { table, scoped } of tables) {
    const where = scoped ? 'where t.organization_id = any($1::uuid[])' : table === 'organizations' ? 'where t.id = any($1::uuid[])' : null;
    if (!where) continue;
    const rows = await query<{ j: string }>(url, `select row_to_json(t)::text as j from "${table}" t ${where} order by 1`, [organizationIds]);
    out[table] = rows.map((r) => r.j);
  }
  return out;
}

describe(BackupService.name, () => {
  let kit: ReturnType<typeof makeKit>;
  let orgs: Awaited<ReturnType<typeof seedRealisticData>>;

  beforeAll(async () => {
    kit = makeKit();
    orgs = await seedRealisticData(kit.prisma);
  });
  afterAll(() => kit.close());

  it('backs up every table to a local directory, verifies it, and restores it into a fresh database identically', async () => {
    const sut = kit.backups;
    const { id, manifest } = await whenFree(() => sut.run());

    const row = await kit.repo.findById(id);
    expect(row).toMatchObject({ status: 'completed', target: 'local', schemaVersion: manifest.schemaVersion, encrypted: false });
    expect(row!.sizeBytes).toBe(fs.statSync(path.join(kit.backupDir, objectKey(id))).size);
    const stored = parseManifest(fs.readFileSync(path.join(kit.backupDir, manifestKey(id))));
    expect(stored).toEqual(manifest);
    const tableNames = manifest.tables.map((t) => t.name);
    expect(tableNames).not.toContain('_prisma_migrations');
    for (const t of ['organizations', 'messages', 'memories', 'payments', 'document_chunks', 'backups']) expect(tableNames).toContain(t);
    // Parents come before children, so a restore can load in this order with foreign keys on.
    expect(tableNames.indexOf('organizations')).toBeLessThan(tableNames.indexOf('conversations'));
    expect(tableNames.indexOf('conversations')).toBeLessThan(tableNames.indexOf('messages'));
    expect(manifest.tables.find((t) => t.name === 'messages')!.columns).not.toContain('search_vector');
    expect(manifest.tables.find((t) => t.name === 'memories')!.rows).toBeGreaterThanOrEqual(orgs.length * 40);

    expect(await kit.verifier.verify(id)).toMatchObject({ ok: true, tables: manifest.tables.length, rows: manifest.totals.rows });

    const target = await freshDatabase();
    try {
      const restored = await kit.restorer.restore(id, { targetUrl: target.url });
      expect(restored).toMatchObject({ tables: manifest.tables.length, rows: manifest.totals.rows, verifiedTables: manifest.tables.length });

      const ids = orgs.map((o) => o.organizationId);
      const [before, after] = [await snapshot(process.env.TEST_DATABASE_URL!, ids), await snapshot(target.url, ids)];
      expect(Object.keys(after).length).toBeGreaterThanOrEqual(12);
      expect(after).toEqual(before);
      expect(after.messages.some((j) => j.includes('日本語のテキスト'))).toBe(true);
      expect(after.payments.some((j) => j.includes('1234.5678'))).toBe(true);
      // Generated columns are recomputed by the target and match.
      const tsv = `select count(*)::int as n from messages where search_vector is not null and organization_id = any($1::uuid[])`;
      expect(await query(target.url, tsv, [ids])).toEqual(await query(process.env.TEST_DATABASE_URL!, tsv, [ids]));
      // The catalog row of this backup says completed in the restored database.
      expect(await query(target.url, `select status::text from backups where id = $1`, [id])).toEqual([{ status: 'completed' }]);

      // Vector search answers the same on the restored database.
      const restoredPrisma = new PrismaService({ mode: kit.prisma.mode, url: target.url, close: async () => undefined });
      // $disconnect() ends the pool under the adapter only once Prisma itself has connected; search goes to that
      // pool directly (queryRows), so connect Prisma or the pool's sessions outlive the test.
      await restoredPrisma.$connect();
      try {
        const [source, copy] = [new MemoryRepository(kit.prisma), new MemoryRepository(restoredPrisma)];
        for (const org of orgs) {
          const search = { embedding: org.memoryEmbeddings[5], k: 10, mode: 'vector' as const };
          const a = await source.search(org.organizationId, search);
          const b = await copy.search(org.organizationId, search);
          expect(b.map((r) => r.id)).toEqual(a.map((r) => r.id));
          expect(a.length).toBe(10);
        }
      } finally {
        await restoredPrisma.$disconnect();
      }

      // Now the target is not empty: refused, nothing changed; with force, replaced.
      const count = `select count(*)::int as n from organizations`;
      const orgCount = await query(target.url, count);
      await expect(kit.restorer.restore(id, { targetUrl: target.url })).rejects.toBeInstanceOf(RestoreRefusedError);
      expect(await query(target.url, count)).toEqual(orgCount);
      await query(target.url, `insert into organizations (id, name, updated_at) values (gen_random_uuid(), 'extra', now())`);
      const forced = await kit.restorer.restore(id, { targetUrl: target.url, force: true });
      expect(forced).toMatchObject({ replacedExisting: true, verifiedTables: manifest.tables.length });
      expect(await query(target.url, count)).toEqual(orgCount);
    } finally {
      await target.drop();
    }
  });

  it('encrypts with AES-256-GCM: verify needs the key, and a tampered tag fails the restore with nothing committed', async () => {
    const key = testEncryptionKey();
    const enc = makeKit({ env: { BACKUP_ENCRYPTION_KEY: key }, prisma: kit.prisma });
    try {
      const { id, manifest } = await whenFree(() => enc.backups.run());
      expect(manifest.encryption).toMatchObject({ algorithm: 'aes-256-gcm' });
      expect(JSON.stringify(manifest)).not.toContain(key);
      const file = path.join(enc.backupDir, objectKey(id));
      expect(fs.readFileSync(file).subarray(0, 8).toString('latin1')).toBe('AHBENC01');
      expect(await enc.verifier.verify(id)).toMatchObject({ ok: true, encrypted: true });

      const keyless = makeKit({ env: { BACKUP_DIR: enc.backupDir }, prisma: kit.prisma });
      expect(await keyless.verifier.verify(id)).toMatchObject({ ok: false, problem: expect.stringMatching(/BACKUP_ENCRYPTION_KEY/) });
      const wrong = makeKit({ env: { BACKUP_DIR: enc.backupDir, BACKUP_ENCRYPTION_KEY: testEncryptionKey() }, prisma: kit.prisma });
      expect(await wrong.verifier.verify(id)).toMatchObject({ ok: false, problem: expect.stringMatching(/not the key/) });

      // Flip a bit of the GCM tag (the last 16 bytes): every frame decodes, only the tag check can catch it.
      const bytes = fs.readFileSync(file);
      bytes[bytes.length - 1] ^= 0x01;
      fs.writeFileSync(file, bytes);
      expect(await enc.verifier.verify(id)).toMatchObject({ ok: false, problem: expect.stringMatching(/authentication failed/) });
      const target = await freshDatabase();
      try {
        await expect(enc.restorer.restore(id, { targetUrl: target.url })).rejects.toThrow(/authentication failed/);
        expect(await query(target.url, `select count(*)::int as n from organizations`)).toEqual([{ n: 0 }]);
      } finally {
        await target.drop();
      }
    } finally {
      await enc.close();
    }
  });

  it('detects a corrupted or truncated object and a missing backup', async () => {
    const { id } = await whenFree(() => kit.backups.run());
    const file = path.join(kit.backupDir, objectKey(id));
    const original = fs.readFileSync(file);
    fs.writeFileSync(file, original.subarray(0, original.length - 10));
    expect(await kit.verifier.verify(id)).toMatchObject({ ok: false });
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length / 2)] ^= 0xff;
    fs.writeFileSync(file, flipped);
    expect(await kit.verifier.verify(id)).toMatchObject({ ok: false });
    fs.writeFileSync(file, original);
    expect(await kit.verifier.verify(id)).toMatchObject({ ok: true });
    await expect(kit.verifier.verify('00000000-0000-4000-8000-000000000000')).rejects.toThrow(/not found/);
    await expect(kit.restorer.restore('not-an-id')).rejects.toThrow(/not found/);
  });

  it('runs a backup requested through the catalog (queued → running → completed)', async () => {
    const requested = await kit.repo.requestBackup();
    expect(requested.status).toBe('queued');
    for (let i = 0; i < 600 && (await kit.repo.findById(requested.id))!.status === 'queued'; i++) {
      await kit.jobs.drainQueue();
      if ((await kit.repo.findById(requested.id))!.status === 'queued') await new Promise((r) => setTimeout(r, 100));
    }
    const row = await kit.repo.findById(requested.id);
    expect(row).toMatchObject({ status: 'completed', target: 'local' });
    expect(fs.existsSync(path.join(kit.backupDir, manifestKey(requested.id)))).toBe(true);
  });

  it('never runs two backups at once, and fails a run abandoned by a dead worker (lock gone)', async () => {
    const held = await whenFree(async () => (await kit.locks.tryAcquire('backup')) ?? Promise.reject(new BackupBusyError()));
    try {
      await expect(kit.backups.run()).rejects.toBeInstanceOf(BackupBusyError);
    } finally {
      await held.release();
    }
    // What a killed worker leaves: a running row and a partial object.
    const orphan = await kit.repo.createRunning({ target: 'local', location: 'x' });
    fs.mkdirSync(path.join(kit.backupDir, orphan.id), { recursive: true });
    fs.writeFileSync(path.join(kit.backupDir, objectKey(orphan.id) + '.partial'), 'half');
    await whenFree(async () => {
      await kit.jobs.drainQueue();
      if ((await kit.repo.findById(orphan.id))!.status === 'running') throw new BackupBusyError();
    });
    expect(await kit.repo.findById(orphan.id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/abandoned/) });
    expect(fs.existsSync(path.join(kit.backupDir, orphan.id))).toBe(false);
  });
});
