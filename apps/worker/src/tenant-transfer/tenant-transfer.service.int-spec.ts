import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { applyMigrations, AuditLogRepository, PrismaService, workspaceRoot } from '@agenthub/db';
import { createTestPrisma, describeOnPostgres, ensureSiblingDatabase, makeOrganization, TEST_AUDIT_MAC_KEY } from '@agenthub/db/testing';
import { makeRichTenant } from '../../test/fixtures/tenant';
import { TENANT_TABLES } from './tenant-format';
import { TenantTransferRepository } from './tenant-transfer.repository';
import { TenantTransferService } from './tenant-transfer.service';

/** Every row of the organization as plain values, read through Prisma (not through the code under test). */
async function rowsOf(prisma: PrismaService, organizationId: string) {
  const where = { organizationId };
  const byId = { orderBy: { id: 'asc' as const } };
  const vectors = await prisma.$queryRaw<Array<{ id: string; e: string | null }>>`
    SELECT id::text, embedding::text AS e FROM memories WHERE organization_id = ${organizationId}::uuid
    UNION ALL SELECT id::text, embedding::text FROM document_chunks WHERE organization_id = ${organizationId}::uuid ORDER BY 1`;
  return {
    organization: await prisma.organization.findUnique({ where: { id: organizationId } }),
    users: await prisma.user.findMany({ where, ...byId }),
    apiKeys: await prisma.apiKey.findMany({ where, ...byId }),
    agents: await prisma.agent.findMany({ where, ...byId }),
    conversations: await prisma.conversation.findMany({ where, ...byId }),
    messages: await prisma.message.findMany({ where, ...byId }),
    documents: await prisma.document.findMany({ where, ...byId }),
    payments: (await prisma.payment.findMany({ where, ...byId })).map((p) => ({ ...p, amount: p.amount.toFixed(4), refundedAmount: p.refundedAmount.toFixed(4) })),
    refunds: (await prisma.refund.findMany({ where, ...byId })).map((r) => ({ ...r, amount: r.amount.toFixed(4) })),
    events: await prisma.analyticsEvent.findMany({ where, ...byId }),
    audit: (await prisma.auditLog.findMany({ where, ...byId })).map((a) => ({ ...a, seq: a.seq?.toString() ?? null })),
    idempotency: await prisma.idempotencyKey.findMany({ where, orderBy: { key: 'asc' } }),
    langGraph: [
      await prisma.langGraphThread.findMany({ where }),
      await prisma.langGraphCheckpoint.findMany({ where }),
      await prisma.langGraphCheckpointBlob.findMany({ where }),
      await prisma.langGraphCheckpointWrite.findMany({ where }),
      (await prisma.langGraphStoreItem.findMany({ where })).map((i) => ({ ...i, seq: String(i.seq) })),
      await prisma.$queryRaw`SELECT prefix, key, field, embedding::text AS e FROM langgraph_store_vectors WHERE organization_id = ${organizationId}::uuid`,
    ],
    vectors,
  };
}

