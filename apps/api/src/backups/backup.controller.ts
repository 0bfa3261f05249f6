import { Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { Page } from '@agenthub/db';
import { AdminOnly } from '../common/auth/access.decorators';
import { UuidPipe } from '../common/http/uuid.pipe';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { BackupDto, BackupPageDto, BackupRequestedDto, ListBackupsQuery, type BackupView } from './backup.dto';
import { BackupCatalogService } from './backup.service';

@ApiTags('backups')
@Controller('backups')
@AdminOnly()
export class BackupController {
  constructor(private readonly backups: BackupCatalogService) {}

  @Post()
  @HttpCode(202)
  @ApiProblems(403)
  @ZodResponse({ status: 202, type: BackupRequestedDto, description: 'queued; a worker picks it up' })
  request(): Promise<{ id: string; status: 'queued' }> {
    return this.backups.request();
  }

  @Get()
  @ApiProblems(403)
  @ZodResponse({ status: 200, type: BackupPageDto, description: 'newest first' })
  list(@Query() query: ListBackupsQuery): Promise<Page<BackupView>> {
    return this.backups.list(query);
  }

  @Get(':id')
  @ApiProblems(403, 404)
  @ZodResponse({ status: 200, type: BackupDto })
  get(@Param('id', UuidPipe) id: string): Promise<BackupView> {
    return this.backups.get(id);
  }
}
