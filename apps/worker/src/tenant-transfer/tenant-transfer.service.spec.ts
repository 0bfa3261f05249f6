import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import type { PrismaService } from '@agenthub/db';
import { TENANT_TABLES, type TenantTable } from './tenant-format';
import type { TenantTransferRepository } from './tenant-transfer.repository';
import { TenantTransferService } from './tenant-transfer.service';

const ORG = '00000000-0000-4000-8000-0000000000aa';

/**
 * A database as TenantTransferService sees it through its ports: TenantTransferRepository (rows of each tenant
 * table as JSON text, in table order) and a transaction that rolls back what it wrote when it throws.
 */
function fakeDatabase(schemaVersion: string, tables: Record<string, string[]> = {}) {
  let data: Record<string, string[]> = Object.fromEntries(TENANT_TABLES.map((t) => [t.name, [...(tables[t.name] ?? [])]]));
  const hasOrg = () => data['organizations'].length > 0;
  const repo = {
    prepareSession: async () => undefined,
    schemaVersion: async () => schemaVersion,
    organization: async (_tx: unknown, id: string) => (hasOrg() ? { id, name: 'Acme' } : null),
    async *rows(_tx: unknown, table: TenantTable) {
      const rows = data[table.name];
      for (let i = 0; i < rows.length; i += 2) yield rows.slice(i, i + 2);
    },
    digests: async () =>
      Object.fromEntries(
        TENANT_TABLES.map((t) => {
          const hash = createHash('sha256');
          for (const row of data[t.name]) hash.update(`${row}\n`, 'utf8');
          return [t.name, { count: data[t.name].length, sha256: hash.digest('hex') }];
        }),
      ),
    insertRows: async (_tx: unknown, table: string, rows: string[]) => void data[table].push(...rows),
    deleteOrganization: async () => void (data = Object.fromEntries(TENANT_TABLES.map((t) => [t.name, []]))),
  };
  const db = {
    async transaction<T>(fn: (tx: unknown) => Promise<T>): Promise<T> {
      const before = structuredClone(data);
      try {
        return await fn({});
      } catch (e) {
        data = before;
        throw e;
      }
    },
  };
  return { repo: repo as unknown as TenantTransferRepository, db: db as unknown as PrismaService, data: () => data };
}

const SOURCE_ROWS = {
  organizations: [`{"id":"${ORG}","name":"Acme"}`],
  users: ['{"id":"u1","name":"Ada"}', '{"id":"u2","name":"Grace \\"G\\" Hopper"}', '{"id":"u3","name":"Ünïcödé"}'],
  conversations: ['{"id":"c1","title":"first"}'],
};

describe(TenantTransferService.name, () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-tenant-spec-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function exported(schema = 'm1') {
    const source = fakeDatabase(schema, SOURCE_ROWS);
    const file = path.join(dir, 'acme.jsonl.gz');
    const result = await new TenantTransferService(source.db, source.repo).exportTenant(ORG, file);
    return { file, result };
  }

  it('exports every tenant table with its count and digest, and imports the file into another database verified', async () => {
    const { file, result } = await exported();
    expect(result).toMatchObject({ organizationId: ORG, schemaVersion: 'm1' });
    expect(result.tables['users'].count).toBe(3);
    expect(fs.existsSync(`${file}.partial`)).toBe(false);
    const target = fakeDatabase('m1');
    const imported = await new TenantTransferService(target.db, target.repo).importTenant(file);
    expect(imported).toMatchObject({ verified: true, replaced: false, dryRun: false });
    expect(target.data()['users']).toEqual(SOURCE_ROWS.users);
    expect(target.data()['conversations']).toEqual(SOURCE_ROWS.conversations);
  });

  it('refuses another schema version, an organization that exists (without replace), and writes nothing', async () => {
    const { file } = await exported('m1');
    const newer = fakeDatabase('m2');
    await expect(new TenantTransferService(newer.db, newer.repo).importTenant(file)).rejects.toThrow(/schema mismatch/);
    expect(newer.data()['users']).toEqual([]);
    const taken = fakeDatabase('m1', { organizations: [`{"id":"${ORG}","name":"Old"}`], users: ['{"id":"old"}'] });
    await expect(new TenantTransferService(taken.db, taken.repo).importTenant(file)).rejects.toThrow(/already exists.*--replace/);
    expect(taken.data()['users']).toEqual(['{"id":"old"}']);
    const replaced = await new TenantTransferService(taken.db, taken.repo).importTenant(file, { onConflict: 'replace' });
    expect(replaced.replaced).toBe(true);
    expect(taken.data()['users']).toEqual(SOURCE_ROWS.users);
  });

  it('a dry run verifies everything and rolls it back', async () => {
    const { file } = await exported();
    const target = fakeDatabase('m1');
    const result = await new TenantTransferService(target.db, target.repo).importTenant(file, { dryRun: true });
    expect(result).toMatchObject({ verified: true, dryRun: true });
    expect(target.data()['users']).toEqual([]);
  });

  it('a file edited after export, or cut short, is refused and nothing is imported', async () => {
    const { file } = await exported();
    const text = zlib.gunzipSync(fs.readFileSync(file)).toString('utf8');
    const edited = path.join(dir, 'edited.jsonl.gz');
    fs.writeFileSync(edited, zlib.gzipSync(text.replace('Ada', 'Eve')));
    const target = fakeDatabase('m1');
    await expect(new TenantTransferService(target.db, target.repo).importTenant(edited)).rejects.toThrow(/does not match its footer digest/);
    const cut = path.join(dir, 'cut.jsonl.gz');
    fs.writeFileSync(cut, zlib.gzipSync(text.split('\n').slice(0, -2).join('\n') + '\n'));
    await expect(new TenantTransferService(target.db, target.repo).importTenant(cut)).rejects.toThrow(/truncated/);
    expect(target.data()['users']).toEqual([]);
  });

  it('an export that fails leaves no file behind', async () => {
    const source = fakeDatabase('m1');
    const file = path.join(dir, 'none.jsonl.gz');
    await expect(new TenantTransferService(source.db, source.repo).exportTenant(ORG, file)).rejects.toThrow(/does not exist/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });
});
