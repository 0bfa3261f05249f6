import { isTransactionPooler, resolveDatabase, sessionUrl, describeDatabase } from './database-config';
import { pgPoolConfig, VECTOR_SETTINGS_SQL } from './pg-adapter';

describe('database configuration for scaling out (issue 16)', () => {
  const primary = 'postgresql://app:secret@db:5432/agenthub';
  const pooler = 'postgresql://app:secret@pgbouncer:6432/agenthub?pgbouncer=true';

  it('recognises a transaction pooler by pgbouncer=true and requires a direct URL for sessions beside it', async () => {
    expect(isTransactionPooler(pooler)).toBe(true);
    expect(isTransactionPooler(primary)).toBe(false);
    expect(isTransactionPooler('postgresql://h/db?pgbouncer=false')).toBe(false);
    await expect(resolveDatabase({ DATABASE_URL: pooler })).rejects.toThrow(/set DATABASE_DIRECT_URL/);
    await expect(resolveDatabase({ DATABASE_URL: pooler, DATABASE_DIRECT_URL: pooler })).rejects.toThrow(/not a pooler/);
    const target = await resolveDatabase({ DATABASE_URL: pooler, DATABASE_DIRECT_URL: primary });
    expect(target).toMatchObject({ mode: 'postgres', url: pooler, directUrl: primary, pooled: true });
    expect(sessionUrl(target)).toBe(primary);
    expect(describeDatabase(target)).not.toContain('secret');
    expect(sessionUrl(await resolveDatabase({ DATABASE_URL: primary }))).toBe(primary);
    // Several PgBouncers in one multi-host URL: still a pooler, and its password still hidden.
    const pgbouncers = 'postgresql://app:secret@pgb1:6432,pgb2:6432/agenthub?pgbouncer=true&sslpassword=hush';
    expect(isTransactionPooler(pgbouncers)).toBe(true);
    expect(pgPoolConfig(pgbouncers).options).toBeUndefined();
    const shown = describeDatabase(await resolveDatabase({ DATABASE_URL: pgbouncers, DATABASE_DIRECT_URL: primary }));
    expect(shown).toContain('pgb1:6432,pgb2:6432');
    expect(shown).not.toMatch(/secret|hush/);
  });

  it('sends no start-up settings through a pooler (PgBouncer refuses them); they go with each transaction instead', () => {
    expect(pgPoolConfig(primary).options).toBe('-c hnsw.ef_search=100 -c hnsw.iterative_scan=strict_order');
    expect(pgPoolConfig(pooler).options).toBeUndefined();
    expect(VECTOR_SETTINGS_SQL).toBe("SET LOCAL hnsw.ef_search = 100; SET LOCAL hnsw.iterative_scan = 'strict_order'");
  });

  it('reads DATABASE_READ_URLS as a comma-separated list, multi-host URLs included, and checks the lag bound', async () => {
    const target = await resolveDatabase({
      DATABASE_URL: primary,
      DATABASE_READ_URLS: ' postgresql://r1/agenthub, postgresql://r2:5432,r3:5432/agenthub?target_session_attrs=standby ',
      DATABASE_READ_MAX_LAG_MS: '250',
    });
    expect(target.readUrls).toEqual(['postgresql://r1/agenthub', 'postgresql://r2:5432,r3:5432/agenthub?target_session_attrs=standby']);
    expect(target.readMaxLagMs).toBe(250);
    expect((await resolveDatabase({ DATABASE_URL: primary })).readUrls).toEqual([]);
    await expect(resolveDatabase({ DATABASE_URL: primary, DATABASE_READ_URLS: 'mysql://r1/db' })).rejects.toThrow(/DATABASE_READ_URLS/);
    await expect(resolveDatabase({ DATABASE_URL: primary, DATABASE_READ_MAX_LAG_MS: '-1' })).rejects.toThrow(/DATABASE_READ_MAX_LAG_MS/);
  });
});
