import { Controller, Get, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { Page } from '@agenthub/db';
import { MinRole } from '../common/auth/access.decorators';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { AuditEntryPageDto, AuditVerificationDto, ListAuditLogsQuery, type AuditEntryView, type AuditVerificationView } from './audit-log.dto';
import { AuditLogService } from './audit-log.service';
import { ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';

/** The audit trail shows every change and who made it: for admins and owners, like users and keys. */
@ApiTags('audit')
@Controller('audit-logs')
@MinRole('admin')
export class AuditLogController {
  constructor(private readonly auditLogs: AuditLogService) {}

  @Get()
  @ReadTransaction()
  @ApiProblems(403)
  @ZodResponse({ status: 200, type: AuditEntryPageDto, description: 'newest first' })
  list(@Query() query: ListAuditLogsQuery): Promise<Page<AuditEntryView>> {
    return this.auditLogs.list(query);
  }

  @Get('verify')
  @ApiProblems(403)
  @ZodResponse({ status: 200, type: AuditVerificationDto })
  verify(): Promise<AuditVerificationView> {
    return this.auditLogs.verify();
  }
}
