import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { AgentHubError } from './errors';

/** One live event of a conversation (API.md, Live events): `id` is its seq in the conversation. */
export interface LiveEvent<T = unknown> {
  id: number;
  type: string;
  data: T;
}

export interface SubscribeOptions {
  /** resume after this event id (what a previous subscription saw last); default: only events from now on */
  lastEventId?: number;
  /** ends the subscription (the iterator returns) */
  signal?: AbortSignal;
  /** the wait before reconnecting after a dropped connection, until the server says otherwise (`retry:`); default 1 s */
  reconnectMs?: number;
  /** reconnections in a row that got no event before giving up (default 10); a 4xx is never retried */
  maxReconnects?: number;
}

/**
 * The live events of a conversation, as an async iterator that outlives dropped connections: each reconnection
 * sends `Last-Event-ID` with the last event seen, so the API replays what was missed — no gap, no repeat. Stops when
 * `signal` aborts; throws AgentHubError for a 4xx (no such conversation, bad key) or after `maxReconnects` failed
 * reconnections in a row. The SSE wire format is parsed by `eventsource-parser`.
 */
export async function* subscribeEvents(
  connection: { baseUrl: string; apiKey: string; fetch?: typeof fetch },
  conversationId: string,
  options: SubscribeOptions = {},
): AsyncGenerator<LiveEvent> {
  const fetchImpl = connection.fetch ?? globalThis.fetch;
  const url = `${connection.baseUrl.replace(/\/+$/, '')}/api/v1/conversations/${encodeURIComponent(conversationId)}/events`;
  let lastEventId = options.lastEventId;
  let reconnectMs = options.reconnectMs ?? 1000;
  let failures = 0;
  while (!options.signal?.aborted) {
    const queue: EventSourceMessage[] = [];
    const parser = createParser({
      onEvent: (message) => queue.push(message),
      onRetry: (ms) => (reconnectMs = ms),
    });
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${connection.apiKey}`, accept: 'text/event-stream' };
      if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
      const response = await fetchImpl(url, { headers, signal: options.signal });
      if (response.status >= 400 && response.status < 500) throw await AgentHubError.from(response);
      if (!response.ok || !response.body) throw new Error(`live events: HTTP ${response.status}`);
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        while (queue.length) {
          const message = queue.shift()!;
          if (message.id === undefined) continue;
          lastEventId = Number(message.id);
          failures = 0;
          yield { id: lastEventId, type: message.event ?? 'message', data: JSON.parse(message.data) as unknown };
        }
      }
    } catch (error) {
      if (error instanceof AgentHubError || options.signal?.aborted) {
        if (options.signal?.aborted) return;
        throw error;
      }
      // A dropped connection (or a 5xx): try again below.
    }
    if (options.signal?.aborted) return;
    if (++failures > (options.maxReconnects ?? 10)) throw new Error(`live events of ${conversationId}: gave up after ${failures - 1} reconnections`);
    await new Promise((resolve) => setTimeout(resolve, reconnectMs));
  }
}