describe(TenantTransferService.name, () => {
  let prisma: PrismaService;
  let sut: TenantTransferService;
  let dir: string;

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new TenantTransferService(prisma, new TenantTransferRepository());
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-tenant-'));
  });
  afterAll(async () => {
    await prisma.$disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips an organization losslessly through the file (replace into the same database)', async () => {
    const { organization } = await makeRichTenant(prisma);
    const other = await makeOrganization(prisma);
    const before = await rowsOf(prisma, organization.id);
    const file = path.join(dir, 'rich.jsonl.gz');

    const exported = await sut.exportTenant(organization.id, file);
    expect(exported.tables).toMatchObject({
      organizations: { count: 1 }, users: { count: 2 }, api_keys: { count: 1 }, agents: { count: 3 }, conversations: { count: 2 },
      messages: { count: 4 }, memories: { count: 2 }, documents: { count: 1 }, document_chunks: { count: 2 }, payments: { count: 2 },
      refunds: { count: 1 }, analytics_events: { count: 1 }, audit_logs: { count: 2 }, audit_chain_heads: { count: 1 }, idempotency_keys: { count: 1 },
      langgraph_threads: { count: 1 }, langgraph_checkpoints: { count: 1 }, langgraph_checkpoint_blobs: { count: 1 }, langgraph_checkpoint_writes: { count: 1 },
      langgraph_store_items: { count: 1 }, langgraph_store_vectors: { count: 1 },
    });
    const lines = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').trimEnd().split('\n');
    expect(JSON.parse(lines[0])).toMatchObject({ format: 'agenthub-tenant', version: 1, organizationId: organization.id, tables: TENANT_TABLES.map((t) => t.name) });
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ footer: true, tables: exported.tables });
    expect(lines.join('\n')).not.toContain('search_vector');

    await expect(sut.importTenant(file)).rejects.toThrow(/already exists in the target; use --replace/);
    // As in a fresh target: the store's insertion counter behind the imported rows' values.
    await prisma.$executeRaw`SELECT setval(pg_get_serial_sequence('langgraph_store_items', 'seq'), 1)`;
    const result = await sut.importTenant(file, { onConflict: 'replace' });
    expect(result).toMatchObject({ verified: true, replaced: true, organizationId: organization.id });
    expect(await rowsOf(prisma, organization.id)).toEqual(before);
    expect(await new AuditLogRepository(prisma, TEST_AUDIT_MAC_KEY).verify(organization.id)).toMatchObject({ ok: true, checked: 2, sealed: 1, pending: 1 });
    // An item stored after the import lists after the imported ones (the counter was moved past them).
    const [imported] = await prisma.langGraphStoreItem.findMany({ where: { organizationId: organization.id } });
    const next = await prisma.langGraphStoreItem.create({ data: { organizationId: organization.id, prefix: 'users.ü', key: 'later', value: {} } });
    expect(next.seq).toBeGreaterThan(imported.seq);
    // other organizations are untouched
    expect(await prisma.organization.findUnique({ where: { id: other.id } })).not.toBeNull();
  });

  it('dry run verifies the file and writes nothing', async () => {
    const { organization } = await makeRichTenant(prisma);
    const file = path.join(dir, 'dry.jsonl.gz');
    await sut.exportTenant(organization.id, file);
    await prisma.$executeRaw`DELETE FROM conversations WHERE organization_id = ${organization.id}::uuid`;
    await prisma.organization.delete({ where: { id: organization.id } });
    const result = await sut.importTenant(file, { dryRun: true });
    expect(result).toMatchObject({ dryRun: true, verified: true });
    expect(await prisma.organization.findUnique({ where: { id: organization.id } })).toBeNull();
  });

  it('refuses a tampered, truncated or foreign file and changes nothing', async () => {
    const { organization } = await makeRichTenant(prisma);
    const file = path.join(dir, 'orig.jsonl.gz');
    await sut.exportTenant(organization.id, file);
    const before = await rowsOf(prisma, organization.id);
    const lines = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8').trimEnd().split('\n');
    const write = (name: string, content: string[]) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, zlib.gzipSync(`${content.join('\n')}\n`));
      return f;
    };
    const tampered = lines.map((l) => l.replace('Hallo 👋', 'Hallo 👀'));
    await expect(sut.importTenant(write('tampered.gz', tampered), { onConflict: 'replace' })).rejects.toThrow(/does not match its footer digest/);
    await expect(sut.importTenant(write('truncated.gz', lines.slice(0, -3)), { onConflict: 'replace' })).rejects.toThrow(/truncated: no footer/);
    await expect(sut.importTenant(write('foreign.gz', ['{"hello":1}']))).rejects.toThrow(/not an AgentHub tenant file/);
    const notGzip = path.join(dir, 'plain.txt');
    fs.writeFileSync(notGzip, 'hello');
    await expect(sut.importTenant(notGzip)).rejects.toThrow(/not a readable gzip file/);
    await expect(sut.exportTenant('00000000-0000-4000-8000-000000000000', path.join(dir, 'none.gz'))).rejects.toThrow(/does not exist/);
    expect(fs.existsSync(path.join(dir, 'none.gz'))).toBe(false);
    expect(await rowsOf(prisma, organization.id)).toEqual(before);
  });

  describeOnPostgres('between two PostgreSQL databases', () => {
    let second: PrismaService;
    beforeAll(async () => {
      const url = await ensureSiblingDatabase(process.env.TEST_DATABASE_URL!, 'tenant_target');
      const admin = new PrismaService({ mode: 'postgres', url, close: async () => undefined });
      await admin.$executeRawUnsafe('DROP SCHEMA IF EXISTS public CASCADE');
      await admin.$executeRawUnsafe('CREATE SCHEMA public');
      await admin.$disconnect();
      await applyMigrations({ url }, { quiet: true });
      second = new PrismaService({ mode: 'postgres', url, close: async () => undefined });
    });
    afterAll(() => second?.$disconnect());

    it('moves an organization to another database; every row, vector and decimal is identical there', async () => {
      const { organization } = await makeRichTenant(prisma);
      const file = path.join(dir, 'move.jsonl.gz');
      const exported = await sut.exportTenant(organization.id, file);
      const result = await sut.importTenant(file, { db: second });
      expect(result.verified).toBe(true);
      expect(await rowsOf(second, organization.id)).toEqual(await rowsOf(prisma, organization.id));
      // and back out of the second database, the file is the same data
      const again = await sut.exportTenant(organization.id, path.join(dir, 'back.jsonl.gz'), { db: second });
      expect(again.tables).toEqual(exported.tables);
    });
  });

  describeOnPostgres('from the embedded database to PostgreSQL', () => {
    // PGlite cannot start inside Jest's VM (dynamic import): a child process owns a fresh embedded database,
    // as the CLI would, and this test talks to it over its socket.
    let child: ReturnType<typeof spawn>;
    let embedded: PrismaService;
    let embeddedDir: string;

    beforeAll(async () => {
      embeddedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-embedded-source-'));
      child = spawn(
        process.execPath,
        ['--import', 'tsx', '-e', `
          const { startEmbeddedDatabase } = require('./libs/db/src/lib/connection/embedded-database');
          startEmbeddedDatabase(${JSON.stringify(embeddedDir)}).then((db) => {
            console.log(db.url);
            process.stdin.resume();
            process.stdin.on('end', async () => { await db.close(); process.exit(0); });
          });`],
        { cwd: workspaceRoot(), stdio: ['pipe', 'pipe', 'inherit'] },
      );
      const url = await new Promise<string>((resolve, reject) => {
        readline.createInterface({ input: child.stdout! }).once('line', resolve);
        child.once('exit', (code) => reject(new Error(`embedded database exited with ${code}`)));
      });
      await applyMigrations({ url }, { quiet: true });
      embedded = new PrismaService({ mode: 'embedded', url, close: async () => undefined });
    });
    afterAll(async () => {
      await embedded?.$disconnect();
      if (child && child.exitCode === null) await new Promise((resolve) => (child.once('exit', resolve), child.stdin!.end()));
      fs.rmSync(embeddedDir, { recursive: true, force: true });
    });

    it('moves an organization from an embedded instance into PostgreSQL unchanged', async () => {
      const { organization } = await makeRichTenant(embedded);
      const file = path.join(dir, 'embedded.jsonl.gz');
      const exported = await sut.exportTenant(organization.id, file, { db: embedded });
      const result = await sut.importTenant(file);
      expect(result).toMatchObject({ verified: true, replaced: false });
      expect(await rowsOf(prisma, organization.id)).toEqual(await rowsOf(embedded, organization.id));
      expect((await sut.exportTenant(organization.id, path.join(dir, 'embedded-back.jsonl.gz'))).tables).toEqual(exported.tables);
    });
  });
});
