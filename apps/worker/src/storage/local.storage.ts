import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { BackupStorage, ObjectWriter } from './backup-storage';

const PARTIAL = '.partial';

/** Backups in a local directory (the embedded default): `<dir>/<id>/backup.ahb` and `<dir>/<id>/manifest.json`. */
export class LocalBackupStorage implements BackupStorage {
  readonly kind = 'local' as const;
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  location(key: string): string {
    return this.file(key);
  }

  createWriter(key: string): ObjectWriter {
    const final = this.file(key);
    const partial = final + PARTIAL;
    fs.mkdirSync(path.dirname(final), { recursive: true });
    const stream = fs.createWriteStream(partial, { flags: 'w' });
    const closed = new Promise<void>((resolve, reject) => {
      stream.once('close', resolve);
      stream.once('error', reject);
    });
    closed.catch(() => undefined);
    return {
      stream,
      done: async () => {
        await closed;
        // fsync before the rename so a crash cannot leave a complete-looking name over missing data.
        const fd = fs.openSync(partial, 'r');
        try {
          fs.fsyncSync(fd);
        } finally {
          fs.closeSync(fd);
        }
        fs.renameSync(partial, final);
      },
      abort: async () => {
        stream.destroy();
        await closed.catch(() => undefined);
        try {
          fs.rmSync(partial, { force: true });
          fs.rmSync(final, { force: true });
          return null;
        } catch (e) {
          return `could not remove ${partial}: ${(e as Error).message}`;
        }
      },
    };
  }

  async read(key: string): Promise<Readable> {
    const file = this.file(key);
    if (!fs.existsSync(file)) throw new Error(`backup object ${file} does not exist`);
    return fs.createReadStream(file, { highWaterMark: 1024 * 1024 });
  }

  async put(key: string, body: Buffer): Promise<void> {
    const final = this.file(key);
    fs.mkdirSync(path.dirname(final), { recursive: true });
    fs.writeFileSync(final + PARTIAL, body);
    fs.renameSync(final + PARTIAL, final);
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return fs.readFileSync(this.file(key));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw e;
    }
  }

  async size(key: string): Promise<number | null> {
    try {
      return fs.statSync(this.file(key)).size;
    } catch {
      return null;
    }
  }

  async deleteBackup(id: string): Promise<void> {
    fs.rmSync(this.file(id), { recursive: true, force: true });
  }

  private file(key: string): string {
    const file = path.resolve(this.dir, key);
    // Keys are built from UUIDs; refuse anything that would leave the directory.
    if (!file.startsWith(this.dir + path.sep)) throw new Error(`invalid backup key ${key}`);
    return file;
  }
}
