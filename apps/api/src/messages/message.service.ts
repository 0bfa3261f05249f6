import { Injectable } from '@nestjs/common';
import { MessageRepository, NotFoundError, type MessageInput, type Page } from '@agenthub/db';
import { AuditService } from '../common/audit/audit.service';
import { RequestContext } from '../common/tenancy/request-context';
import { ConversationEventRecorder } from '../events/conversation-event-recorder';
import { toMessageView, type MessageInputBody, type MessageView } from './message.dto';

@Injectable()
export class MessageService {
  constructor(
    private readonly messages: MessageRepository,
    private readonly events: ConversationEventRecorder,
    private readonly context: RequestContext,
    private readonly audit: AuditService,
  ) {}

  /**
   * Appends in request order with gap-free seq (the repository's single statement); replays of a clientId come
   * back as stored. message.created is recorded for the messages written now, and one audit entry per request
   * lists them by id and role (per-message entries would copy every message body into the log, and write and seal
   * an entry per message): all in the same transaction, for one message in the append statement itself.
   * `lastWrite`: the caller writes nothing after this in the request (the append route; not conversation
   * creation, which reads the conversation back): the statement may then also commit, unless an interceptor
   * still writes after the handler (an Idempotency-Key record to complete).
   */
  async append(conversationId: string, inputs: MessageInputBody[], options: { lastWrite?: boolean } = {}): Promise<MessageView[]> {
    const { messages, lastEventSeq, audit } = await this.messages.appendWithOutcome(
      this.context.organizationId,
      conversationId,
      inputs as MessageInput[],
      this.context.db,
      {
        recordCreatedEvents: true,
        audit: (created) => this.audit.entry('message.append', 'conversation', conversationId, { after: { messages: created } }),
        commit: options.lastWrite === true && this.context.lastWriteMayCommit,
      },
    );
    if (lastEventSeq !== null) this.events.recorded(conversationId, lastEventSeq);
    if (audit) this.audit.witness(audit);
    return messages.map(toMessageView);
  }

  async list(
    conversationId: string,
    query: { afterSeq?: number; beforeSeq?: number; order?: 'asc' | 'desc'; limit?: number; cursor?: string },
  ): Promise<Page<MessageView>> {
    const page = await this.messages.listPage(this.context.organizationId, conversationId, query, this.context.db);
    if (!page) throw new NotFoundError('conversation', conversationId);
    return { data: page.data.map(toMessageView), nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<MessageView> {
    const row = await this.messages.findById(this.context.organizationId, id, this.context.db);
    if (!row) throw new NotFoundError('message', id);
    return toMessageView(row);
  }

  /** The organization's messages with this clientId (one per conversation at most), oldest first. */
  async findByClientId(query: { clientId: string; conversationId?: string; limit?: number }): Promise<Page<MessageView>> {
    const rows = await this.messages.findByClientId(this.context.organizationId, query.clientId, query, this.context.db);
    return { data: rows.map(toMessageView), nextCursor: null };
  }

  /**
   * Deletes a message for good: its conversation's messageCount goes down, a message.deleted event (id and seq, no
   * content) goes to live subscribers, and the audit entry keeps the seq and role, never the content.
   */
  async delete(id: string): Promise<void> {
    const row = await this.messages.deleteById(this.context.organizationId, id, this.context.db);
    if (!row) throw new NotFoundError('message', id);
    await this.events.record(row.conversationId, [{ type: 'message.deleted', payload: { messageId: row.id, seq: row.seq } }]);
    await this.audit.record('message.delete', 'message', id, { before: { conversationId: row.conversationId, seq: row.seq, role: row.role } });
  }

  async appendChunk(id: string, delta: string): Promise<MessageView> {
    const row = await this.messages.appendChunk(this.context.organizationId, id, delta, this.context.db);
    if (!row) throw new NotFoundError('message', id);
    const view = toMessageView(row);
    await this.events.record(view.conversationId, [
      { type: 'message.delta', payload: { messageId: view.id, seq: view.seq, delta } },
    ]);
    await this.audit.record('message.chunk', 'message', id, { after: { conversationId: view.conversationId, seq: view.seq, deltaLength: delta.length } });
    return view;
  }

  async complete(id: string, tokensUsed?: number | null): Promise<MessageView> {
    const row = await this.messages.complete(this.context.organizationId, id, { tokensUsed }, this.context.db);
    if (!row) throw new NotFoundError('message', id);
    const view = toMessageView(row);
    await this.events.record(view.conversationId, [{ type: 'message.completed', payload: view }]);
    await this.audit.record('message.complete', 'message', id, { after: { conversationId: view.conversationId, seq: view.seq, tokensUsed: view.tokensUsed } });
    return view;
  }
}
