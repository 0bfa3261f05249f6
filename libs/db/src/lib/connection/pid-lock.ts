import fs from 'node:fs';

/**
 * A lock file created exclusively and holding the owner's pid; a file whose process is gone is taken over. For
 * what has to exclude other processes on one machine where PostgreSQL cannot (the embedded database's single
 * session makes advisory locks re-entrant): starting the embedded server, and the worker's jobs on it.
 * Returns the release function, or null while a live process (this one included) holds the file.
 */
export function tryPidLock(file: string): (() => void) | null {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return () => fs.rmSync(file, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (pidAlive(lockHolder(file))) return null;
      fs.rmSync(file, { force: true });
    }
  }
  return null;
}

/** The pid in a lock file (0 when it is empty or unreadable). */
export function lockHolder(file: string): number {
  try {
    return Number(fs.readFileSync(file, 'utf8')) || 0;
  } catch {
    return 0;
  }
}

export function pidAlive(pid: number): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
