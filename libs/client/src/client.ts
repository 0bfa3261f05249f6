import { randomUUID } from 'node:crypto';
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import { serializeBody } from './embeddings';
import { retryAfterMs, sleep } from './timing';
import { AgentHubError } from './errors';
import { subscribeEvents, type LiveEvent, type SubscribeOptions } from './events';
import { idempotentOperations, type paths } from './generated/openapi';

export interface AgentHubClientOptions {
  /** where the API is, e.g. `https://agenthub.example.com` (routes carry their `/api/v1` prefix) */
  baseUrl: string;
  /** an organization's API key (`ahk_…`), or the admin token for `/api/v1/organizations` */
  apiKey: string;
  /** retries of a 429 / 503 answer, or of a request that never got an answer (default 3) */
  retries?: number;
  /** first backoff when the answer has no Retry-After, doubled each retry, with jitter (default 250 ms) */
  retryBaseMs?: number;
  /** the longest wait between two attempts, Retry-After included (default 30 s) */
  maxRetryDelayMs?: number;
  /** the fetch to use (default: the global one) */
  fetch?: typeof fetch;
}

/**
 * The typed client: openapi-fetch's `GET` / `POST` / `PATCH` / `DELETE` over the API's own paths, and the live
 * events of a conversation (`events`: subscribeEvents with this client's address and key).
 */
export type AgentHubClient = Client<paths> & {
  events(conversationId: string, options?: SubscribeOptions): AsyncGenerator<LiveEvent>;
};

const RETRY_STATUSES = new Set([429, 503]);

/**
 * A client for the AgentHub API. Every request carries the API key; every create the API de-duplicates (the
 * operations whose OpenAPI entry takes an `Idempotency-Key`: idempotentOperations, generated) carries one — a new
 * UUID unless the caller set one — the same on each retry, so a create retried after a lost answer is not done
 * twice. 429 and 503 answers (refused before any work) are retried after their Retry-After (else an exponential
 * backoff); a request that got no answer at all is repeated only when that is safe: GET, HEAD, PUT, DELETE, or one
 * of those creates. A non-2xx answer is thrown as an AgentHubError (problem+json), so `data` is the success body.
 * Embeddings in request bodies are sent as base64 float32 (serializeBody).
 *
 * ```ts
 * const hub = createAgentHubClient({ baseUrl, apiKey });
 * const { data: agent } = await hub.POST('/api/v1/agents', { body: { name: 'support-bot' } });
 * ```
 */
export function createAgentHubClient(options: AgentHubClientOptions): AgentHubClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ''),
    // embeddings go out as base64 float32: a quarter of the bytes, the same stored values
    bodySerializer: serializeBody,
    fetch: retryingFetch(options.fetch ?? globalThis.fetch, {
      retries: options.retries ?? 3,
      baseMs: options.retryBaseMs ?? 250,
      maxMs: options.maxRetryDelayMs ?? 30_000,
    }),
  });
  client.use(requestHeaders(options.apiKey), throwProblems);
  return Object.assign(client, {
    events: (conversationId: string, subscribeOptions?: SubscribeOptions) =>
      subscribeEvents({ baseUrl: options.baseUrl, apiKey: options.apiKey, fetch: options.fetch }, conversationId, subscribeOptions),
  });
}

/** How an integration reaches AgentHub: a client of your own, or its address and an API key. */
export type AgentHubConnection = { client: AgentHubClient } | { baseUrl: string; apiKey: string };

/** The connection's client (a new one with the default options for an address and a key). */
export function clientOf(connection: AgentHubConnection): AgentHubClient {
  return 'client' in connection ? connection.client : createAgentHubClient({ baseUrl: connection.baseUrl, apiKey: connection.apiKey });
}

/** `POST /api/v1/conversations/{id}/messages` → a test of a method and a URL path. */
const IDEMPOTENT = idempotentOperations.map((operation) => {
  const [method, template] = operation.split(' ');
  // Regex metacharacters escaped (braces are not among them), each `{param}` one path segment; the end of the path,
  // so that a base URL with a path of its own (behind a proxy) still matches.
  const escaped = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&');
  const pattern = new RegExp(`${escaped.replace(/\{[^}]+\}/g, '[^/]+')}$`);
  return (m: string, path: string) => m === method && pattern.test(path);
});

/** Whether the API de-duplicates this request by its Idempotency-Key. */
export function takesIdempotencyKey(method: string, url: string): boolean {
  const path = new URL(url).pathname;
  return IDEMPOTENT.some((matches) => matches(method, path));
}

function requestHeaders(apiKey: string): Middleware {
  return {
    onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${apiKey}`);
      if (!request.headers.has('idempotency-key') && takesIdempotencyKey(request.method, request.url)) {
        request.headers.set('idempotency-key', randomUUID());
      }
      return request;
    },
  };
}

const throwProblems: Middleware = {
  async onResponse({ response }) {
    if (!response.ok) throw await AgentHubError.from(response);
    return undefined;
  },
};

const SAFE_TO_REPEAT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

/**
 * fetch that retries 429 / 503 (Retry-After first) and, when the request is safe to repeat (a safe or idempotent
 * method, or a create the API de-duplicates by its Idempotency-Key), lost answers. An aborted request is not retried.
 */
export function retryingFetch(base: typeof fetch, policy: { retries: number; baseMs: number; maxMs: number }): typeof fetch {
  return async (input, init) => {
    const request = new Request(input, init);
    const repeatable =
      SAFE_TO_REPEAT.has(request.method) || (request.headers.has('idempotency-key') && takesIdempotencyKey(request.method, request.url));
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await base(request.clone());
      } catch (error) {
        if (request.signal.aborted || !repeatable || attempt >= policy.retries) throw error;
        await sleep(Math.min(backoff(policy.baseMs, attempt), policy.maxMs), request.signal);
        continue;
      }
      if (!RETRY_STATUSES.has(response.status) || attempt >= policy.retries) return response;
      const wait = retryAfterMs(response.headers.get('retry-after')) ?? backoff(policy.baseMs, attempt);
      await response.body?.cancel().catch(() => undefined);
      await sleep(Math.min(wait, policy.maxMs), request.signal);
    }
  };
}

/** Exponential backoff with full jitter: a random wait up to base × 2^attempt. */
function backoff(baseMs: number, attempt: number): number {
  return Math.random() * baseMs * 2 ** attempt;
}

