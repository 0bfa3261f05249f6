import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FAKE_ROWS, FAKE_TABLES, fakeLocks, fakeWholeDatabase, memoryCatalog } from '../../test/fake-whole-database';
import { loadWorkerConfig } from '../config/worker.config';
import { LocalBackupStorage } from '../storage/local.storage';
import { BackupService } from './backup.service';
import { RestoreRefusedError, RestoreService } from './restore.service';

/**
 * RestoreService through its ports: a backup made by BackupService from a fake database into real local storage,
 * restored into another fake database (test/fake-whole-database.ts: a load transaction that rollback undoes).
 */
async function setup(target: Record<string, string[]> = {}, options: { targetTables?: typeof FAKE_TABLES } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-restore-spec-'));
  const config = loadWorkerConfig({ BACKUP_CRON: 'off', BACKUP_DIR: dir });
  const storage = new LocalBackupStorage(dir);
  const { id } = await new BackupService(config, fakeWholeDatabase(FAKE_ROWS).port, memoryCatalog().repo, storage, fakeLocks().locks).run();
  const into = fakeWholeDatabase(target, { tables: options.targetTables });
  const sut = new RestoreService(config, into.port, storage);
  const objectFile = () => fs.readdirSync(path.join(dir, id)).find((f) => !f.endsWith('.json'))!;
  return { id, sut, into, dir, objectFile, cleanup: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

describe(RestoreService.name, () => {
  let cleanup: () => void = () => undefined;
  afterEach(() => cleanup());

  it('migrates, loads every table in one transaction, verifies it against the manifest, marks the backup, commits', async () => {
    const kit = await setup();
    cleanup = kit.cleanup;
    const result = await kit.sut.restore(kit.id);
    expect(result).toMatchObject({ id: kit.id, tables: 2, rows: 3, verifiedTables: 2, replacedExisting: false, loader: 'copy' });
    expect(kit.into.rowsOf('users')).toEqual(FAKE_ROWS.users.join('').split('\n').filter(Boolean));
    expect(kit.into.events).toEqual(['end', 'migrate', 'begin', 'finish', 'update backups', 'commit', 'end']);
  });

  it('refuses a database that holds rows before changing anything (migrations included); --force replaces them', async () => {
    const kit = await setup({ users: ['00000000-0000-4000-8000-0000000000ff\tMallory\n'] });
    cleanup = kit.cleanup;
    await expect(kit.sut.restore(kit.id)).rejects.toThrow(RestoreRefusedError);
    expect(kit.into.events).toEqual(['end']);
    expect(kit.into.rowsOf('users')).toEqual(['00000000-0000-4000-8000-0000000000ff\tMallory']);
    const forced = await kit.sut.restore(kit.id, { force: true });
    expect(forced.replacedExisting).toBe(true);
    expect(kit.into.rowsOf('users')).toHaveLength(2);
  });

  it('a target schema without a table of the backup is refused, nothing loaded', async () => {
    const kit = await setup({}, { targetTables: [FAKE_TABLES[0]] });
    cleanup = kit.cleanup;
    await expect(kit.sut.restore(kit.id)).rejects.toThrow(/no table users/);
    expect(kit.into.events).not.toContain('begin');
    expect(kit.into.events).not.toContain('commit');
  });

  it('a stored object changed after the backup: rolled back, nothing of it stays', async () => {
    const kit = await setup();
    cleanup = kit.cleanup;
    const file = path.join(kit.dir, kit.id, kit.objectFile());
    const bytes = fs.readFileSync(file);
    bytes[bytes.length - 40] ^= 0xff;
    fs.writeFileSync(file, bytes);
    await expect(kit.sut.restore(kit.id)).rejects.toThrow();
    expect(kit.into.events).toContain('rollback');
    expect(kit.into.events).not.toContain('commit');
    expect(kit.into.rowsOf('users')).toEqual([]);
  });
});
