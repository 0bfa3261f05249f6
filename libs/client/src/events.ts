import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { retryAfterMs, sleep } from './timing';
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
 * `signal` aborts; throws AgentHubError for a 4xx other than 429 (no such conversation, bad key), a SyntaxError for
 * an event whose data is not JSON, and an Error after `maxReconnects` failed reconnections in a row. Without
 * `lastEventId` it starts "from now on", at the point the API names when the stream opens. The SSE wire format
 * is parsed by `eventsource-parser`.
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
      // The API's opening comment says where the stream starts: a subscription that asked for "from now on" resumes
      // from there if the connection drops before its first event.
      onComment: (comment) => {
        const m = /events after (\d+) follow/.exec(comment);
        if (m && lastEventId === undefined) lastEventId = Number(m[1]);
      },
    });
    let wait = reconnectMs;
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${connection.apiKey}`, accept: 'text/event-stream' };
      if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
      const response = await fetchImpl(url, { headers, signal: options.signal });
      if (response.status === 429 || response.status >= 500 || !response.body) {
        // Refused for now (rate limit, restart): try again after what it says.
        wait = retryAfterMs(response.headers.get('retry-after')) ?? reconnectMs;
        await response.body?.cancel().catch(() => undefined);
        throw new Error(`live events: HTTP ${response.status}`);
      }
      if (!response.ok) throw await AgentHubError.from(response);
      const decoder = new TextDecoder();
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        while (queue.length) {
          const message = queue.shift()!;
          if (message.id === undefined) continue;
          const event: LiveEvent = { id: Number(message.id), type: message.event ?? 'message', data: JSON.parse(message.data) as unknown };
          lastEventId = event.id;
          failures = 0;
          yield event;
        }
      }
    } catch (error) {
      if (options.signal?.aborted) return;
      if (error instanceof AgentHubError || error instanceof SyntaxError) throw error;
      // A dropped connection, a 429 or a 5xx: try again below.
    }
    if (++failures > (options.maxReconnects ?? 10)) throw new Error(`live events of ${conversationId}: gave up after ${failures - 1} reconnections`);
    try {
      await sleep(wait, options.signal);
    } catch {
      return; // aborted while waiting
    }
  }
}
