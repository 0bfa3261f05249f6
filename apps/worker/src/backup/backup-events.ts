/** What long-running backup work reports as it goes (the command line draws progress bars from these). */
export type BackupProgress =
  | { phase: 'start'; backupId: string; tables: number; totalBytes?: number }
  | { phase: 'table'; table: string; index: number; tables: number; rows: number; bytes: number }
  | { phase: 'finish' };

export type ProgressListener = (event: BackupProgress) => void;

/** Another backup holds the lock: not an error of this run, but nothing was done. */
export class BackupBusyError extends Error {
  constructor() {
    super('another backup is running (the backup lock is held by another worker or command)');
  }
}
