import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { createPgAdapter } from './pg-adapter';

// A migration the way we write them: a DO block with semicolons inside, and a ';' inside a comment and a string.
const SCRIPT = `
  create table whole_script_probe (id int primary key, note text); -- comment; with a semicolon
  DO $$
  BEGIN
    IF NOT EXISTS (SELECT FROM whole_script_probe) THEN
      INSERT INTO whole_script_probe VALUES (1, 'a; b');
    END IF;
  END
  $$;
`;

describe('whole-script shim (adapter-pg splits migration scripts on every ";")', () => {
  const url = () => process.env.TEST_DATABASE_URL!;
  const drop = async () => {
    const client = new pg.Client({ connectionString: url() });
    await client.connect();
    try {
      const exists = await client.query(`select to_regclass('whole_script_probe') is not null as t`);
      const rows = exists.rows[0].t ? (await client.query('select * from whole_script_probe')).rows : null;
      await client.query('drop table if exists whole_script_probe');
      return rows;
    } finally {
      await client.end();
    }
  };
  afterEach(drop);

  it('the unpatched adapter still cuts a DO block apart (remove the shim when this starts passing)', async () => {
    const adapter = await new PrismaPg({ connectionString: url() }).connect();
    try {
      await expect(adapter.executeScript(SCRIPT)).rejects.toThrow();
    } finally {
      await adapter.dispose();
    }
  });

  it('runs the script as PostgreSQL parses it', async () => {
    const adapter = await createPgAdapter(url(), { max: 1 }).connect();
    try {
      await adapter.executeScript(SCRIPT);
    } finally {
      await adapter.dispose();
    }
    expect(await drop()).toEqual([{ id: 1, note: 'a; b' }]);
  });

  it('applies all of a failing script or nothing (one implicit transaction)', async () => {
    const adapter = await createPgAdapter(url(), { max: 1 }).connect();
    try {
      await expect(adapter.executeScript(`${SCRIPT}\nselect 1/0;`)).rejects.toThrow();
    } finally {
      await adapter.dispose();
    }
    expect(await drop()).toBeNull();
  });
});
