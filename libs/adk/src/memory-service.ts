import type { BaseMemoryService, SearchMemoryRequest, SearchMemoryResponse, Session } from '@google/adk';
import { clientOf, paginate, type AgentHubClient, type AgentHubConnection } from '@agenthub/client';
import { findAppUser, findConversation } from './lookups';

/** Embeds texts for AgentHub's vector search (e.g. an embeddings API); one vector per text, of the API's dimension. */
export type Embedder = (texts: string[]) => Promise<Array<number[] | Float32Array>>;

export interface AgentHubMemoryServiceOptions {
  /** makes each memory's embedding and the query's (AgentHub keeps an embedding with every memory) */
  embed: Embedder;
  /** the model that made the embeddings, kept with each memory */
  embeddingModel?: string;
  /** how many memories a search returns (default 10) */
  k?: number;
}

const KIND = 'adk_event';

/**
 * ADK memory in AgentHub's memories: `addSessionToMemory` stores each event of the session that has text as one
 * memory (its agent, user and conversation set; kind `adk_event`; the event's id, author and time in metadata),
 * skipping events stored before, so adding a session again adds only what is new. `searchMemory` is AgentHub's
 * hybrid search (vector + full text) within the app's agent and the user — full text alone without an embedder.
 * Sessions must have been stored by an AgentHubSessionService (or imported) on the same organization.
 */
export class AgentHubMemoryService implements BaseMemoryService {
  readonly client: AgentHubClient;

  constructor(
    connection: AgentHubConnection,
    private readonly options: AgentHubMemoryServiceOptions,
  ) {
    this.client = clientOf(connection);
  }

  async addSessionToMemory(session: Session): Promise<void> {
    const conversation = await this.conversation(session.appName, session.userId, session.id);
    if (!conversation) throw new Error(`Session ${session.id} is not stored in AgentHub; append its events with AgentHubSessionService first`);
    const known = new Set<string>();
    const stored = paginate((cursor) => this.client.GET('/api/v1/memories', { params: { query: { conversationId: conversation.id, kind: KIND, limit: 200, cursor } } }));
    for await (const m of stored) {
      const eventId = (m.metadata['source'] as { eventId?: string } | undefined)?.eventId;
      if (eventId) known.add(eventId);
    }
    const fresh = session.events
      .filter((e) => !e.partial && !known.has(e.id))
      .map((e) => ({ event: e, text: (e.content?.parts ?? []).filter((p) => typeof p.text === 'string' && !p.thought).map((p) => p.text).join(' ').trim() }))
      .filter((e) => e.text);
    for (let i = 0; i < fresh.length; i += 100) {
      const chunk = fresh.slice(i, i + 100);
      const embeddings = await this.options.embed(chunk.map((c) => c.text));
      await this.client.POST('/api/v1/memories/batch', {
        body: {
          memories: chunk.map((c, j) => ({
            content: c.text,
            embedding: embeddings[j] as number[],
            embeddingModel: this.options.embeddingModel ?? null,
            kind: KIND,
            agentId: conversation.agentId,
            userId: conversation.userId,
            conversationId: conversation.id,
            metadata: { source: { kind: 'adk', appName: session.appName, userId: session.userId, sessionId: session.id, eventId: c.event.id, author: c.event.author ?? null }, timestamp: c.event.timestamp },
          })),
        },
      });
    }
  }

  async searchMemory({ appName, userId, query }: SearchMemoryRequest): Promise<SearchMemoryResponse> {
    const ids = await findAppUser(this.client, appName, userId);
    if (!ids || !query.trim()) return { memories: [] };
    const [embedding] = await this.options.embed([query]);
    const { data } = await this.client.POST('/api/v1/memories/search', {
      body: { query, mode: 'hybrid', embedding: embedding as number[], k: this.options.k ?? 10, filter: { agentId: ids.agentId, userId: ids.userId, kind: KIND } },
    });
    return {
      memories: data!.data.map((m) => {
        const source = m.metadata['source'] as { author?: string | null } | undefined;
        const at = m.metadata['timestamp'];
        return {
          content: { role: source?.author === 'user' ? 'user' : 'model', parts: [{ text: m.content }] },
          ...(source?.author ? { author: source.author } : {}),
          timestamp: new Date(typeof at === 'number' ? at : Date.parse(m.createdAt)).toISOString(),
        };
      }),
    };
  }

  private async conversation(appName: string, userId: string, sessionId: string) {
    const ids = await findAppUser(this.client, appName, userId);
    return ids && findConversation(this.client, ids.agentId, ids.userId, sessionId);
  }
}
