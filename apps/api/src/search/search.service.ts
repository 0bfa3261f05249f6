import { Injectable } from '@nestjs/common';
import { MessageRepository } from '@agenthub/db';
import { RequestContext } from '../common/tenancy/request-context';
import { toMessageHitView, type MessageHitView } from './search.dto';

@Injectable()
export class SearchService {
  constructor(
    private readonly messages: MessageRepository,
    private readonly context: RequestContext,
  ) {}

  /** Full-text over the organization's messages, best first; deleted conversations never match. */
  async messagesFullText(query: { q: string; agentId?: string; conversationId?: string; limit?: number }): Promise<{ data: MessageHitView[] }> {
    const hits = await this.messages.searchText(
      this.context.organizationId,
      { query: query.q, agentId: query.agentId, conversationId: query.conversationId, limit: query.limit },
      this.context.db,
    );
    return { data: hits.map(toMessageHitView) };
  }
}
