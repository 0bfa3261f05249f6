import { Inject, Injectable } from '@nestjs/common';
import { WORKER_CONFIG, type WorkerConfig } from '../config/worker.config';
import { BACKUP_STORAGE, type BackupStorage } from '../storage/backup-storage';
import type { ProgressListener } from './backup-events';
import { BackupIntegrityError, loadManifest, readBackup } from './backup-reader';

export interface VerifyResult {
  id: string;
  ok: boolean;
  location: string;
  tables: number;
  rows: number;
  sizeBytes: number;
  encrypted: boolean;
  schemaVersion: string;
  /** why it failed (ok=false) */
  problem?: string;
}

/** `agenthub backup verify <id>`: reads the stored object end to end and checks it against its manifest. */
@Injectable()
export class BackupVerifyService {
  constructor(
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
  ) {}

  async verify(id: string, onProgress?: ProgressListener): Promise<VerifyResult> {
    const manifest = await loadManifest(this.storage, id);
    const base = {
      id,
      location: manifest.object.location,
      sizeBytes: manifest.object.sizeBytes,
      encrypted: manifest.encryption !== null,
      schemaVersion: manifest.schemaVersion,
    };
    onProgress?.({ phase: 'start', backupId: id, tables: manifest.tables.length });
    let index = 0;
    try {
      const read = await readBackup(this.storage, manifest, this.config.backup.encryptionKey, {
        start: async () => undefined,
        data: async () => undefined,
        end: async (t) => onProgress?.({ phase: 'table', table: t.name, index: ++index, tables: manifest.tables.length, rows: t.rows, bytes: t.bytes }),
      });
      onProgress?.({ phase: 'finish' });
      return { ...base, ok: true, tables: read.tables, rows: read.rows };
    } catch (e) {
      if (!(e instanceof BackupIntegrityError)) throw e;
      return { ...base, ok: false, tables: index, rows: 0, problem: e.message };
    }
  }
}
