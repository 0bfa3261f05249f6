import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { migrationNames } from '@agenthub/db';
import { FAKE_ROWS, fakeLocks, fakeWholeDatabase, memoryCatalog } from '../../test/fake-whole-database';
import { loadWorkerConfig } from '../config/worker.config';
import { LocalBackupStorage } from '../storage/local.storage';
import { BackupBusyError } from './backup-events';
import { BackupVerifyService } from './backup-verify.service';
import { BackupService } from './backup.service';

/**
 * BackupService through its ports: a fake whole database (test/fake-whole-database.ts), an in-memory catalog
 * (BackupRepository), the job lock, and real local storage in a temporary directory (what is written is read
 * back by BackupVerifyService, as `agenthub backup verify` does).
 */
function setup(options: { failInTable?: string; lockTaken?: boolean; loseLock?: boolean } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-backup-spec-'));
  const config = loadWorkerConfig({ BACKUP_CRON: 'off', BACKUP_DIR: dir });
  const storage = new LocalBackupStorage(dir);
  const { lock, locks } = fakeLocks({ taken: options.lockTaken });
  const { rows, repo } = memoryCatalog();
  // The connection holding the advisory lock drops while the last table is read (loseLock).
  const source = fakeWholeDatabase(FAKE_ROWS, {
    failCopyOut: options.failInTable,
    onCopyOut: (table) => void (options.loseLock && table === 'users' && (lock.held = false)),
  });
  const sut = new BackupService(config, source.port, repo, storage, locks);
  const files = () => fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => fs.statSync(path.join(dir, f)).isFile());
  return { sut, config, storage, rows, repo, lock, files, source, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe(BackupService.name, () => {
  let cleanup: () => void = () => undefined;
  afterEach(() => cleanup());

  it('streams every table of one snapshot to storage, the manifest last, and the catalog row completed; verify reads it back', async () => {
    const kit = setup();
    cleanup = kit.cleanup;
    const { id, manifest } = await kit.sut.run();
    expect(manifest).toMatchObject({ schemaVersion: migrationNames().at(-1), totals: { rows: 3 }, encryption: null });
    expect(manifest.tables.map((t) => [t.name, t.rows])).toEqual([['organizations', 1], ['users', 2]]);
    expect(kit.rows.get(id)).toMatchObject({ status: 'completed' });
    expect(kit.source.events).toEqual(['commit', 'end']);
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
    expect(kit.source.events).toEqual(['end']);
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
    expect(kit.source.port.snapshot).not.toHaveBeenCalled();
  });
});
