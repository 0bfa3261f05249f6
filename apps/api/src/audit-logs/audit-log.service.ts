import { Injectable } from '@nestjs/common';
import { AuditLogRepository, type Page } from '@agenthub/db';
import { RequestContext } from '../common/tenancy/request-context';
import { toAuditEntryView, type AuditEntryView, type AuditVerificationView } from './audit-log.dto';

@Injectable()
export class AuditLogService {
  constructor(
    private readonly auditLogs: AuditLogRepository,
    private readonly context: RequestContext,
  ) {}

  async list(query: { entityType?: string; entityId?: string; limit?: number; cursor?: string }): Promise<Page<AuditEntryView>> {
    const page = await this.auditLogs.listPage(this.context.organizationId, query, this.context.db);
    return { data: page.data.map(toAuditEntryView), nextCursor: page.nextCursor };
  }

  /**
   * Recomputes the organization's whole hash chain and checks the MAC of every entry not sealed yet: an entry
   * edited, inserted or removed outside the API fails it (AuditLogRepository says what each part proves).
   */
  verify(): Promise<AuditVerificationView> {
    return this.auditLogs.verify(this.context.organizationId, this.context.db);
  }
}
