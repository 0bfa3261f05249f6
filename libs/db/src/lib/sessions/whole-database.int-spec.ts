import { describeOnPostgres } from '../../testing';
import type pg from 'pg';
import { connectWholeDatabase, copyLoader } from './whole-database';

describeOnPostgres(copyLoader.name, () => {
  let client: pg.Client;
  beforeEach(async () => {
    client = await connectWholeDatabase(process.env.TEST_DATABASE_URL!, 'agenthub-copy-loader-test');
    await client.query(`create temp table copy_target (n int not null, v text)`);
  });
  afterEach(() => client.end());

  const rows = (from: number, count: number) => Buffer.from(Array.from({ length: count }, (_, i) => `${from + i}\tvalue ${from + i}\n`).join(''));
  const count = async () => (await client.query<{ n: number }>(`select count(*)::int as n from copy_target`)).rows[0].n;

  it('loads rows and reports what the server accepted', async () => {
    await client.query('begin');
    const sut = copyLoader(client, 'copy_target', ['n', 'v']);
    await sut.write(rows(0, 1000));
    await sut.write(rows(1000, 500));
    expect(await sut.end()).toBe(1500);
    await client.query('commit');
    expect(await count()).toBe(1500);
  });

  it('abort mid-COPY sends CopyFail: a write waiting for drain rejects, the transaction rolls back, the connection is usable', async () => {
    await client.query('begin');
    await client.query(`insert into copy_target values (-1, 'before')`);
    const sut = copyLoader(client, 'copy_target', ['n', 'v']);
    await sut.write(rows(0, 100));
    // Bigger than the stream's buffer: this write waits for "drain".
    const waiting = sut.write(rows(100, 200_000));
    const outcome = waiting.then(
      () => 'drained',
      (e: Error) => `rejected: ${e.message}`,
    );

    await sut.abort(new Error('authentication failed: the backup was altered'));
    await client.query('rollback');

    expect(await outcome).toMatch(/^(drained|rejected: .*)$/);
    await expect(sut.write(rows(0, 1))).rejects.toThrow();
    await sut.abort(new Error('twice')); // harmless
    expect(await count()).toBe(0);
    expect((await client.query(`select 1 as one`)).rows).toEqual([{ one: 1 }]);
  });

  it('abort before the server accepted the COPY still ends it cleanly', async () => {
    await client.query('begin');
    const sut = copyLoader(client, 'copy_target', ['n', 'v']);
    await sut.abort(new Error('stop'));
    await client.query('rollback');
    expect(await count()).toBe(0);
  });
});
