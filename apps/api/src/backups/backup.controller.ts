import { Controller, Get, HttpCode, Injectable, Module, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { z } from 'zod';
import { BACKUP_STATUSES, BackupRepository, NotFoundError, type BackupRow, type Page } from '@agenthub/db';
import { AdminOnly } from '../common/auth/access.decorators';
import { isoDateTime, pageQuery, pageSchema, uuid } from '../common/http/schemas';
import { UuidPipe } from '../common/http/uuid.pipe';
import { ApiProblems } from '../common/openapi/api-problems.decorator';

export const backupSchema = z
  .object({
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
  })
;
type BackupView = z.input<typeof backupSchema>;
class BackupDto extends createZodDto(backupSchema) {}
class BackupPageDto extends createZodDto(pageSchema(backupSchema)) {}
class BackupRequestedDto extends createZodDto(z.object({ id: uuid, status: z.literal('queued') })) {}
class ListBackupsQuery extends createZodDto(z.object({ ...pageQuery, status: z.enum(BACKUP_STATUSES).optional() })) {}

function toBackupView(row: BackupRow): BackupView {
  return { ...row, startedAt: row.startedAt.toISOString(), finishedAt: row.finishedAt?.toISOString() ?? null };
}

/** The operator's view of the backups catalog; the worker does the backups (restores only on its command line). */
@Injectable()
export class BackupService {
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

@ApiTags('backups')
@Controller('backups')
@AdminOnly()
export class BackupController {
  constructor(private readonly backups: BackupService) {}

  @Post()
  @HttpCode(202)
  @ApiProblems(403)
  @ZodResponse({ status: 202, type: BackupRequestedDto, description: 'queued; a worker picks it up' })
  request(): Promise<{ id: string; status: 'queued' }> {
    return this.backups.request();
  }

  @Get()
  @ApiProblems(403)
  @ZodResponse({ type: BackupPageDto, description: 'newest first' })
  list(@Query() query: ListBackupsQuery): Promise<Page<BackupView>> {
    return this.backups.list(query);
  }

  @Get(':id')
  @ApiProblems(403, 404)
  @ZodResponse({ type: BackupDto })
  get(@Param('id', UuidPipe) id: string): Promise<BackupView> {
    return this.backups.get(id);
  }
}

@Module({ controllers: [BackupController], providers: [BackupService] })
export class BackupModule {}
