import type pg from 'pg';
import { ReadReplicas, isReplicaBehind, parseLsn, replayCheckSql, replicaCannotServe, REPLICA_BEHIND } from './read-replicas';

/** A primary whose WAL position queries answer only when the test says so, in order. */
function primaryStub() {
  const pending: Array<{ resolve: (lsn: string) => void }> = [];
  const pool = {
    query: () =>
      new Promise((resolve) => {
        pending.push({ resolve: (lsn: string) => resolve({ rows: [{ lsn }] }) });
      }),
  } as unknown as pg.Pool;
  return { pool, pending };
}

describe('ReadReplicas', () => {
  it('parses WAL positions and writes the replay check with nothing but a checked position in it', () => {
    expect(parseLsn('0/0')).toBe(0n);
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) + 0xb374d848n);
    expect(parseLsn('16/B374D849') > parseLsn('16/B374D848')).toBe(true);
    expect(() => parseLsn("0/1'; drop table x; --")).toThrow(/not a WAL position/);
    expect(replayCheckSql('16/B374D848')).toContain("pg_last_wal_replay_lsn() < '16/B374D848'::pg_lsn");
    expect(replayCheckSql('16/B374D848')).toContain(`ERRCODE = '${REPLICA_BEHIND}'`);
    expect(() => replayCheckSql("1/1' OR true")).toThrow(/not a WAL position/);
  });

  it('tells a replica that cannot serve (behind, conflict, unreachable) from the read failing on its own', () => {
    const pgError = (code: string) => Object.assign(new Error(code), { code });
    expect(isReplicaBehind(pgError(REPLICA_BEHIND))).toBe(true);
    for (const code of [REPLICA_BEHIND, '40001', '57P01', '08006', 'ECONNREFUSED']) expect(replicaCannotServe(pgError(code))).toBe(true);
    expect(replicaCannotServe(new Error('Connection terminated unexpectedly'))).toBe(true);
    for (const code of ['42P01', '22P02', '23505']) expect(replicaCannotServe(pgError(code))).toBe(false);
    expect(replicaCannotServe(new Error('conversation not found'))).toBe(false);
  });

  it('answers every caller with a primary position read by a query sent after it asked, one query for all who wait', async () => {
    const primary = primaryStub();
    const replicas = new ReadReplicas(primary.pool, []);
    const first = replicas.freshnessTarget(); // sends query 1
    expect(primary.pending).toHaveLength(1);
    // Asked while query 1 is on its way: query 1 may have been read before they asked, so they wait for query 2.
    const second = replicas.freshnessTarget();
    const third = replicas.freshnessTarget();
    expect(primary.pending).toHaveLength(1);
    primary.pending[0].resolve('0/100');
    await expect(first).resolves.toBe('0/100');
    await new Promise((r) => setImmediate(r));
    expect(primary.pending).toHaveLength(2); // query 2, shared by both
    // Asked while query 2 is on its way: query 3.
    const fourth = replicas.freshnessTarget();
    primary.pending[1].resolve('0/200');
    await expect(Promise.all([second, third])).resolves.toEqual(['0/200', '0/200']);
    await new Promise((r) => setImmediate(r));
    expect(primary.pending).toHaveLength(3);
    primary.pending[2].resolve('0/300');
    await expect(fourth).resolves.toBe('0/300');
    // Nothing on its way: a new query at once.
    const fifth = replicas.freshnessTarget();
    expect(primary.pending).toHaveLength(4);
    primary.pending[3].resolve('0/400');
    await expect(fifth).resolves.toBe('0/400');
    await replicas.close();
  });
});
