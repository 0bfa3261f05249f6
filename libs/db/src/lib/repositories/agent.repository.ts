import { Inject, Injectable } from '@nestjs/common';
import type { Prisma } from '../../generated/prisma/client';
import type { AgentType } from '../../generated/prisma/enums';
import { PrismaService, type Db } from '../prisma.service';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors';
import { createdAtAfter, isUuid, pageSize, toPage, type Page } from '../pagination';
import { checkJson, checkText, throwIfProblems, type Problem } from '../validation';

export const AGENT_SELECT = {
  id: true,
  organizationId: true,
  name: true,
  description: true,
  type: true,
  persona: true,
  config: true,
  tools: true,
  subAgentIds: true,
  planner: true,
  version: true,
  isActive: true,
  usageCount: true,
  lastUsedAt: true,
  metadata: true,
  createdAt: true,
  updatedAt: true,
} satisfies Prisma.AgentSelect;
export type AgentRow = Prisma.AgentGetPayload<{ select: typeof AGENT_SELECT }>;

export interface AgentInput {
  name: string;
  description?: string | null;
  type?: AgentType;
  persona?: Prisma.InputJsonObject;
  config?: Prisma.InputJsonObject;
  tools?: string[];
  subAgentIds?: string[];
  planner?: string | null;
  metadata?: Prisma.InputJsonObject;
}

