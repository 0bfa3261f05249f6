import type { components } from '@agenthub/client';

/** A message as the API appends it (`POST /api/v1/conversations/{id}/messages`). */
export type MessageInput = components['schemas']['CreateConversationDto']['initialMessage'] & object;

/** The parts of an ADK event the mapping reads; both ADK's camelCase (TypeScript) and snake_case (Python, its stores). */
export interface AdkEventLike {
  id?: string;
  invocationId?: string;
  author?: string;
  content?: { role?: string; parts?: AdkPart[] } | null;
  partial?: boolean | null;
  turnComplete?: boolean | null;
  turn_complete?: boolean | null;
  errorCode?: string | null;
  error_code?: string | null;
  errorMessage?: string | null;
  error_message?: string | null;
  usageMetadata?: AdkUsage | null;
  usage_metadata?: AdkUsage | null;
  modelVersion?: string | null;
  model_version?: string | null;
  timestamp?: number;
}

interface AdkUsage {
  totalTokenCount?: number;
  total_token_count?: number;
}

interface AdkPart {
  text?: string;
  thought?: boolean;
  functionCall?: { name?: string; args?: unknown; id?: string };
  function_call?: { name?: string; args?: unknown; id?: string };
  functionResponse?: { name?: string; response?: unknown; id?: string };
  function_response?: { name?: string; response?: unknown; id?: string };
}

/** Where in a message's metadata the ADK event it came from is kept whole (on the event's first message). */
export const EVENT_KEY = 'adkEvent';
/** The prefix of every clientId an ADK event's messages get: the importer's, so an imported and a live session match. */
export const CLIENT_ID_PREFIX = 'adk:';

// PostgreSQL text and jsonb cannot hold NUL characters.
// eslint-disable-next-line no-control-regex
const NUL = /\u0000/g;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** JSON as the API stores it: undefined dropped, NUL characters (PostgreSQL text cannot hold them) removed. */
function toJson(value: unknown): Json {
  return JSON.parse(JSON.stringify(value ?? null, (_k, v: unknown) => (typeof v === 'string' ? v.replace(NUL, '') : v))) as Json;
}

/**
 * One ADK event → its messages, the mapping of the ADK importer (apps/worker, adk.source.ts; IMPORT-FORMATS.md §2):
 * the text parts joined into one message (role user for the user's events, else assistant), thoughts as one
 * `thinking` message, each function call a `tool_call` and each function response a `tool_response` (role tool,
 * its response as JSON text), an error as an `error` message; clientIds `adk:<eventId>`, `#thought`, `#<part>`,
 * `#error`, so appending the same event twice stores it once. The event's total token count goes on its first
 * counted message, its model version on each. Metadata: `source` (the event id, invocation and author), `usage`,
 * `turnComplete`. Unlike the importer, which reads what ADK stored, a live append keeps the whole event in the first
 * message's metadata (`adkEvent`), so getSession returns what was appended; an event with nothing to show (a state
 * change, a transfer) becomes one empty `text` message carrying it.
 */
