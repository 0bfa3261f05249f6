import { brainIdOfFile, decodeEmbedding, fromAgentosTime, traceOwner } from './agentos-brain';

describe('AgentOS brain mapping', () => {
  it('reads the times AgentOS stores: epoch ms as INTEGER or digits, ISO text', () => {
    expect(fromAgentosTime(1737626400000n)).toEqual(new Date('2025-01-23T10:00:00.000Z'));
    expect(fromAgentosTime(' 1737626400000 ')).toEqual(new Date('2025-01-23T10:00:00.000Z'));
    expect(fromAgentosTime('2025-01-23T10:00:00.123Z')).toEqual(new Date('2025-01-23T10:00:00.123Z'));
    expect(fromAgentosTime('2025-01-23 10:00:00')).toEqual(new Date('2025-01-23T10:00:00.000Z'));
    expect(fromAgentosTime('yesterday')).toBeNull();
    expect(fromAgentosTime(null)).toBeNull();
  });

  it('decodes Float32 little-endian BLOBs and JSON text, and says why it cannot use an embedding', () => {
    const bytes = new Uint8Array(new Float32Array([0.5, -1, 2]).buffer);
    expect(decodeEmbedding(bytes, 3)).toEqual([0.5, -1, 2]);
    expect(decodeEmbedding('[0.5,-1,2]', 3)).toEqual([0.5, -1, 2]);
    expect(decodeEmbedding(bytes, 4)).toBe("its embedding has 3 dimensions, the target's memories 4");
    expect(decodeEmbedding(bytes.subarray(0, 5), 3)).toMatch(/5 bytes, not a whole number of float32/);
    expect(decodeEmbedding(new Uint8Array(12), 3)).toMatch(/all zeros/);
    expect(decodeEmbedding(new Uint8Array(new Float32Array([Number.NaN, 1, 1]).buffer), 3)).toMatch(/not finite/);
    expect(decodeEmbedding('{"x":1}', 3)).toMatch(/not a JSON array/);
    expect(decodeEmbedding(null, 3)).toMatch(/no embedding/);
  });

  it('finds a trace owner from its scope', () => {
    expect(traceOwner('brain', 'user', 'u1')).toEqual({ agentName: 'brain', userExternalId: 'u1' });
    expect(traceOwner('brain', 'persona', 'u1::p1')).toEqual({ agentName: 'p1', userExternalId: 'u1' });
    expect(traceOwner('brain', 'persona', '::p1')).toEqual({ agentName: 'p1', userExternalId: null });
    expect(traceOwner('brain', 'thread', 'conv-1')).toEqual({ agentName: 'brain', userExternalId: null });
    expect(traceOwner('brain', 'user', undefined)).toEqual({ agentName: 'brain', userExternalId: null });
    expect(brainIdOfFile('/data/companion-alice.sqlite')).toBe('companion-alice');
    expect(brainIdOfFile('/data/foo.brain.sqlite')).toBe('foo.brain');
  });
});
