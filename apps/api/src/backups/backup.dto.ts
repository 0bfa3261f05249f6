import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import { BACKUP_STATUSES, type BackupRow } from '@agenthub/db';
import { isoDateTime, pageQuery, pageSchema, uuid } from '../common/http/schemas';

export const backupSchema = z.object({
  id: uuid,
  status: z.enum(BACKUP_STATUSES),
  target: z.string().describe('s3 or local, once a worker has started it'),
  location: z.string(),
  schemaVersion: z.string().nullable(),
  sizeBytes: z.number().int().nullable(),
  encrypted: z.boolean(),
  manifest: z.unknown().nullable().describe('per-table row counts and checksums, sizes, timings'),
  error: z.string().nullable(),
  startedAt: isoDateTime,
  finishedAt: isoDateTime.nullable(),
});
export type BackupView = z.input<typeof backupSchema>;
export class BackupDto extends createZodDto(backupSchema) {}
export class BackupPageDto extends createZodDto(pageSchema(backupSchema)) {}
export class BackupRequestedDto extends createZodDto(z.object({ id: uuid, status: z.literal('queued') })) {}
export class ListBackupsQuery extends createZodDto(z.object({ ...pageQuery, status: z.enum(BACKUP_STATUSES).optional() })) {}

export function toBackupView(row: BackupRow): BackupView {
  return { ...row, startedAt: row.startedAt.toISOString(), finishedAt: row.finishedAt?.toISOString() ?? null };
}