export function eventMessages(event: AdkEventLike & { id: string; invocationId?: string }, keepWhole?: object): MessageInput[] {
  const author = typeof event.author === 'string' ? event.author : 'unknown';
  const usage = event.usageMetadata ?? event.usage_metadata ?? null;
  const turnComplete = event.turnComplete ?? event.turn_complete;
  const modelVersion = event.modelVersion ?? event.model_version;
  const errorCode = event.errorCode ?? event.error_code;
  const errorMessage = event.errorMessage ?? event.error_message;
  const meta = (extra: Record<string, Json> = {}): Record<string, Json> => ({
    source: { kind: 'adk', eventId: event.id, invocationId: event.invocationId ?? null, author },
    ...(usage ? { usage: toJson(usage) } : {}),
    ...(turnComplete !== undefined && turnComplete !== null ? { turnComplete } : {}),
    ...extra,
  });
  const base = { model: orNull(modelVersion) };
  const id = `${CLIENT_ID_PREFIX}${event.id}`;
  const parts = Array.isArray(event.content?.parts) ? event.content!.parts! : [];
  const role = author === 'user' ? 'user' : 'assistant';
  const clean = (s: string) => s.replace(NUL, '');
  const text = parts.filter((p) => typeof p.text === 'string' && !p.thought).map((p) => p.text!).join('');
  const thoughts = parts.filter((p) => typeof p.text === 'string' && p.thought).map((p) => p.text!).join('');
  const total = usage?.totalTokenCount ?? usage?.total_token_count;
  // tokens_used is an int column: a count beyond it is left out, as the importer does
  const tokensUsed = Number.isInteger(total) && total! >= 0 && total! <= 2 ** 31 - 1 ? total! : null;
  let tokensGiven = false;
  const tokens = () => (tokensGiven ? null : ((tokensGiven = true), tokensUsed));
  const out: MessageInput[] = [];
  if (thoughts) out.push({ ...base, clientId: `${id}#thought`, role: 'assistant', content: clean(thoughts), messageType: 'thinking', tokensUsed: null, metadata: meta() });
  if (text) out.push({ ...base, clientId: id, role, content: clean(text), messageType: 'text', tokensUsed: tokens(), metadata: meta() });
  parts.forEach((p, i) => {
    const call = p.functionCall ?? p.function_call;
    const response = p.functionResponse ?? p.function_response;
    if (call) {
      const args = toJson(call.args ?? {});
      out.push({
        ...base,
        clientId: `${id}#${i}`,
        role: 'assistant',
        content: '',
        messageType: 'tool_call',
        toolName: orNull(call.name),
        toolArgs: args && typeof args === 'object' && !Array.isArray(args) ? args : { value: args },
        toolCallId: orNull(call.id),
        tokensUsed: tokens(),
        metadata: meta(),
      });
    } else if (response) {
      const body = toJson(response.response ?? null);
      // The response is the message's content (as JSON text); its parsed form goes into metadata unless the whole
      // event is kept there anyway (a large response would be stored three times).
      const extra: Record<string, Json> = keepWhole === undefined ? { response: body } : {};
      out.push({ ...base, clientId: `${id}#${i}`, role: 'tool', content: JSON.stringify(body), messageType: 'tool_response', toolName: orNull(response.name), toolCallId: orNull(response.id), tokensUsed: null, metadata: meta(extra) });
    }
  });
  if (errorCode || errorMessage) {
    out.push({ ...base, clientId: `${id}#error`, role: 'assistant', content: clean(String(errorMessage ?? errorCode)), messageType: 'error', tokensUsed: null, metadata: meta({ errorCode: errorCode ?? null }) });
  }
  if (keepWhole !== undefined) {
    if (!out.length) out.push({ ...base, clientId: id, role, content: '', messageType: 'text', tokensUsed: null, metadata: meta() });
    out[0] = { ...out[0], metadata: { ...out[0].metadata, [EVENT_KEY]: toJson(keepWhole) } };
  }
  return out;
}

/** A name or id the API stores (a non-empty string), else null. */
function orNull(value: unknown): string | null {
  return typeof value === 'string' && value.length ? value.replace(NUL, '') : null;
}

/** The whole event a message carries, when it is its event's first message. */
export function eventOf(message: { metadata?: Record<string, unknown> | null }): Record<string, unknown> | undefined {
  const event = message.metadata?.[EVENT_KEY];
  return event && typeof event === 'object' && !Array.isArray(event) ? (event as Record<string, unknown>) : undefined;
}

/** The ADK event id a message came from (live or imported): `metadata.source.eventId`. */
export function eventIdOf(message: { metadata?: Record<string, unknown> | null }): string | undefined {
  const source = message.metadata?.['source'] as { kind?: unknown; eventId?: unknown } | undefined;
  return source?.kind === 'adk' && typeof source.eventId === 'string' ? source.eventId : undefined;
}
