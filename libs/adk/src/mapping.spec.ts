import { createEvent, createEventActions } from '@google/adk';
import type { components } from '@agenthub/client';
import { eventMessages } from './mapping';
import { toEvents } from './session-service';

type Message = components['schemas']['MessageDto_Output'];

/** Messages as the API returns them for these inputs (seq from 1). */
function stored(inputs: ReturnType<typeof eventMessages>, at = '2026-01-02T03:04:05.000Z'): Message[] {
  return inputs.map((m, i) => ({
    id: `m${i}`,
    conversationId: 'c',
    seq: i + 1,
    clientId: m.clientId ?? null,
    role: m.role,
    content: m.content,
    messageType: m.messageType ?? 'text',
    toolName: m.toolName ?? null,
    toolArgs: m.toolArgs ?? null,
    toolCallId: m.toolCallId ?? null,
    tokensUsed: m.tokensUsed ?? null,
    model: m.model ?? null,
    metadata: m.metadata ?? {},
    isStreaming: false,
    isComplete: true,
    createdAt: at,
    updatedAt: at,
  }));
}

describe('ADK event ↔ AgentHub messages', () => {
  const call = createEvent({
    id: 'ev1',
    invocationId: 'inv1',
    author: 'planner',
    timestamp: 1_000,
    content: { role: 'model', parts: [{ text: 'hm', thought: true }, { text: 'Checking ' }, { text: 'now.' }, { functionCall: { id: 'c1', name: 'weather', args: { city: 'Oslo' } } }] },
    usageMetadata: { totalTokenCount: 30 },
    modelVersion: 'm-1',
    actions: createEventActions({ stateDelta: { step: 2 } }),
  });

  it('maps an event as the importer does: thoughts, joined text, one message per call/response, tokens once', () => {
    const messages = eventMessages(call);
    expect(messages.map((m) => [m.clientId, m.role, m.messageType, m.content, m.tokensUsed, m.model])).toEqual([
      ['adk:ev1#thought', 'assistant', 'thinking', 'hm', null, 'm-1'],
      ['adk:ev1', 'assistant', 'text', 'Checking now.', 30, 'm-1'],
      ['adk:ev1#3', 'assistant', 'tool_call', '', null, 'm-1'],
    ]);
    expect(messages[2]).toMatchObject({ toolName: 'weather', toolArgs: { city: 'Oslo' }, toolCallId: 'c1' });
    expect(messages[1].metadata).toEqual({ source: { kind: 'adk', eventId: 'ev1', invocationId: 'inv1', author: 'planner' }, usage: { totalTokenCount: 30 } });
    // Python ADK's stored (snake_case) events map the same way.
    expect(eventMessages({ id: 'ev1', author: 'user', content: { parts: [{ function_response: { id: 'c1', name: 'weather', response: { t: 1 } } }] }, usage_metadata: { total_token_count: 3 } })).toEqual([
      expect.objectContaining({ clientId: 'adk:ev1#0', role: 'tool', messageType: 'tool_response', content: '{"t":1}', toolName: 'weather', toolCallId: 'c1', metadata: expect.objectContaining({ response: { t: 1 } }) }),
    ]);
  });

  it('keeps the whole event on the first message, and an event with nothing to show as one empty message', () => {
    const back = toEvents(stored(eventMessages(call, JSON.parse(JSON.stringify(call)) as object)));
    expect(back).toEqual([{ event: JSON.parse(JSON.stringify(call)), seq: 3 }]);
    const stateOnly = createEvent({ id: 'ev2', author: 'agent', timestamp: 2_000, actions: createEventActions({ stateDelta: { k: 1 } }) });
    const messages = eventMessages(stateOnly, stateOnly);
    expect(messages).toEqual([expect.objectContaining({ clientId: 'adk:ev2', content: '', messageType: 'text' })]);
    expect(toEvents(stored(messages))[0].event.actions.stateDelta).toEqual({ k: 1 });
    expect(eventMessages(stateOnly)).toEqual([]);
  });

  it('rebuilds an imported event (messages without the whole event) and skips messages not written by ADK', () => {
    const imported = stored(eventMessages(call));
    const foreign = { ...imported[0], seq: 9, clientId: null, metadata: {} };
    const [rebuilt] = toEvents([...imported, foreign]).map((e) => e.event);
    expect(rebuilt).toMatchObject({
      id: 'ev1',
      invocationId: 'inv1',
      author: 'planner',
      timestamp: Date.parse('2026-01-02T03:04:05.000Z'),
      modelVersion: 'm-1',
      usageMetadata: { totalTokenCount: 30 },
      content: { role: 'model', parts: [{ text: 'hm', thought: true }, { text: 'Checking now.' }, { functionCall: { id: 'c1', name: 'weather', args: { city: 'Oslo' } } }] },
    });
    expect(toEvents([foreign])).toEqual([]);
  });
});
