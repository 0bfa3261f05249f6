/**
 * Request bodies of the HTTP API (../shared/API.md) for end-to-end tests and benchmarks: valid by default, with
 * overrides for the case at hand. A counter keeps names and ids unique within a run.
 */
let counter = 0;
const next = () => ++counter;

export function agentBody(overrides: Record<string, unknown> = {}) {
  const n = next();
  return {
    name: `agent ${n}`,
    description: 'answers questions',
    type: 'regular',
    persona: { tone: 'friendly' },
    config: { model: 'gpt-4o', temperature: 0.2 },
    tools: ['search'],
    metadata: { team: 'support' },
    ...overrides,
  };
}

export function userBody(overrides: Record<string, unknown> = {}) {
  const n = next();
  return { email: `user${n}@example.test`, externalId: `ext-${n}`, name: `User ${n}`, role: 'member', ...overrides };
}

export function messageBody(overrides: Record<string, unknown> = {}) {
  const n = next();
  return { role: 'user', content: `message ${n} — ünïcødé ✓`, metadata: { n }, ...overrides };
}

export function conversationBody(agentId: string, overrides: Record<string, unknown> = {}) {
  const n = next();
  return { agentId, title: `conversation ${n}`, metadata: { channel: 'web' }, ...overrides };
}
