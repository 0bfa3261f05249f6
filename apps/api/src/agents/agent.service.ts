import { Injectable } from '@nestjs/common';
import { AgentRepository, NotFoundError, type AgentInput, type Page } from '@agenthub/db';
import { AuditService } from '../common/audit/audit.service';
import { RequestContext } from '../common/tenancy/request-context';
import { toAgentView, type AgentView, type CreateAgentDto, type UpdateAgentDto } from './agent.dto';

@Injectable()
export class AgentService {
  constructor(
    private readonly agents: AgentRepository,
    private readonly context: RequestContext,
    private readonly audit: AuditService,
  ) {}

  async create(input: CreateAgentDto): Promise<AgentView> {
    const view = toAgentView(await this.agents.create(this.context.organizationId, input as AgentInput, this.context.db));
    await this.audit.record('agent.create', 'agent', view.id, { after: view });
    return view;
  }

  async list(query: { includeInactive?: boolean; name?: string; limit?: number; cursor?: string }): Promise<Page<AgentView>> {
    const page = await this.agents.listPage(this.context.organizationId, query, this.context.db);
    return { data: page.data.map(toAgentView), nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<AgentView> {
    const row = await this.agents.findById(this.context.organizationId, id, this.context.db);
    if (!row) throw new NotFoundError('agent', id);
    return toAgentView(row);
  }

  /** Partial update; `expectedVersion` from If-Match makes it conditional (stale → 409). */
  async update(id: string, patch: UpdateAgentDto, expectedVersion?: number): Promise<AgentView> {
    const before = await this.agents.findById(this.context.organizationId, id, this.context.db);
    const row = await this.agents.update(
      this.context.organizationId,
      id,
      patch as Partial<AgentInput> & { isActive?: boolean },
      { expectedVersion },
      this.context.db,
    );
    if (!row) throw new NotFoundError('agent', id);
    const view = toAgentView(row);
    await this.audit.record('agent.update', 'agent', id, { before: before && toAgentView(before), after: view });
    return view;
  }

  async softDelete(id: string): Promise<void> {
    const before = await this.agents.findById(this.context.organizationId, id, this.context.db);
    if (!(await this.agents.softDelete(this.context.organizationId, id, this.context.db))) throw new NotFoundError('agent', id);
    const after = await this.agents.findById(this.context.organizationId, id, this.context.db);
    await this.audit.record('agent.delete', 'agent', id, { before: before && toAgentView(before), after: after && toAgentView(after) });
  }
}