@Injectable()
export class AgentRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  async create(organizationId: string, input: AgentInput, db?: Db): Promise<AgentRow> {
    validateAgentInput(input);
    return this.prisma.inTransaction(db, async (tx) => {
      await this.assertSubAgents(organizationId, null, input.subAgentIds ?? [], tx);
      return tx.agent.create({
        data: {
          organizationId,
          name: input.name,
          description: input.description ?? null,
          type: input.type ?? 'regular',
          persona: input.persona ?? {},
          config: input.config ?? {},
          tools: input.tools ?? [],
          subAgentIds: input.subAgentIds ?? [],
          planner: input.planner ?? null,
          metadata: input.metadata ?? {},
        },
        select: AGENT_SELECT,
      });
    });
  }

  /** Soft-deleted agents are still found by id (isActive: false). */
  async findById(organizationId: string, id: string, db: Db = this.prisma): Promise<AgentRow | null> {
    if (!isUuid(id)) return null;
    return db.agent.findFirst({ where: { id, organizationId }, select: AGENT_SELECT });
  }

  async findByName(organizationId: string, name: string, db: Db = this.prisma): Promise<AgentRow | null> {
    return db.agent.findFirst({
      where: { organizationId, name, isActive: true },
      orderBy: { createdAt: 'asc' },
      select: AGENT_SELECT,
    });
  }

  async listPage(
    organizationId: string,
    options: { includeInactive?: boolean; name?: string; limit?: number; cursor?: string | null } = {},
    db: Db = this.prisma,
  ): Promise<Page<AgentRow>> {
    const limit = pageSize(options.limit);
    const rows = await db.agent.findMany({
      where: {
        organizationId,
        ...(!options.includeInactive && { isActive: true }),
        ...(options.name !== undefined && { name: options.name }),
        ...createdAtAfter(options.cursor),
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
      select: AGENT_SELECT,
    });
    return toPage(rows, limit, (r) => r.createdAt.toISOString());
  }

  /**
   * Partial update; the version goes up by one. With `expectedVersion` (If-Match) a stale version is a
   * ConflictError. Returns null when the agent is not in this organization.
   */
  async update(
    organizationId: string,
    id: string,
    patch: Partial<AgentInput> & { isActive?: boolean },
    options: { expectedVersion?: number } = {},
    db?: Db,
  ): Promise<AgentRow | null> {
    validateAgentInput(patch);
    if (!isUuid(id)) return null;
    return this.prisma.inTransaction(db, async (tx) => {
      const current = await tx.agent.findFirst({ where: { id, organizationId }, select: { version: true } });
      if (!current) return null;
      if (options.expectedVersion !== undefined && options.expectedVersion !== current.version) {
        throw new ConflictError(`agent ${id} is at version ${current.version}, not ${options.expectedVersion}`);
      }
      if (patch.subAgentIds) await this.assertSubAgents(organizationId, id, patch.subAgentIds, tx);
      // The version in the WHERE makes the read-check-write atomic without holding a lock across it.
      const { count } = await tx.agent.updateMany({
        where: { id, organizationId, version: current.version },
        // Only the agent's own fields; isActive and deletedAt always move together.
        data: {
          name: patch.name,
          description: patch.description,
          type: patch.type,
          persona: patch.persona,
          config: patch.config,
          tools: patch.tools,
          subAgentIds: patch.subAgentIds,
          planner: patch.planner,
          metadata: patch.metadata,
          ...(patch.isActive !== undefined && { isActive: patch.isActive, deletedAt: patch.isActive ? null : new Date() }),
          version: { increment: 1 },
        },
      });
      if (count === 0) throw new ConflictError(`agent ${id} was changed concurrently`);
      return tx.agent.findFirstOrThrow({ where: { id }, select: AGENT_SELECT });
    });
  }

  /** Soft delete: isActive false, kept for history and readable by id. false when not found. */
  async softDelete(organizationId: string, id: string, db: Db = this.prisma): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { count } = await db.agent.updateMany({
      where: { id, organizationId },
      data: { isActive: false, deletedAt: new Date(), version: { increment: 1 } },
    });
    return count === 1;
  }

  /**
   * Counts a use (a new conversation) of an active agent; call inside the transaction that creates it. The
   * UPDATE locks the agent row until that transaction ends, so a concurrent soft delete waits for it.
   * Inactive: ConflictError; unknown or another organization's: NotFoundError.
   */
  async recordUse(organizationId: string, id: string, db: Db = this.prisma): Promise<void> {
    if (!isUuid(id)) throw new NotFoundError('agent', id);
    const { count } = await db.agent.updateMany({
      where: { id, organizationId, isActive: true },
      data: { usageCount: { increment: 1 }, lastUsedAt: new Date() },
    });
    if (count === 1) return;
    if (await db.agent.count({ where: { id, organizationId } })) throw new ConflictError(`agent ${id} is inactive`);
    throw new NotFoundError('agent', id);
  }

  private async assertSubAgents(organizationId: string, selfId: string | null, ids: string[], db: Db): Promise<void> {
    if (ids.length === 0) return;
    if (selfId && ids.includes(selfId)) {
      throw new InvalidInputError('an agent cannot be its own sub-agent', [
        { path: 'subAgentIds', message: 'contains the agent itself' },
      ]);
    }
    if (!ids.every(isUuid)) {
      throw new InvalidInputError('unknown sub-agent id', [{ path: 'subAgentIds', message: 'every id must be a UUID' }]);
    }
    const found = await db.agent.findMany({ where: { organizationId, id: { in: [...new Set(ids)] } }, select: { id: true } });
    const known = new Set(found.map((a) => a.id));
    const missing = ids.find((id) => !known.has(id.toLowerCase()));
    // Like every other reference: another organization's agent is a missing one (404), not a hint that it exists.
    if (missing) throw new NotFoundError('agent', missing);
  }
}

function validateAgentInput(input: Partial<AgentInput>): void {
  const problems: Problem[] = [];
  checkText(input.name, 'name', problems, 1000);
  checkText(input.description, 'description', problems);
  checkText(input.planner, 'planner', problems, 1000);
  (input.tools ?? []).forEach((tool, i) => checkText(tool, `tools.${i}`, problems, 1000));
  for (const field of ['persona', 'config', 'metadata'] as const) checkJson(input[field], field, problems);
  throwIfProblems(problems, 'invalid agent');
}
