import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import type { ConversationStatus } from '../../generated/prisma/enums';
import { PrismaService, type Db } from '../prisma.service';
import { ConflictError, InvalidInputError, NotFoundError } from '../errors';
import { cursorDate, decodeCursor, isUuid, pageSize, toPage, type Page } from '../pagination';
import { checkJson, checkText, throwIfProblems, type Problem } from '../validation';

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

/** The same projection for raw SQL on the hot routes (create, get): camelCase aliases, the enum as text. */
const CONVERSATION_COLUMNS = Prisma.raw(`
  c.id, c.organization_id AS "organizationId", c.agent_id AS "agentId", c.user_id AS "userId",
  c.session_id AS "sessionId", c.title, c.status::text AS status, c.message_count AS "messageCount",
  c.last_message_at AS "lastMessageAt", c.last_activity_at AS "lastActivityAt", c.metadata,
  c.created_at AS "createdAt", c.updated_at AS "updatedAt"`);

export interface ConversationInput {
  agentId: string;
  userId?: string | null;
  sessionId?: string | null;
  title?: string | null;
  metadata?: Prisma.InputJsonObject;
}

@Injectable()
export class ConversationRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /**
   * Starts a conversation with an active agent of the organization and counts the agent's use. An inactive
   * (deleted) agent is a ConflictError; an unknown agent or user NotFoundError.
   *
   * One statement (a hot route): the agent's UPDATE takes its row lock, so a concurrent soft delete cannot slip in
   * between the check and the insert, and the user check and the insert ride on the same round trip. Only when no
   * row comes back does a second query tell which reference was missing.
   */
  async create(organizationId: string, input: ConversationInput, db: Db = this.prisma): Promise<ConversationRow> {
    validateConversationInput(input);
    if (!isUuid(input.agentId)) throw new NotFoundError('agent', input.agentId);
    if (input.userId && !isUuid(input.userId)) throw new NotFoundError('user', input.userId);
    const userId = input.userId ?? null;
    const [row] = await this.prisma.queryRows<ConversationRow>(
      db,
      Prisma.sql`
        WITH u AS (
          SELECT ${userId}::uuid IS NULL OR EXISTS (
                   SELECT 1 FROM users WHERE id = ${userId}::uuid AND organization_id = ${organizationId}::uuid) AS ok
        ), a AS (
          UPDATE agents SET usage_count = usage_count + 1, last_used_at = now()
           WHERE id = ${input.agentId}::uuid AND organization_id = ${organizationId}::uuid AND is_active
             AND (SELECT ok FROM u)
          RETURNING id
        ), c AS (
          INSERT INTO conversations (id, organization_id, agent_id, user_id, session_id, title, metadata, updated_at)
          SELECT gen_random_uuid(), ${organizationId}::uuid, a.id, ${userId}::uuid, ${input.sessionId ?? null}::text,
                 ${input.title ?? null}::text, ${JSON.stringify(input.metadata ?? {})}::jsonb, now()
            FROM a
          RETURNING *
        )
        SELECT ${CONVERSATION_COLUMNS} FROM c`,
      { prepare: true },
    );
    if (row) return row;
    if (userId && !(await this.exists(db, Prisma.sql`SELECT 1 AS one FROM users WHERE id = ${userId}::uuid AND organization_id = ${organizationId}::uuid`))) {
      throw new NotFoundError('user', userId);
    }
    if (await this.exists(db, Prisma.sql`SELECT 1 AS one FROM agents WHERE id = ${input.agentId}::uuid AND organization_id = ${organizationId}::uuid`)) {
      throw new ConflictError(`agent ${input.agentId} is inactive`);
    }
    throw new NotFoundError('agent', input.agentId);
  }

  private async exists(db: Db, sql: Prisma.Sql): Promise<boolean> {
    return (await this.prisma.queryRows(db, sql)).length > 0;
  }

  /** Deleted conversations are not found. */
  async findById(organizationId: string, id: string, db: Db = this.prisma): Promise<ConversationRow | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.prisma.queryRows<ConversationRow>(
      db,
      Prisma.sql`
        SELECT ${CONVERSATION_COLUMNS} FROM conversations c
         WHERE c.id = ${id}::uuid AND c.organization_id = ${organizationId}::uuid AND c.status <> 'deleted'`,
      { prepare: true },
    );
    return row ?? null;
  }

  /** Newest activity first; the cursor is (lastActivityAt, id) of the last row. */
  async listPage(
    organizationId: string,
    options: {
      agentId?: string;
      userId?: string;
      sessionId?: string;
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
        ...(options.sessionId !== undefined && { sessionId: options.sessionId }),
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
