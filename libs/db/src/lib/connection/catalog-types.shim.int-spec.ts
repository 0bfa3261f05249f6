import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { CatalogTypesAsTextClient, reportCatalogTypesAsText } from './catalog-types.shim';
import { createPgAdapter } from './pg-adapter';

// The query shape the schema engine's introspection runs: catalog columns of type name (oid 19) and "char" (18).
const CATALOG_QUERY = {
  sql: `select c.relname as table_name, c.relkind as kind
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'public' and c.relname = 'messages'`,
  args: [],
  argTypes: [],
};

describe('catalog-types shim (prisma/orm#27403)', () => {
  const url = () => process.env.TEST_DATABASE_URL!;

  it('reports name and "char" columns as text and leaves other types alone', () => {
    const result = reportCatalogTypesAsText({ fields: [{ dataTypeID: 19 }, { dataTypeID: 18 }, { dataTypeID: 23 }] });
    expect(result.fields.map((f) => f.dataTypeID)).toEqual([25, 25, 23]);
  });

  it('the unpatched adapter still fails on catalog types (remove the shim when this starts passing)', async () => {
    const adapter = await new PrismaPg({ connectionString: url() }).connect();
    try {
      await expect(adapter.queryRaw(CATALOG_QUERY)).rejects.toMatchObject({
        cause: { kind: 'UnsupportedNativeDataType' },
      });
    } finally {
      await adapter.dispose();
    }
  });

  it('lets the adapter read catalog queries through pool and transaction paths', async () => {
    const adapter = await createPgAdapter(url(), { max: 2 }).connect();
    try {
      const direct = await adapter.queryRaw(CATALOG_QUERY);
      expect(direct.rows).toEqual([['messages', 'r']]);
      const tx = await adapter.startTransaction();
      const inTx = await tx.queryRaw(CATALOG_QUERY);
      await tx.commit();
      expect(inTx.rows).toEqual([['messages', 'r']]);
    } finally {
      await adapter.dispose();
    }
  });

  it('is a pg.Client, so the pool builds it for every connection', async () => {
    const pool = new pg.Pool({ connectionString: url(), Client: CatalogTypesAsTextClient } as pg.PoolConfig);
    try {
      const res = await pool.query(`select 'x'::name as n, 'y'::"char" as c`);
      expect(res.fields.map((f) => f.dataTypeID)).toEqual([25, 25]);
      expect(res.rows).toEqual([{ n: 'x', c: 'y' }]);
    } finally {
      await pool.end();
    }
  });
});
