import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { promisify } from 'node:util';
import pg from 'pg';
import { workspaceRoot } from '../migrations';

// PGlite loads its WebAssembly with a dynamic import, which Jest's VM sandbox refuses, so each embedded server
// here lives in a child Node process, as it would in the app, the Prisma CLI or Studio.
const root = workspaceRoot();
const preamble = `
  const { startEmbeddedDatabase } = require('./libs/db/src/lib/connection/embedded-database');
  const pg = require('pg');
  const sql = async (url, text) => { const c = new pg.Client({ connectionString: url }); await c.connect();
    try { return (await c.query(text)).rows; } finally { await c.end(); } };`;
const nodeArgs = (script: string) => ['--import', 'tsx', '-e', preamble + script];

async function runScript(script: string): Promise<unknown> {
  const { stdout } = await promisify(execFile)(process.execPath, nodeArgs(script), { cwd: root, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

/** An owner process: starts the server, prints its URL, closes it cleanly when its stdin ends. */
async function startOwner(dir: string) {
  const child = spawn(
    process.execPath,
    nodeArgs(`(async () => {
      const db = await startEmbeddedDatabase(${JSON.stringify(dir)});
      console.log(JSON.stringify({ owner: db.owner, url: db.url }));
      process.stdin.resume();
      process.stdin.on('end', async () => { await db.close(); process.exit(0); });
    })();`),
    { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const first = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`owner exited with ${code}`)));
  });
  const info = JSON.parse(first) as { owner: boolean; url: string };
  const stop = () => new Promise<number | null>((resolve) => (child.once('exit', resolve), child.stdin!.end()));
  return { ...info, stop };
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

describe('embedded database (PGlite + pgvector over the wire protocol)', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-embedded-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('serves PostgreSQL with pgvector to ordinary clients; a second process joins it instead of opening the files', async () => {
    const owner = await startOwner(dir);
    try {
      expect(owner.owner).toBe(true);
      await query(owner.url, 'create extension if not exists vector');
      const [{ d }] = await query<{ d: number }>(owner.url, `select '[1,0]'::vector <=> '[0,1]'::vector as d`);
      expect(d).toBeCloseTo(1, 6);
      await query(owner.url, `create table t (x int); insert into t values (42)`);

      const joined = await runScript(`(async () => {
        const db = await startEmbeddedDatabase(${JSON.stringify(dir)});
        const rows = await sql(db.url, 'select x from t');
        console.log(JSON.stringify({ owner: db.owner, url: db.url, x: rows[0].x }));
      })().catch((e) => { console.error(e); process.exit(1); });`);
      expect(joined).toEqual({ owner: false, url: owner.url, x: 42 });
    } finally {
      expect(await owner.stop()).toBe(0);
    }
    expect(fs.existsSync(path.join(dir, 'embedded.json'))).toBe(false); // the owner removed its marker
  });

  it('keeps the data across a restart', async () => {
    const first = await startOwner(dir);
    await query(first.url, `create table kept (v text); insert into kept values ('still here')`);
    await first.stop();
    const second = await startOwner(dir);
    try {
      expect(await query(second.url, 'select v from kept')).toEqual([{ v: 'still here' }]);
    } finally {
      await second.stop();
    }
  });
});
