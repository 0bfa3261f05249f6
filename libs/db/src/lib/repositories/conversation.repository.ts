import { Inject, Injectable } from '@nestjs/common';
import type { Prisma } from '../../generated/prisma/client';
import type { ConversationStatus } from '../../generated/prisma/enums';
import { PrismaService, type Db } from '../prisma.service';
import { InvalidInputError, NotFoundError } from '../errors';
import { cursorDate, decodeCursor, isUuid, pageSize, toPage, type Page } from '../pagination';
import { checkJson, checkText, throwIfProblems, type Problem } from '../validation';
import { AgentRepository } from './agent.repository';

export const CONVERSATION_SELECT = {
  id: true,
  organizationId: true,
  agentId: true,
  userId: true,
  sessionId: true,
  title: true,
  status: true,
  messageCount: true,
  lastMessageAt: true,
  lastActivityAt: true,
  metadata: true,
  createdAt: true,
  updatedAt: true,
} satisfies Prisma.ConversationSelect;
export type ConversationRow = Prisma.ConversationGetPayload<{ select: typeof CONVERSATION_SELECT }>;

export interface ConversationInput {
  agentId: string;
  userId?: string | null;
  sessionId?: string | null;
  title?: string | null;
  metadata?: Prisma.InputJsonObject;
}

@Injectable()
export class ConversationRepository {
  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Inject(AgentRepository) private readonly agents: AgentRepository,
  ) {}

  /**
   * Starts a conversation with an active agent of the organization and counts the agent's use, in one
   * transaction. An inactive (deleted) agent is a ConflictError; an unknown agent or user NotFoundError.
   */
  async create(organizationId: string, input: ConversationInput, db?: Db): Promise<ConversationRow> {
    validateConversationInput(input);
    if (!isUuid(input.agentId)) throw new NotFoundError('agent', input.agentId);
    if (input.userId && !isUuid(input.userId)) throw new NotFoundError('user', input.userId);
    return this.prisma.inTransaction(db, async (tx) => {
      if (input.userId) {
        const user = await tx.user.count({ where: { id: input.userId, organizationId } });
        if (!user) throw new NotFoundError('user', input.userId);
      }
      // Counting the use first locks the agent row, so a concurrent soft delete cannot slip in between.
      await this.agents.recordUse(organizationId, input.agentId, tx);
      return tx.conversation.create({
        data: {
          organizationId,
          agentId: input.agentId,
          userId: input.userId ?? null,
          sessionId: input.sessionId ?? null,
          title: input.title ?? null,
          metadata: input.metadata ?? {},
        },
        select: CONVERSATION_SELECT,
      });
    });
  }

  /** Deleted conversations are not found. */
  async findById(organizationId: string, id: string, db: Db = this.prisma): Promise<ConversationRow | null> {
    if (!isUuid(id)) return null;
    return db.conversation.findFirst({
      where: { id, organizationId, status: { not: 'deleted' } },
      select: CONVERSATION_SELECT,
    });
  }

  /** Newest activity first; the cursor is (lastActivityAt, id) of the last row. */
  async listPage(
    organizationId: string,
    options: {
      agentId?: string;
      userId?: string;
      status?: Exclude<ConversationStatus, 'deleted'>;
      limit?: number;
      cursor?: string | null;
    } = {},
    db: Db = this.prisma,
  ): Promise<Page<ConversationRow>> {
    const limit = pageSize(options.limit);
    const after = decodeCursor(options.cursor);
    // An id that is not a UUID matches nothing, like another organization's.
    if ((options.agentId && !isUuid(options.agentId)) || (options.userId && !isUuid(options.userId))) {
      return { data: [], nextCursor: null };
    }
    const at = after && cursorDate(after.sortValue);
    const rows = await db.conversation.findMany({
      where: {
        organizationId,
        status: options.status ?? { not: 'deleted' },
        ...(options.agentId && { agentId: options.agentId }),
        ...(options.userId && { userId: options.userId }),
        ...(after &&
          at && { OR: [{ lastActivityAt: { lt: at } }, { lastActivityAt: at, id: { lt: after.id } }] }),
      },
      orderBy: [{ lastActivityAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
      select: CONVERSATION_SELECT,
    });
    return toPage(rows, limit, (c) => c.lastActivityAt.toISOString());
  }

  async update(
    organizationId: string,
    id: string,
    patch: { title?: string | null; status?: 'active' | 'archived'; metadata?: Prisma.InputJsonObject },
    db: Db = this.prisma,
  ): Promise<ConversationRow | null> {
    if (patch.status && patch.status !== 'active' && patch.status !== 'archived') {
      throw new InvalidInputError('status must be active or archived', [{ path: 'status', message: 'invalid' }]);
    }
    validateConversationInput(patch);
    if (!isUuid(id)) return null;
    const { count } = await db.conversation.updateMany({
      where: { id, organizationId, status: { not: 'deleted' } },
      // Only these fields: a patch object with more keys must not reach the counters or the tenant column.
      data: { title: patch.title, status: patch.status, metadata: patch.metadata },
    });
    return count ? this.findById(organizationId, id, db) : null;
  }

  /** Marks the conversation deleted: gone from reads, lists and search; purged later by the worker. */
  async markDeleted(organizationId: string, id: string, db: Db = this.prisma): Promise<boolean> {
    if (!isUuid(id)) return false;
    const { count } = await db.conversation.updateMany({
      where: { id, organizationId, status: { not: 'deleted' } },
      data: { status: 'deleted', deletedAt: new Date() },
    });
    return count === 1;
  }

  /** Retention: removes conversations (and their messages) deleted before `before`. Returns how many. */
  async purgeDeleted(before: Date, db: Db = this.prisma): Promise<number> {
    const { count } = await db.conversation.deleteMany({ where: { status: 'deleted', deletedAt: { lt: before } } });
    return count;
  }
}

function validateConversationInput(input: { sessionId?: string | null; title?: string | null; metadata?: unknown }): void {
  const problems: Problem[] = [];
  checkText(input.sessionId, 'sessionId', problems, 1000);
  checkText(input.title, 'title', problems, 1000);
  checkJson(input.metadata, 'metadata', problems);
  throwIfProblems(problems, 'invalid conversation');
}
