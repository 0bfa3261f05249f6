import { agentBody, bruteForceTopK, conversationBody, messageBody, seededRandom, userBody } from '@agenthub/db/testing';
import { expectProblem, TestApi, type TestOrg } from './support/api-harness';

const DIMENSIONS = 1536;
const K = 10;

/**
 * Clustered vectors with few digits (short JSON, exactly representable as float4 after rounding through the
 * database), so the brute-force similarities the test computes agree with pgvector's to ~1e-6.
 */
function clusteredVectors(count: number, random: () => number, centres: number[][]): number[][] {
  return Array.from({ length: count }, () => {
    const centre = centres[Math.floor(random() * centres.length)];
    return centre.map((c) => Math.fround(Math.round((c + (random() * 2 - 1) * 0.6) * 1000) / 1000));
  });
}

interface Seeded {
  id: string;
  embedding: number[];
  agentId: string | null;
  userId: string | null;
  kind: string;
  metadata: Record<string, unknown>;
  expired: boolean;
}

/**
 * Search results are checked against a brute-force ranking computed here over what the test wrote: several
 * organizations, agents and users, some expired memories, and filters down to well under 1% of an organization's
 * rows. A filtered search must return the true top k of the matching rows, never fewer when enough match.
 */
describe('search over HTTP', () => {
  let api: TestApi;
  let orgA: TestOrg;
  let orgB: TestOrg;
  const agents: string[] = [];
  const users: string[] = [];
  const seededA: Seeded[] = [];
  const random = seededRandom(7);
  const centres = Array.from({ length: 8 }, () => Array.from({ length: DIMENSIONS }, () => random() * 2 - 1));

  async function seed(org: TestOrg, count: number, shape: (i: number) => Omit<Seeded, 'id' | 'embedding'>): Promise<Seeded[]> {
    const out: Seeded[] = [];
    const vectors = clusteredVectors(count, random, centres);
    for (let start = 0; start < count; start += 200) {
      const batch = vectors.slice(start, start + 200).map((embedding, j) => ({ embedding, ...shape(start + j) }));
      const res = await api.post('/api/v1/memories/batch', org.key, {
        memories: batch.map((m, j) => ({
          content: `memory ${start + j} about ${m.kind}`,
          embedding: m.embedding,
          agentId: m.agentId,
          userId: m.userId,
          kind: m.kind,
          metadata: m.metadata,
          expiresAt: m.expired ? new Date(Date.now() - 60_000).toISOString() : null,
        })),
      });
      if (res.status !== 201) throw new Error(`seed: ${res.status} ${res.text}`);
      out.push(...batch.map((m, j) => ({ ...m, id: res.body.data[j].id })));
    }
    return out;
  }

  beforeAll(async () => {
    api = await TestApi.start({ API_BODY_LIMIT_BYTES: String(16 * 1024 * 1024) });
    [orgA, orgB] = [await api.createOrganization('search-a'), await api.createOrganization('search-b')];
    for (let i = 0; i < 3; i++) {
      agents.push((await api.post('/api/v1/agents', orgA.key, agentBody())).body.id);
      users.push((await api.post('/api/v1/users', orgA.key, userBody())).body.id);
    }
    // 1,200 memories in A: 4 of them gold (0.33%), 30 expired; B holds look-alikes that must never show up in A.
    seededA.push(
      ...(await seed(orgA, 1200, (i) => ({
        agentId: i % 7 === 0 ? null : agents[i % 3],
        userId: users[(i * 5) % 3],
        kind: i % 4 === 0 ? 'preference' : 'fact',
        metadata: { tier: i % 300 === 17 ? 'gold' : 'basic', n: i },
        expired: i % 40 === 5,
      }))),
    );
    await seed(orgB, 300, () => ({ agentId: null, userId: null, kind: 'fact', metadata: { tier: 'gold' }, expired: false }));
  });
  afterAll(() => api.close());

  const search = (body: Record<string, unknown>, key = orgA.key) => api.post('/api/v1/memories/search', key, body);
  const live = () => seededA.filter((m) => !m.expired);

  function expectTopK(res: Awaited<ReturnType<typeof search>>, expected: Array<Seeded & { similarity: number }>) {
    expect(res.status).toBe(200);
    const got = res.body.data as Array<{ id: string; similarity: number; score: number }>;
    expect(got.map((m) => m.id)).toEqual(expected.map((m) => m.id));
    got.forEach((m, i) => {
      expect(m.similarity).toBeCloseTo(expected[i].similarity, 4);
      expect(m.score).toBe(m.similarity);
    });
  }

  const filters: Array<[string, Record<string, unknown>, (m: Seeded) => boolean]> = [
    ['no filter', {}, () => true],
    ['one agent', { agentId: '<a1>' }, (m) => m.agentId === agents[1]],
    ['agent and user', { agentId: '<a0>', userId: '<u2>' }, (m) => m.agentId === agents[0] && m.userId === users[2]],
    ['kind', { kind: 'preference' }, (m) => m.kind === 'preference'],
    ['metadata matching under 1% of the rows', { metadata: { tier: 'gold' } }, (m) => m.metadata.tier === 'gold'],
    ['one memory by metadata', { metadata: { n: 601 } }, (m) => m.metadata.n === 601],
  ];

  const resolve = (filter: Record<string, unknown>) =>
    JSON.parse(
      JSON.stringify(filter)
        .replace(/<a(\d)>/g, (_, i) => agents[Number(i)])
        .replace(/<u(\d)>/g, (_, i) => users[Number(i)]),
    );

  for (const [name, filter, matches] of filters) {
    it(`vector search returns the true top ${K} (${name})`, async () => {
      const candidates = live().filter(matches);
      if (name.includes('under 1%')) expect(candidates.length / seededA.length).toBeLessThan(0.01);
      for (const query of clusteredVectors(3, random, centres)) {
        const expected = bruteForceTopK(candidates, query, K);
        expectTopK(await search({ embedding: query, k: K, filter: resolve(filter) }), expected);
        // The exact scan (strategy: exact) agrees.
        expectTopK(await search({ embedding: query, k: K, filter: resolve(filter), strategy: 'exact' }), expected);
      }
    });
  }

  it('applies minSimilarity as a floor and honours k', async () => {
    const query = seededA[100].embedding;
    const all = bruteForceTopK(live(), query, 100);
    const floor = (all[3].similarity + all[4].similarity) / 2;
    expectTopK(await search({ embedding: query, k: 100, minSimilarity: floor }), all.slice(0, 4));
    expectTopK(await search({ embedding: query, k: 1 }), all.slice(0, 1));
    expect(all[0].id).toBe(seededA[100].id);
  });

  it('never returns expired memories or another organization’s', async () => {
    const expired = seededA.filter((m) => m.expired);
    for (const m of expired.slice(0, 3)) {
      const res = await search({ embedding: m.embedding, k: 100 });
      expect(res.body.data.map((r: { id: string }) => r.id)).not.toContain(m.id);
    }
    const inB = await search({ embedding: seededA[0].embedding, k: 100 }, orgB.key);
    const idsA = new Set(seededA.map((m) => m.id));
    expect(inB.body.data.length).toBe(100);
    expect(inB.body.data.some((r: { id: string }) => idsA.has(r.id))).toBe(false);
    // A filter naming another organization's agent matches nothing (not an error, not a leak).
    expect((await search({ embedding: seededA[0].embedding, filter: { agentId: agents[0] } }, orgB.key)).body.data).toEqual([]);
  });

  it('text search finds the memories with the words, best first; hybrid puts a memory found both ways first', async () => {
    const text = await search({ query: 'preference', k: 100 });
    expect(text.status).toBe(200);
    const expectedIds = new Set(live().filter((m) => m.kind === 'preference').map((m) => m.id));
    expect(text.body.data).toHaveLength(100);
    for (const row of text.body.data) {
      expect(expectedIds.has(row.id)).toBe(true);
      expect(row.similarity).toBeNull();
    }
    const scores = text.body.data.map((r: { score: number }) => r.score);
    expect(scores).toEqual([...scores].sort((x: number, y: number) => y - x));

    // First in both legs: its own vector, and the only memory with its number in the text.
    const index = seededA.findIndex((m) => !m.expired && m.kind === 'preference' && m.agentId === agents[2]);
    const target = seededA[index];
    const hybrid = await search({ embedding: target.embedding, query: `preference ${index}`, k: 5, filter: { agentId: agents[2] } });
    expect(hybrid.status).toBe(200);
    expect(hybrid.body.data[0].id).toBe(target.id);
    expect(hybrid.body.data[0].similarity).toBeCloseTo(1, 5);
    const hybridScores = hybrid.body.data.map((r: { score: number }) => r.score);
    expect(hybridScores).toEqual([...hybridScores].sort((x: number, y: number) => y - x));
  });

  it('rejects bad search bodies with a 400 naming the field', async () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{}, 'embedding'],
      [{ mode: 'text' }, 'query'],
      [{ embedding: seededA[0].embedding, mode: 'hybrid' }, 'query'],
      [{ embedding: seededA[0].embedding, k: 0 }, 'k'],
      [{ embedding: seededA[0].embedding, k: 101 }, 'k'],
      [{ embedding: seededA[0].embedding, minSimilarity: 2 }, 'minSimilarity'],
      [{ embedding: seededA[0].embedding, mode: 'fuzzy' }, 'mode'],
      [{ embedding: seededA[0].embedding, filter: { agentId: 'nope' } }, 'filter.agentId'],
      [{ embedding: seededA[0].embedding, filter: { colour: 'red' } }, 'filter.colour'],
      [{ embedding: ['a'] }, 'embedding.0'],
    ];
    for (const [body, path] of cases) {
      const problem = expectProblem(await search(body), 400);
      expect([JSON.stringify(body).slice(0, 60), problem.errors?.map((e) => e.path)]).toEqual([JSON.stringify(body).slice(0, 60), expect.arrayContaining([path])]);
    }
  });
});

