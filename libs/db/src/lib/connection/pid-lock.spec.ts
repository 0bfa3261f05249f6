import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lockHolder, tryPidLock } from './pid-lock';

describe('tryPidLock', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-pidlock-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('holds the file with this pid, refuses a second holder while alive, and frees it on release', () => {
    const file = path.join(dir, 'x.lock');
    const release = tryPidLock(file);
    expect(release).not.toBeNull();
    expect(lockHolder(file)).toBe(process.pid);
    expect(tryPidLock(file)).toBeNull();
    release!();
    expect(fs.existsSync(file)).toBe(false);
    expect(tryPidLock(file)).not.toBeNull();
  });

  it('takes over a lock whose process is gone, and an empty one', () => {
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    const file = path.join(dir, 'dead.lock');
    fs.writeFileSync(file, dead);
    expect(tryPidLock(file)).not.toBeNull();
    expect(lockHolder(file)).toBe(process.pid);
    const empty = path.join(dir, 'empty.lock');
    fs.writeFileSync(empty, '');
    expect(tryPidLock(empty)).not.toBeNull();
  });
});
