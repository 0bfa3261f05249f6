import { randomUUID } from 'node:crypto';
import type { AgentMemoryProvider } from '@framers/agentos';
import type { AgentHubConnection } from '@agenthub/client';
import { AgentHubStorageAdapter } from './storage-adapter';

export interface AgentHubConversationMemoryOptions {
  /** The AgentOS conversation id (AgentHub `sessionId`): the same id in another process continues it. */
  conversationId: string;
  /** The AgentOS user (an AgentHub user by `externalId`, created when missing). */
  userId: string;
  /** The AgentOS agent id (an AgentHub agent by name; default `agentos`). */
  agentId?: string;
  title?: string;
  /** How many earlier messages `getContext` gives the model at most (default 20; it looks at the latest 200 stored). */
  historyMessages?: number;
}

/** Characters per token for the context budget: a rough rule for English text (no tokenizer to carry). */
const CHARS_PER_TOKEN = 4;

/**
 * An AgentOS agent's conversation kept in AgentHub: the `memoryProvider` of `agent({ … })`. Every turn the agent
 * observes (the user's input, then its reply) is stored as a message of one AgentHub conversation, through
 * AgentHubStorageAdapter (the same mapping: `clientId` `agentos:<id>`, the record in `metadata.agentos`); before each
 * generation `getContext` gives the model the conversation's earlier messages that this process has not seen — those
 * of an earlier process, after a restart or on another machine — newest kept first within AgentOS's token budget.
 *
 * AgentOS calls `observe` fire-and-forget and swallows its errors; the writes here run in order, one after the other,
 * and `flush()` waits for them and throws what failed, so a process can make sure its turns are stored before it exits.
 *
 * ```ts
 * const memory = new AgentHubConversationMemory({ baseUrl, apiKey }, { conversationId: 'support-42', userId: 'ada' });
 * const bot = agent({ provider: 'openai', model: 'gpt-4o', memoryProvider: memory });
 * await bot.session('support-42').send('Where is my order?');
 * await memory.flush();
 * ```
 */
export class AgentHubConversationMemory implements AgentMemoryProvider {
  readonly storage: AgentHubStorageAdapter;
  private readonly options: Required<Pick<AgentHubConversationMemoryOptions, 'historyMessages'>> & AgentHubConversationMemoryOptions;
  private conversation?: Promise<void>;
  private writes: Promise<void> = Promise.resolve();
  private readonly failures: unknown[] = [];
  /** ids of the messages this instance stored: the agent's session already holds them */
  private readonly own = new Set<string>();
  private lastTimestamp = 0;

  constructor(connection: AgentHubConnection, options: AgentHubConversationMemoryOptions) {
    this.storage = new AgentHubStorageAdapter(connection);
    this.options = { historyMessages: 20, ...options };
  }

  getContext = async (_text: string, opts: { tokenBudget?: number } = {}): Promise<{ contextText?: string } | null> => {
    await this.writes;
    const { conversationId, historyMessages } = this.options;
    // The latest stored turns in one request, however long the conversation (not getMessages, which reads it all).
    const newest = await this.storage.recentMessages(conversationId, historyMessages + this.own.size);
    const earlier = newest.filter((m) => !this.own.has(m.id)).slice(0, historyMessages);
    const budget = (opts.tokenBudget ?? 2000) * CHARS_PER_TOKEN;
    const lines: string[] = [];
    let used = 0;
    for (const m of earlier) {
      const line = `${m.role}: ${m.content}`;
      if (used + line.length > budget) break;
      lines.unshift(line);
      used += line.length + 1;
    }
    return lines.length ? { contextText: `Earlier in this conversation:\n${lines.join('\n')}` } : null;
  };

  observe = (role: 'user' | 'assistant', text: string): Promise<void> => {
    // The user's input and the reply are observed in the same millisecond: their timestamps (AgentOS orders
    // messages by them) keep the order they were observed in.
    this.lastTimestamp = Math.max(Date.now(), this.lastTimestamp + 1);
    const message = { id: randomUUID(), conversationId: this.options.conversationId, role, content: text, timestamp: this.lastTimestamp };
    this.own.add(message.id);
    this.writes = this.writes.then(async () => {
      try {
        await this.ensureConversation();
        await this.storage.storeMessage(message);
      } catch (e) {
        this.failures.push(e);
      }
    });
    return this.writes;
  };

  /** Waits for the observed turns to be stored; throws (once) what could not be. */
  async flush(): Promise<void> {
    await this.writes;
    if (this.failures.length) {
      const failed = this.failures.splice(0);
      throw new AggregateError(failed, `${failed.length} observed message(s) could not be stored in AgentHub`);
    }
  }

  /** The whole conversation as stored, oldest first. */
  history() {
    return this.storage.getMessages(this.options.conversationId);
  }

  private ensureConversation(): Promise<void> {
    this.conversation ??= (async () => {
      const { conversationId, userId, agentId, title } = this.options;
      if (await this.storage.getConversation(conversationId)) return;
      const now = Date.now();
      try {
        await this.storage.createConversation({ id: conversationId, userId, agentId, title, createdAt: now, lastActivity: now });
      } catch (e) {
        // Another process started the same conversation first.
        if (!(await this.storage.getConversation(conversationId))) throw e;
      }
    })().catch((e: unknown) => {
      this.conversation = undefined;
      throw e;
    });
    return this.conversation;
  }
}