describe('full-text message search over HTTP', () => {
  let api: TestApi;
  let org: TestOrg;
  let other: TestOrg;
  let agentA: string;
  let agentB: string;

  beforeAll(async () => {
    api = await TestApi.start();
    [org, other] = [await api.createOrganization('fts'), await api.createOrganization('fts-other')];
    agentA = (await api.post('/api/v1/agents', org.key, agentBody())).body.id;
    agentB = (await api.post('/api/v1/agents', org.key, agentBody())).body.id;
  });
  afterAll(() => api.close());

  async function conversationWith(key: string, agentId: string, contents: string[]): Promise<{ id: string; messageIds: string[] }> {
    const conversation = await api.post('/api/v1/conversations', key, conversationBody(agentId));
    const res = await api.post(`/api/v1/conversations/${conversation.body.id}/messages`, key, { messages: contents.map((content) => messageBody({ content })) });
    expect(res.status).toBe(201);
    return { id: conversation.body.id, messageIds: res.body.data.map((m: { id: string }) => m.id) };
  }

  it('ranks best first, highlights the words, filters, and never shows deleted conversations or other organizations', async () => {
    const one = await conversationWith(org.key, agentA, [
      'The invoice was paid twice, please refund the invoice and check the invoice number',
      'Weather is nice today',
      'An invoice arrived',
    ]);
    const two = await conversationWith(org.key, agentB, ['Refund for invoice 42 processed']);
    const deleted = await conversationWith(org.key, agentA, ['invoice invoice invoice in a conversation that is deleted']);
    expect((await api.delete(`/api/v1/conversations/${deleted.id}`, org.key)).status).toBe(204);
    const otherAgent = (await api.post('/api/v1/agents', other.key, agentBody())).body.id;
    await conversationWith(other.key, otherAgent, ['invoice invoice invoice from another organization']);

    const res = await api.get('/api/v1/search/messages?q=invoice', org.key);
    expect(res.status).toBe(200);
    const ids = res.body.data.map((m: { id: string }) => m.id);
    expect(new Set(ids)).toEqual(new Set([one.messageIds[0], one.messageIds[2], two.messageIds[0]]));
    expect(ids[0]).toBe(one.messageIds[0]); // three mentions rank above one
    const scores = res.body.data.map((m: { score: number }) => m.score);
    expect(scores).toEqual([...scores].sort((x: number, y: number) => y - x));
    for (const hit of res.body.data) expect(hit.snippet).toMatch(/<b>invoice<\/b>/i);
    expect(res.body.data[0]).toMatchObject({ conversationId: one.id, role: 'user', seq: 1 });

    const byAgent = await api.get(`/api/v1/search/messages?q=invoice&agentId=${agentB}`, org.key);
    expect(byAgent.body.data.map((m: { id: string }) => m.id)).toEqual([two.messageIds[0]]);
    const byConversation = await api.get(`/api/v1/search/messages?q=refund&conversationId=${one.id}`, org.key);
    expect(byConversation.body.data.map((m: { id: string }) => m.id)).toEqual([one.messageIds[0]]);
    const phrase = await api.get(`/api/v1/search/messages?q=${encodeURIComponent('"invoice arrived"')}`, org.key);
    expect(phrase.body.data.map((m: { id: string }) => m.id)).toEqual([one.messageIds[2]]);
    expect((await api.get('/api/v1/search/messages?q=invoice&limit=1', org.key)).body.data).toHaveLength(1);
    expect((await api.get(`/api/v1/search/messages?q=invoice&conversationId=${deleted.id}`, org.key)).body.data).toEqual([]);
  });

  it('rejects a missing query and bad filters', async () => {
    expect(expectProblem(await api.get('/api/v1/search/messages', org.key), 400).errors?.map((e) => e.path)).toContain('q');
    expectProblem(await api.get('/api/v1/search/messages?q=%20', org.key), 400);
    expectProblem(await api.get('/api/v1/search/messages?q=x&agentId=nope', org.key), 400);
    expectProblem(await api.get('/api/v1/search/messages?q=x&limit=0', org.key), 400);
  });
});
