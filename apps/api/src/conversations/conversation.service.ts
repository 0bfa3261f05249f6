import { Injectable } from '@nestjs/common';
import { ConversationRepository, NotFoundError, type Page, type Prisma } from '@agenthub/db';
import { AuditService } from '../common/audit/audit.service';
import { RequestContext } from '../common/tenancy/request-context';
import { ConversationEventRecorder } from '../events/conversation-event-recorder';
import { MessageService } from '../messages/message.service';
import {
  toConversationView,
  type ConversationView,
  type CreateConversationDto,
  type UpdateConversationDto,
} from './conversation.dto';

@Injectable()
export class ConversationService {
  constructor(
    private readonly conversations: ConversationRepository,
    private readonly messages: MessageService,
    private readonly events: ConversationEventRecorder,
    private readonly context: RequestContext,
    private readonly audit: AuditService,
  ) {}

  /** Starts a conversation (bumping the agent's usage); an initial message is appended in the same transaction. */
  async create(input: CreateConversationDto): Promise<ConversationView> {
    const { initialMessage, ...fields } = input;
    const row = await this.conversations.create(
      this.context.organizationId,
      { ...fields, metadata: fields.metadata as Prisma.InputJsonObject },
      this.context.db,
    );
    await this.audit.record('conversation.create', 'conversation', row.id, { after: toConversationView(row) });
    if (!initialMessage) return toConversationView(row);
    const [message] = await this.messages.append(row.id, [initialMessage]);
    const updated = await this.conversations.findById(this.context.organizationId, row.id, this.context.db);
    return { ...toConversationView(updated ?? row), initialMessage: message };
  }

  async list(query: {
    agentId?: string;
    userId?: string;
    sessionId?: string;
    status?: 'active' | 'archived';
    limit?: number;
    cursor?: string;
  }): Promise<Page<ConversationView>> {
    const page = await this.conversations.listPage(this.context.organizationId, query, this.context.db);
    return { data: page.data.map(toConversationView), nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<ConversationView> {
    const row = await this.conversations.findById(this.context.organizationId, id, this.context.db);
    if (!row) throw new NotFoundError('conversation', id);
    return toConversationView(row);
  }

  async update(id: string, patch: UpdateConversationDto): Promise<ConversationView> {
    const before = await this.conversations.findById(this.context.organizationId, id, this.context.db);
    const row = await this.conversations.update(
      this.context.organizationId,
      id,
      { ...patch, metadata: patch.metadata as Prisma.InputJsonObject },
      this.context.db,
    );
    if (!row) throw new NotFoundError('conversation', id);
    const view = toConversationView(row);
    await this.events.record(id, [{ type: 'conversation.updated', payload: view }]);
    await this.audit.record('conversation.update', 'conversation', id, { before: before && toConversationView(before), after: view });
    return view;
  }

  /** Soft delete: 404 from now on, out of lists and search; purged later by the worker. */
  async delete(id: string): Promise<void> {
    const existing = await this.conversations.findById(this.context.organizationId, id, this.context.db);
    if (!existing) throw new NotFoundError('conversation', id);
    await this.events.record(id, [{ type: 'conversation.updated', payload: { ...toConversationView(existing), status: 'deleted' } }]);
    if (!(await this.conversations.markDeleted(this.context.organizationId, id, this.context.db))) {
      throw new NotFoundError('conversation', id);
    }
    await this.audit.record('conversation.delete', 'conversation', id, { before: toConversationView(existing) });
  }
}
