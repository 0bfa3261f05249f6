import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BackupRepository, BackupRow, DatabaseSnapshot, JobLockService, TableInfo, WholeDatabase } from '@agenthub/db';
import { loadWorkerConfig } from '../config/worker.config';
import { LocalBackupStorage } from '../storage/local.storage';
import { BackupBusyError } from './backup-events';
import { BackupVerifyService } from './backup-verify.service';
import { BackupService } from './backup.service';

const TABLES: TableInfo[] = [
  { name: 'organizations', columns: [{ name: 'id', type: 'uuid' }, { name: 'name', type: 'text' }] },
  { name: 'users', columns: [{ name: 'id', type: 'uuid' }, { name: 'name', type: 'text' }] },
];
/** COPY text of each table, in the chunks the fake server sends. */
const COPY: Record<string, string[]> = {
  organizations: ['00000000-0000-4000-8000-000000000001\tAcme\n'],
  users: ['00000000-0000-4000-8000-000000000011\tAda\n00000000-0000-4000-8000-0000000000', '12\tGrace\n'],
};

/**
 * BackupService through its ports: a fake whole database (the snapshot a backup reads), an in-memory catalog
 * (BackupRepository), the job lock, and real local storage in a temporary directory (what is written is read
 * back by BackupVerifyService, as `agenthub backup verify` does).
 */
function setup(options: { failInTable?: string; lockTaken?: boolean; loseLock?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-backup-spec-'));
  const config = loadWorkerConfig({ BACKUP_CRON: 'off', BACKUP_DIR: dir });
  const storage = new LocalBackupStorage(dir);
  const ended = { snapshot: false, committed: false };
  const lock = { held: true, release: jest.fn(async () => undefined) };
  const snapshot: DatabaseSnapshot = {
    migrations: async () => ['20260101000000_init', '20260102000000_more'],
    server: async () => ({ version: 'PostgreSQL 15.0', pglite: false }),
    tables: async () => TABLES,
    async *copyOut(table) {
      // The connection holding the advisory lock drops while the last table is read.
      if (options.loseLock && table.name === 'users') lock.held = false;
      for (const [i, chunk] of COPY[table.name].entries()) {
        if (table.name === options.failInTable && i > 0) throw new Error(`connection lost while copying ${table.name}`);
        yield Buffer.from(chunk);
      }
    },
    commit: async () => void (ended.committed = true),
    end: async () => void (ended.snapshot = true),
  };
  const database = { mode: 'postgres', snapshot: jest.fn(async () => snapshot) };
  const rows = new Map<string, { status: string; error?: string; manifest?: unknown }>();
  const repo = {
    failAbandoned: jest.fn(async () => []),
    createRunning: jest.fn(async (input: { id: string; target: string; location: string }) => {
      rows.set(input.id, { status: 'running' });
      return { id: input.id, status: 'running', startedAt: new Date() } as unknown as BackupRow;
    }),
    markCompleted: jest.fn(async (id: string, done: { manifest: unknown }) => (rows.set(id, { status: 'completed', manifest: done.manifest }), true)),
    markFailed: jest.fn(async (id: string, error: string) => (rows.set(id, { status: 'failed', error }), true)),
  };
  const locks = { tryAcquire: jest.fn(async () => (options.lockTaken ? null : lock)) };
  const sut = new BackupService(config, database as unknown as WholeDatabase, repo as unknown as BackupRepository, storage, locks as unknown as JobLockService);
  const files = () => fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(dir, f)).isFile());
  return { sut, config, storage, rows, repo, lock, ended, files, database, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe(BackupService.name, () => {
  let cleanup: () => void = () => undefined;
  afterEach(() => cleanup());

  it('streams every table of one snapshot to storage, the manifest last, and the catalog row completed; verify reads it back', async () => {
    const kit = setup();
    cleanup = kit.cleanup;
    const { id, manifest } = await kit.sut.run();
    expect(manifest).toMatchObject({ schemaVersion: '20260102000000_more', totals: { rows: 3 }, encryption: null });
    expect(manifest.tables.map((t) => [t.name, t.rows])).toEqual([['organizations', 1], ['users', 2]]);
    expect(kit.rows.get(id)).toMatchObject({ status: 'completed' });
    expect(kit.ended).toEqual({ snapshot: true, committed: true });
    expect(kit.lock.release).toHaveBeenCalled();
    const verified = await new BackupVerifyService(kit.config, kit.storage).verify(id);
    expect(verified).toMatchObject({ ok: true, tables: 2, rows: 3 });
  });

  it('a table that fails mid-copy: nothing left in storage, the row failed with the reason, the session ended, the lock released', async () => {
    const kit = setup({ failInTable: 'users' });
    cleanup = kit.cleanup;
    await expect(kit.sut.run()).rejects.toThrow(/connection lost while copying users/);
    const [id] = [...kit.rows.keys()];
    expect(kit.rows.get(id)).toMatchObject({ status: 'failed', error: expect.stringMatching(/connection lost/) });
    expect(kit.files()).toEqual([]);
    expect(kit.ended.snapshot).toBe(true);
    expect(kit.lock.release).toHaveBeenCalled();
  });

  it('a run that lost its lock on the way does not claim success', async () => {
    const kit = setup({ loseLock: true });
    cleanup = kit.cleanup;
    await expect(kit.sut.run()).rejects.toThrow(/lost the backup lock/);
    expect([...kit.rows.values()][0]).toMatchObject({ status: 'failed' });
    expect(kit.files()).toEqual([]);
  });

  it('another backup holding the lock: BackupBusyError, no row, no snapshot', async () => {
    const kit = setup({ lockTaken: true });
    cleanup = kit.cleanup;
    await expect(kit.sut.run()).rejects.toBeInstanceOf(BackupBusyError);
    expect(kit.repo.createRunning).not.toHaveBeenCalled();
    expect(kit.database.snapshot).not.toHaveBeenCalled();
  });
});
