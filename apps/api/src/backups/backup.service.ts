import { Injectable } from '@nestjs/common';
import { BackupRepository, NotFoundError, type BackupRow, type Page } from '@agenthub/db';
import { toBackupView, type BackupView } from './backup.dto';

/**
 * The operator's view of the backups catalog; the worker does the backups (restores only on its command line).
 * Named for what it is here, not the worker's BackupService, which makes them.
 */
@Injectable()
export class BackupCatalogService {
  constructor(private readonly backups: BackupRepository) {}

  async request(): Promise<{ id: string; status: 'queued' }> {
    const row = await this.backups.requestBackup();
    return { id: row.id, status: 'queued' };
  }

  async list(query: { limit?: number; cursor?: string; status?: BackupRow['status'] }): Promise<Page<BackupView>> {
    const page = await this.backups.listPage(query);
    return { data: page.data.map(toBackupView), nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<BackupView> {
    const row = await this.backups.findById(id);
    if (!row) throw new NotFoundError('backup', id);
    return toBackupView(row);
  }
}
