import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { workspaceRoot } from '@agenthub/db';
import { describeOnPostgres, ensureSiblingDatabase } from '@agenthub/db/testing';
import { makeKit, query, whenFree } from '../test/backup-kit';
import { manifestKey } from './backup/backup-manifest';

const root = workspaceRoot();
const bin = path.join(root, 'apps/worker/bin/agenthub.js');

/** The real `agenthub` binary and the real worker entry point, as child processes. */
function cli(args: string[], env: Record<string, string>) {
  return promisify(execFile)(process.execPath, [bin, ...args], { cwd: root, env: { ...process.env, ...env }, timeout: 120_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

describeOnPostgres('agenthub command line and worker process', () => {
  let backupDir: string;
  let env: Record<string, string>;
  let kit: ReturnType<typeof makeKit>;

  beforeAll(() => {
    backupDir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-cli-'));
    env = { DATABASE_URL: process.env.TEST_DATABASE_URL!, BACKUP_DIR: backupDir, BACKUP_BUCKET: '', BACKUP_ENCRYPTION_KEY: '' };
    kit = makeKit({ env: { BACKUP_DIR: backupDir } });
  });
  afterAll(async () => {
    await kit.close();
    fs.rmSync(backupDir, { recursive: true, force: true });
  });

  it('backup --json, backups list --json, backup verify --json; bad input exits non-zero', async () => {
    let backup = await cli(['backup', '--json', '--no-retention'], env);
    for (let i = 0; backup.code === 3 && i < 100; i++) backup = await cli(['backup', '--json', '--no-retention'], env);
    expect(backup.code).toBe(0);
    const out = JSON.parse(backup.stdout);
    expect(out).toMatchObject({ ok: true, encrypted: false });
    expect(backup.stdout.trim().split('\n')).toHaveLength(1);

    const list = JSON.parse((await cli(['backups', 'list', '--json', '--limit', '200'], env)).stdout);
    expect(list.data.map((b: { id: string }) => b.id)).toContain(out.id);

    const verify = await cli(['backup', 'verify', out.id, '--json'], env);
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, id: out.id });

    const missing = await cli(['backup', 'verify', '00000000-0000-4000-8000-000000000000', '--json'], env);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ ok: false, error: expect.stringMatching(/not found/) });

    const refused = await cli(['restore', out.id, '--json'], env);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout).error).toMatch(/not empty/);

    const badConfig = await cli(['backups', 'list'], { ...env, BACKUP_ENCRYPTION_KEY: 'short', BACKUP_CRON: 'every day' });
    expect(badConfig.code).toBe(2);
    expect(badConfig.stderr).toMatch(/BACKUP_ENCRYPTION_KEY/);
    expect(badConfig.stderr).toMatch(/BACKUP_CRON/);
    expect(badConfig.stderr).not.toContain('short');
  });

  it('a backup killed with -9 mid-run leaves nothing complete; the next run fails the stale row and succeeds', async () => {
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    const before = new Set((await kit.repo.listByStatus(['running', 'failed', 'completed'])).map((r) => r.id));
    let child: ReturnType<typeof spawn> | null = null;
    try {
      // Hold a table of the last foreign-key level so the child's backup blocks half-way, then kill it there.
      await admin.query('begin');
      await admin.query('lock table refunds in access exclusive mode');
      child = spawn(process.execPath, [bin, 'backup', '--json', '--no-retention'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
      let victim: string | undefined;
      for (let i = 0; i < 1200 && !victim; i++) {
        await new Promise((r) => setTimeout(r, 50));
        // Not on `admin`: inside its transaction pg_stat_activity is a frozen snapshot.
        const waiting = await query(env.DATABASE_URL, `select 1 from pg_stat_activity where application_name = 'agenthub-backup' and wait_event_type = 'Lock'`);
        if (waiting.length) victim = (await kit.repo.listByStatus(['running'])).find((r) => !before.has(r.id))?.id;
      }
      expect(victim).toBeDefined();
      expect(fs.existsSync(path.join(backupDir, victim!, 'backup.ahb.partial'))).toBe(true);
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
      await admin.query('commit');

      expect((await kit.repo.findById(victim!))!.status).toBe('running');
      expect(fs.existsSync(path.join(backupDir, manifestKey(victim!)))).toBe(false);

      // The server notices the dead sessions and drops the advisory lock; then the next run sweeps.
      let next = await cli(['backup', '--json', '--no-retention'], env);
      for (let i = 0; next.code === 3 && i < 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        next = await cli(['backup', '--json', '--no-retention'], env);
      }
      expect(next.code).toBe(0);
      expect(await kit.repo.findById(victim!)).toMatchObject({ status: 'failed', error: expect.stringMatching(/abandoned/) });
      expect(fs.existsSync(path.join(backupDir, victim!))).toBe(false);
      const done = JSON.parse(next.stdout);
      expect(await whenFree(() => kit.verifier.verify(done.id))).toMatchObject({ ok: true });
    } finally {
      child?.kill('SIGKILL');
      await admin.query('rollback').catch(() => undefined);
      await admin.end();
    }
  });

  it('the worker refuses to start against a database whose migrations are behind, and says how to fix it', async () => {
    const url = await ensureSiblingDatabase(process.env.TEST_DATABASE_URL!, 'unmigrated');
    await query(url, 'drop schema if exists public cascade; create schema public');
    const worker = await promisify(execFile)(process.execPath, ['-r', '@swc-node/register', 'apps/worker/src/main.ts'], {
      cwd: root,
      env: { ...process.env, ...env, DATABASE_URL: url, SWC_NODE_PROJECT: 'apps/worker/tsconfig.json' },
      timeout: 60_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => e,
    );
    expect(worker.code).toBe(2);
    expect(worker.stderr).toMatch(/pending migration/);
    expect(worker.stderr).toMatch(/npx nx run migrate/);
  });
});
