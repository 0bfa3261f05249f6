import { createHash } from 'node:crypto';
import { AgentMemory } from '@framers/agentos';
import { createAgentHubClient } from '@agenthub/client';
import { AgentHubMemoryBackend } from '../src/memory-backend';
import { embed } from './memory-backend.embed';
import { apiBaseUrl, newOrganizationKey } from './support';

async function newBrain(brainId = 'companion-alice') {
  const apiKey = await newOrganizationKey('agentos-memory');
  const connection = { baseUrl: apiBaseUrl(), apiKey };
  const open = () => new AgentHubMemoryBackend(connection, { brainId, embed, embeddingModel: 'fake-bow' });
  return { apiKey, open, hub: createAgentHubClient(connection) };
}

describe(AgentHubMemoryBackend.name, () => {
  it('lets AgentMemory remember in one process and recall in another', async () => {
    const brain = await newBrain();
    const first = AgentMemory.wrapMemory(brain.open());
    const remembered = await first.remember('The user prefers dark mode in every editor', { type: 'semantic', tags: ['preference'], entities: ['user'], importance: 0.8 });
    await first.remember('Deploy the billing service by Friday', { type: 'prospective', tags: ['deadline'] });
    await first.remember('Lunch was a mushroom risotto', { type: 'episodic' });
    expect(remembered.success).toBe(true);
    expect(remembered.trace).toMatchObject({ type: 'semantic', scope: 'thread', content: 'The user prefers dark mode in every editor', tags: ['preference'], entities: ['user'], encodingStrength: 0.8, retrievalCount: 0, isActive: true });
    await first.shutdown();

    const second = AgentMemory.wrapMemory(brain.open());
    const { memories } = await second.recall('what does the user prefer, dark mode?', { limit: 2 });
    expect(memories).toHaveLength(2);
    expect(memories[0]).toMatchObject({ id: remembered.trace!.id, content: 'The user prefers dark mode in every editor', type: 'semantic', tags: ['preference'] });
    expect(memories[0]!.retrievalScore).toBeGreaterThan(memories[1]!.retrievalScore);

    const deadlines = await second.recall('billing deadline', { types: ['prospective'] });
    expect(deadlines.memories.map((m) => m.content)).toStrictEqual(['Deploy the billing service by Friday']);
    const tagged = await second.recall('user mode', { tags: ['preference'] });
    expect(tagged.memories.map((m) => m.id)).toStrictEqual([remembered.trace!.id]);
  });

  it('maps a trace onto an AgentHub memory: kind, importance, agent, user, the rest in metadata', async () => {
    const brain = await newBrain('companion-bob');
    const sut = brain.open();
    const trace = await sut.remember('Bob is allergic to peanuts', { type: 'semantic', scope: 'user', scopeId: 'user-42', tags: ['health'], entities: ['Bob'], importance: 0.9 });

    const { data: memory } = await brain.hub.GET('/api/v1/memories/{id}', { params: { path: { id: trace.id } } });
    const [{ data: agent }, { data: user }] = await Promise.all([
      brain.hub.GET('/api/v1/agents/{id}', { params: { path: { id: memory!.agentId! } } }),
      brain.hub.GET('/api/v1/users/{id}', { params: { path: { id: memory!.userId! } } }),
    ]);
    expect({ kind: memory!.kind, importance: memory!.importance, embeddingModel: memory!.embeddingModel, agent: agent!.name, user: user!.externalId }).toStrictEqual({
      kind: 'semantic',
      importance: 0.9,
      embeddingModel: 'fake-bow',
      agent: 'companion-bob',
      user: 'user-42',
    });
    expect(memory!.metadata).toStrictEqual({
      source: { kind: 'agentos', brainId: 'companion-bob' },
      agentos: {
        scope: 'user',
        strength: 0.9,
        retrievalCount: 0,
        tags: ['health'],
        emotions: {},
        metadata: {
          content_hash: createHash('sha256').update('Bob is allergic to peanuts').digest('hex'),
          entities: ['Bob'],
          scopeId: 'user-42',
          decay: { stability: 86_400_000, accessCount: 0, reinforcementInterval: 86_400_000 },
        },
      },
    });
    expect(trace).toMatchObject({ scope: 'user', scopeId: 'user-42', createdAt: Date.parse(memory!.createdAt) });
  });

  it('remembers the same content in the same scope once, across processes and at the same moment', async () => {
    const brain = await newBrain();
    const [a, b] = await Promise.all([brain.open().remember('Alice lives in Lisbon'), brain.open().remember('Alice lives in Lisbon')]);
    expect(b.id).toBe(a.id);
    const later = await brain.open().remember('Alice lives in Lisbon', { tags: ['other'] });
    expect(later.id).toBe(a.id);
    const elsewhere = await brain.open().remember('Alice lives in Lisbon', { scope: 'user', scopeId: 'alice' });
    expect(elsewhere.id).not.toBe(a.id);
  });

  it('filters recall by scope and scopeId, and keeps brains apart', async () => {
    const brain = await newBrain('brain-a');
    const sut = brain.open();
    await sut.remember('Carol likes green tea', { scope: 'user', scopeId: 'carol' });
    await sut.remember('Dave likes green tea', { scope: 'user', scopeId: 'dave' });
    const carol = await sut.recall('green tea', { scope: 'user', scopeId: 'carol' });
    expect(carol.map((r) => r.trace.content)).toStrictEqual(['Carol likes green tea']);
    expect(await sut.recall('   ')).toStrictEqual([]);
    const otherBrain = new AgentHubMemoryBackend({ client: brain.hub }, { brainId: 'brain-b', embed });
    expect(await otherBrain.recall('green tea')).toStrictEqual([]);
  });

  it('records feedback, reports health, and consolidates nothing (saying so)', async () => {
    const brain = await newBrain();
    const sut = brain.open();
    const trace = await sut.remember('The office wifi password changes monthly', { type: 'procedural', importance: 0.5 });
    await sut.remember('Standup is at 9:30', { type: 'procedural', scope: 'organization', importance: 0.7 });
    await sut.feedback(trace.id, 'used', 'wifi password');
    await sut.feedback('not-a-memory-id', 'used');
    const [recalled] = await sut.recall('wifi password', { limit: 1 });
    expect(recalled!.trace).toMatchObject({ id: trace.id, retrievalCount: 1, accessCount: 1 });
    expect(recalled!.trace.lastAccessedAt).toBeGreaterThanOrEqual(trace.createdAt);

    const health = await sut.health();
    expect(health).toMatchObject({ totalTraces: 2, activeTraces: 2, tracesPerType: { procedural: 2 }, tracesPerScope: { user: 1, organization: 1 }, weakestTraceStrength: 0.5, graphNodes: 0 });
    expect(health.avgStrength).toBeCloseTo(0.6);
    expect(await sut.consolidate()).toStrictEqual({ pruned: 0, merged: 0, derived: 0, compacted: 0, durationMs: 0 });
    await expect(sut.ingest('./docs')).rejects.toThrow(/not supported/);
    await expect(sut.importFrom('./brain.sqlite')).rejects.toThrow(/agenthub import/);
    await expect(sut.export('./out.json')).rejects.toThrow(/not supported/);
  });
});
