import { Injectable } from '@nestjs/common';
import { AgentRepository, NotFoundError, type AgentInput, type Page } from '@agenthub/db';
import { RequestContext } from '../common/tenancy/request-context';
import { toAgentView, type AgentView, type CreateAgentDto, type UpdateAgentDto } from './agent.dto';

@Injectable()
export class AgentService {
  constructor(
    private readonly agents: AgentRepository,
    private readonly context: RequestContext,
  ) {}

  async create(input: CreateAgentDto): Promise<AgentView> {
    return toAgentView(await this.agents.create(this.context.organizationId, input as AgentInput, this.context.db));
  }

  async list(query: { includeInactive?: boolean; limit?: number; cursor?: string }): Promise<Page<AgentView>> {
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
    const row = await this.agents.update(
      this.context.organizationId,
      id,
      patch as Partial<AgentInput> & { isActive?: boolean },
      { expectedVersion },
      this.context.db,
    );
    if (!row) throw new NotFoundError('agent', id);
    return toAgentView(row);
  }

  async softDelete(id: string): Promise<void> {
    if (!(await this.agents.softDelete(this.context.organizationId, id, this.context.db))) throw new NotFoundError('agent', id);
  }
}
