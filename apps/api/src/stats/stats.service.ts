import { Injectable } from '@nestjs/common';
import { StatsRepository, type OrganizationStats } from '@agenthub/db';
import { RequestContext } from '../common/tenancy/request-context';

@Injectable()
export class StatsService {
  constructor(
    private readonly stats: StatsRepository,
    private readonly context: RequestContext,
  ) {}

  get(): Promise<OrganizationStats> {
    return this.stats.forOrganization(this.context.organizationId, this.context.db);
  }
}
