import type { WorkerConfig } from '../config/worker.config';
import type { BackupStorage } from './backup-storage';
import { LocalBackupStorage } from './local.storage';
import { S3BackupStorage } from './s3.storage';

/** S3 when a bucket is configured, else the local directory. */
export function createBackupStorage(config: WorkerConfig): BackupStorage {
  const s = config.backup.storage;
  return s.kind === 's3' ? new S3BackupStorage(s.s3) : new LocalBackupStorage(s.dir);
}
