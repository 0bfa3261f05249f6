import { Injectable } from '@nestjs/common';
import { OrganizationRepository, type Page } from '@agenthub/db';
import { RequestContext } from '../common/tenancy/request-context';
import { ProblemException } from '../common/problem/problem.exception';
import { toUserView } from '../users/user.dto';
import { toOrganizationView, type CreatedOrganizationDto, type OrganizationView } from './organization.dto';

@Injectable()
export class OrganizationService {
  constructor(
    private readonly organizations: OrganizationRepository,
    private readonly context: RequestContext,
  ) {}

  /** Operator: a new organization with its owner and the owner's key (shown once). */
  async create(input: { name: string; ownerEmail: string }): Promise<CreatedOrganizationDto> {
    const { organization, user, apiKey, key } = await this.organizations.createWithOwner(input);
    return {
      organization: toOrganizationView(organization),
      user: toUserView(user),
      apiKey: { id: apiKey.id, key, role: 'owner' },
    };
  }

  async list(query: { limit?: number; cursor?: string }): Promise<Page<OrganizationView>> {
    const page = await this.organizations.listPage(query);
    return { data: page.data.map(toOrganizationView), nextCursor: page.nextCursor };
  }

  /** The caller's own organization. */
  async current(): Promise<OrganizationView> {
    const row = await this.organizations.findById(this.context.organizationId, this.context.db);
    if (!row) throw new ProblemException(404, 'organization not found');
    return toOrganizationView(row);
  }
}
