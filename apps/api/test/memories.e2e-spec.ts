import { randomUUID } from 'node:crypto';
import { MemoryRepository } from '@agenthub/db';
import { agentBody, conversationBody, describeOnPostgres, seededRandom, userBody, vectorDimensionsDatabase } from '@agenthub/db/testing';
import { ConfigError, loadApiConfig } from '../src/config/api-config';
import { ApiProcess, TEST_ADMIN_TOKEN } from './support/api-process';
import { expectProblem, TestApi, type TestOrg } from './support/api-harness';

const DIMENSIONS = 1536;
/** Small integers: exact in float4 and short in JSON (a 1,000-memory batch stays a few MB). */
const intVector = (random: () => number) => Array.from({ length: DIMENSIONS }, () => Math.floor(random() * 19) - 9 || 1);

describe('memories and documents over HTTP', () => {
  let api: TestApi;
  let org: TestOrg;
  let agentId: string;
  let userId: string;
  let conversationId: string;
  const random = seededRandom(42);

  beforeAll(async () => {
    api = await TestApi.start({ API_BODY_LIMIT_BYTES: String(16 * 1024 * 1024) });
    org = await api.createOrganization('memories');
    agentId = (await api.post('/api/v1/agents', org.key, agentBody())).body.id;
    userId = (await api.post('/api/v1/users', org.key, userBody())).body.id;
    conversationId = (await api.post('/api/v1/conversations', org.key, conversationBody(agentId, { userId }))).body.id;
  });
  afterAll(() => api.close());

  const memoryCount = async () => (await api.get('/api/v1/stats', org.key)).body.memories as number;
  const allMemories = async (query = '') => {
    const ids: string[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { data: Array<{ id: string }>; nextCursor: string | null } } = await api.get(
        `/api/v1/memories?limit=200${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
        org.key,
      );
      expect(res.status).toBe(200);
      ids.push(...res.body.data.map((m) => m.id));
      cursor = res.body.nextCursor;
    } while (cursor);
    return ids;
  };

  it('creates, reads, updates, lists and deletes a memory, keeping the embedding model with the vector', async () => {
    const embedding = intVector(random);
    const created = await api.post('/api/v1/memories', org.key, {
      content: 'prefers window seats',
      embedding,
      embeddingModel: 'text-embedding-3-small',
      importance: 0.9,
      kind: 'preference',
      agentId,
      userId,
      conversationId,
      metadata: { source: 'chat' },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      id: expect.any(String),
      content: 'prefers window seats',
      embedding,
      embeddingModel: 'text-embedding-3-small',
      importance: 0.9,
      kind: 'preference',
      agentId,
      userId,
      conversationId,
      metadata: { source: 'chat' },
      expiresAt: null,
    });
    const id = created.body.id;
    expect((await api.get(`/api/v1/memories/${id}`, org.key)).body).toEqual(created.body);

    const updated = await api.patch(`/api/v1/memories/${id}`, org.key, { content: 'prefers aisle seats', embeddingModel: 'text-embedding-3-large', importance: 0.2 });
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({ content: 'prefers aisle seats', embeddingModel: 'text-embedding-3-large', importance: 0.2, embedding });

    expect(await allMemories(`&agentId=${agentId}&kind=preference`)).toContain(id);
    expect(await allMemories(`&userId=${userId}`)).toContain(id);
    expect(await allMemories(`&kind=nothing-like-this`)).toEqual([]);
    const listed = (await api.get(`/api/v1/memories?agentId=${agentId}`, org.key)).body.data.find((m: { id: string }) => m.id === id);
    expect(listed).toMatchObject({ content: 'prefers aisle seats', embeddingModel: 'text-embedding-3-large' });
    expect(listed.embedding).toBeUndefined();

    expect((await api.delete(`/api/v1/memories/${id}`, org.key)).status).toBe(204);
    expectProblem(await api.get(`/api/v1/memories/${id}`, org.key), 404);
    expectProblem(await api.delete(`/api/v1/memories/${id}`, org.key), 404);
    expectProblem(await api.patch(`/api/v1/memories/${id}`, org.key, { content: 'back' }), 404);
  });

  it('creates 1,000 memories in one batch (all or nothing) and refuses 1,001', async () => {
    const before = await memoryCount();
    const memories = Array.from({ length: 1000 }, (_, i) => ({ content: `batch memory ${i}`, embedding: intVector(random), embeddingModel: 'm-1', kind: 'batch' }));
    const res = await api.post('/api/v1/memories/batch', org.key, { memories });
    expect(res.status).toBe(201);
    expect(res.body.data).toHaveLength(1000);
    expect(res.body.data.map((m: { content: string }) => m.content)).toEqual(memories.map((m) => m.content));
    expect(res.body.data.every((m: { embeddingModel: string }) => m.embeddingModel === 'm-1')).toBe(true);
    expect(await memoryCount()).toBe(before + 1000);

    const tooMany = await api.post('/api/v1/memories/batch', org.key, { memories: [...memories, memories[0]] });
    expect(expectProblem(tooMany, 400).errors?.map((e) => e.path)).toContain('memories');
    const oneBad = await api.post('/api/v1/memories/batch', org.key, {
      memories: [memories[0], memories[1], { ...memories[2], agentId: randomUUID() }],
    });
    expectProblem(oneBad, 404);
    expect(await memoryCount()).toBe(before + 1000);
  });

  it('checks every embedding against EMBEDDING_DIMENSIONS with a 400 naming the field, writing nothing', async () => {
    const before = await memoryCount();
    const short = await api.post('/api/v1/memories', org.key, { content: 'x', embedding: [1, 2, 3] });
    const problem = expectProblem(short, 400);
    expect(problem.errors).toEqual([{ path: 'embedding', message: `must have ${DIMENSIONS} numbers (EMBEDDING_DIMENSIONS), got 3` }]);

    const batch = await api.post('/api/v1/memories/batch', org.key, {
      memories: [
        { content: 'ok', embedding: intVector(random) },
        { content: 'long', embedding: [...intVector(random), 1] },
      ],
    });
    expect(expectProblem(batch, 400).errors?.map((e) => e.path)).toEqual(['memories.1.embedding']);
    expect(expectProblem(await api.post('/api/v1/memories/search', org.key, { embedding: [1, 0] }), 400).errors?.[0].path).toBe('embedding');
    const doc = await api.post('/api/v1/documents', org.key, { title: 't', chunks: [{ content: 'c', embedding: [1] }] });
    expect(expectProblem(doc, 400).errors?.map((e) => e.path)).toEqual(['chunks.0.embedding']);
    const zeros = await api.post('/api/v1/memories', org.key, { content: 'zero', embedding: Array(DIMENSIONS).fill(0) });
    expectProblem(zeros, 400);
    expect(await memoryCount()).toBe(before);
  });

  it('hides an expired memory at once (get, list, search, stats) and leaves the row for the worker to purge', async () => {
    const embedding = intVector(random);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    const created = await api.post('/api/v1/memories', org.key, { content: 'temporary note', embedding, kind: 'ttl', expiresAt: future });
    expect(created.status).toBe(201);
    expect(created.body.expiresAt).toBe(future);
    const id = created.body.id;
    const search = () => api.post('/api/v1/memories/search', org.key, { embedding, k: 1, filter: { kind: 'ttl' } });
    expect((await search()).body.data.map((m: { id: string }) => m.id)).toEqual([id]);
    const before = await memoryCount();

    const past = new Date(Date.now() - 1000).toISOString();
    expect((await api.patch(`/api/v1/memories/${id}`, org.key, { expiresAt: past })).status).toBe(200);
    expectProblem(await api.get(`/api/v1/memories/${id}`, org.key), 404);
    expect(await allMemories('&kind=ttl')).toEqual([]);
    expect((await search()).body.data).toEqual([]);
    expect(await memoryCount()).toBe(before - 1);

    // Created already expired: accepted, and invisible from the start.
    const gone = await api.post('/api/v1/memories', org.key, { content: 'already over', embedding, kind: 'ttl', expiresAt: past });
    expect(gone.status).toBe(201);
    expectProblem(await api.get(`/api/v1/memories/${gone.body.id}`, org.key), 404);

    // In a transaction: on the embedded database's single backend, a lone extended-protocol query can interleave
    // with the API's statements on other connections and lose its unnamed statement (seen once in CI).
    const stored = () => api.prisma.$transaction((tx) => tx.memory.count({ where: { id: { in: [id, gone.body.id] } } }));
    expect(await stored()).toBe(2);
    await new MemoryRepository(api.prisma).purgeExpired();
    expect(await stored()).toBe(0);
  });

  it('creates a document with chunks, finds them by vector and text, and deletes them with it', async () => {
    const vectors = [intVector(random), intVector(random), intVector(random)];
    const created = await api.post('/api/v1/documents', org.key, {
      title: 'Travel policy',
      content: 'full text',
      agentId,
      metadata: { team: 'ops' },
      embeddingModel: 'text-embedding-3-small',
      chunks: [
        { content: 'economy class for flights under six hours', embedding: vectors[0] },
        { content: 'business class for longer flights', embedding: vectors[1], embeddingModel: 'other-model' },
        { content: 'hotel budget per night', embedding: vectors[2] },
        { content: 'receipts within thirty days' },
      ],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ title: 'Travel policy', agentId, chunkCount: 4, metadata: { team: 'ops' } });
    const id = created.body.id;

    const detail = await api.get(`/api/v1/documents/${id}?includeChunks=true`, org.key);
    expect(detail.body.chunks.map((c: { position: number; embeddingModel: string | null }) => [c.position, c.embeddingModel])).toEqual([
      [0, 'text-embedding-3-small'],
      [1, 'other-model'],
      [2, 'text-embedding-3-small'],
      [3, null],
    ]);
    expect((await api.get(`/api/v1/documents/${id}`, org.key)).body.chunks).toBeUndefined();
    expect((await api.get('/api/v1/documents', org.key)).body.data.map((d: { id: string }) => d.id)).toContain(id);

    const byVector = await api.post('/api/v1/documents/search', org.key, { embedding: vectors[1], k: 2, filter: { documentId: id } });
    expect(byVector.status).toBe(200);
    expect(byVector.body.data[0]).toMatchObject({ documentId: id, documentTitle: 'Travel policy', position: 1, embeddingModel: 'other-model' });
    expect(byVector.body.data[0].similarity).toBeCloseTo(1, 5);
    const byText = await api.post('/api/v1/documents/search', org.key, { query: 'receipts', filter: { agentId } });
    expect(byText.body.data.map((c: { position: number; documentId: string }) => [c.documentId, c.position])).toEqual([[id, 3]]);

    expect((await api.delete(`/api/v1/documents/${id}`, org.key)).status).toBe(204);
    expectProblem(await api.get(`/api/v1/documents/${id}`, org.key), 404);
    expect((await api.post('/api/v1/documents/search', org.key, { query: 'receipts' })).body.data).toEqual([]);
    expect(await api.prisma.documentChunk.count({ where: { documentId: id } })).toBe(0);
  });

  it('finds documents by exact title and changes title and metadata, keeping the chunks', async () => {
    const title = `trace-${random().toString(36).slice(2)}`;
    const created = await api.post('/api/v1/documents', org.key, { title, content: 'verbatim', agentId, metadata: { a: 1 }, chunks: [{ content: 'c' }] });
    await api.post('/api/v1/documents', org.key, { title: `${title}-other`, content: 'x' });
    const found = await api.get(`/api/v1/documents?title=${encodeURIComponent(title)}`, org.key);
    expect(found.body.data.map((d: { id: string }) => d.id)).toEqual([created.body.id]);
    expect((await api.get(`/api/v1/documents?title=${encodeURIComponent(title)}&agentId=${agentId}`, org.key)).body.data).toHaveLength(1);
    expect((await api.get(`/api/v1/documents?title=${encodeURIComponent(title.toUpperCase())}`, org.key)).body.data).toEqual([]);
    expect(expectProblem(await api.get('/api/v1/documents?title=a%00b', org.key), 400).errors).toEqual([expect.objectContaining({ path: 'title' })]);

    const patched = await api.patch(`/api/v1/documents/${created.body.id}`, org.key, { metadata: { a: 2, lastAccessedAt: 5 } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: created.body.id, title, content: 'verbatim', metadata: { a: 2, lastAccessedAt: 5 }, chunkCount: 1 });
    const renamed = await api.patch(`/api/v1/documents/${created.body.id}`, org.key, { title: 'renamed' });
    expect(renamed.body).toMatchObject({ title: 'renamed', metadata: { a: 2, lastAccessedAt: 5 } });
    expect((await api.get(`/api/v1/documents/${created.body.id}`, org.key)).body).toEqual(renamed.body);
    expect((await api.get(`/api/v1/documents?title=${encodeURIComponent(title)}`, org.key)).body.data).toEqual([]);
    expect(expectProblem(await api.patch(`/api/v1/documents/${created.body.id}`, org.key, { title: '' }), 400).errors).toEqual([expect.objectContaining({ path: 'title' })]);
    expect(expectProblem(await api.patch(`/api/v1/documents/${created.body.id}`, org.key, { chunks: [] }), 400).errors).toBeDefined();
    expectProblem(await api.patch('/api/v1/documents/00000000-0000-4000-8000-000000000000', org.key, { title: 'x' }), 404);
    const other = await api.createOrganization();
    expectProblem(await api.patch(`/api/v1/documents/${created.body.id}`, other.key, { title: 'x' }), 404);
    expect((await api.get(`/api/v1/documents/${created.body.id}`, org.key)).body.title).toBe('renamed');
    const audit = await api.get(`/api/v1/audit-logs?entityType=document&entityId=${created.body.id}`, org.key);
    expect(audit.body.data.map((e: { action: string }) => e.action).sort()).toEqual(['document.create', 'document.update', 'document.update']);
  });

  it('lets viewers read and search but not write', async () => {
    const viewer = await api.createKey(org, 'viewer');
    expectProblem(await api.patch('/api/v1/documents/00000000-0000-4000-8000-000000000000', viewer, { title: 'x' }), 403);
    expect((await api.get('/api/v1/memories', viewer)).status).toBe(200);
    expect((await api.post('/api/v1/memories/search', viewer, { embedding: intVector(random) })).status).toBe(200);
    expect((await api.post('/api/v1/documents/search', viewer, { query: 'anything' })).status).toBe(200);
    expectProblem(await api.post('/api/v1/memories', viewer, { content: 'x', embedding: intVector(random) }), 403);
    expectProblem(await api.post('/api/v1/documents', viewer, { title: 'x' }), 403);
  });
});

describe('EMBEDDING_DIMENSIONS', () => {
  it('must be a positive integer, and a bad value is named', () => {
    expect(loadApiConfig({ EMBEDDING_DIMENSIONS: '1536' }).EMBEDDING_DIMENSIONS).toBe(1536);
    expect(loadApiConfig({}).EMBEDDING_DIMENSIONS).toBe(1536);
    for (const bad of ['many', '0', '-3', '1.5']) {
      expect(() => loadApiConfig({ EMBEDDING_DIMENSIONS: bad })).toThrow(ConfigError);
      expect(() => loadApiConfig({ EMBEDDING_DIMENSIONS: bad })).toThrow(/^\s*EMBEDDING_DIMENSIONS: /m);
    }
  });
});

// The real process, against the migrated test database: one PostgreSQL server serves both.
describeOnPostgres('EMBEDDING_DIMENSIONS at start-up', () => {
  let api: ApiProcess | undefined;
  afterAll(() => api?.stop());

  it("refuses to start when it differs from the vector columns' dimension, naming the variable", async () => {
    api = ApiProcess.spawn({ env: { DATABASE_URL: process.env.TEST_DATABASE_URL, EMBEDDING_DIMENSIONS: '768' } });
    const exit = await api.exited;
    expect(exit.code).not.toBe(0);
    expect(api.output).toMatch(/EMBEDDING_DIMENSIONS is 768 but (memories|document_chunks)\.embedding is vector\(1536\)/);
    expect(api.output).not.toMatch(/listening on/);
  });
});

// A deployment whose embedding model is not 1536-dimensional migrates the vector columns and sets EMBEDDING_DIMENSIONS:
// every embedding is then checked against that, by the API and by the data layer alike (the data layer checked
// against 1536 until 2026-11-30, so such a deployment could store no embedding at all). A database of its own.
describeOnPostgres('EMBEDDING_DIMENSIONS other than 1536, on vector(4) columns', () => {
  let api: ApiProcess | undefined;
  let key: string;
  afterAll(() => api?.stop());

  beforeAll(async () => {
    const url = await vectorDimensionsDatabase('dims4', 4);
    api = await ApiProcess.start({ env: { DATABASE_URL: url, EMBEDDING_DIMENSIONS: '4' } });
    const created = await api.post('/api/v1/organizations', TEST_ADMIN_TOKEN, { name: 'dims4', ownerEmail: 'owner@dims4.test' });
    expect(created.status).toBe(201);
    key = created.body.apiKey.key;
  }, 120_000);

  it('stores, reads and searches 4-dimensional memories, as numbers and as base64', async () => {
    const near = await api!.post('/api/v1/memories', key, { content: 'near', embedding: [1, 0, 0, 0.5] });
    expect(near.status).toBe(201);
    expect(near.body.embedding).toEqual([1, 0, 0, 0.5]);
    const base64 = Buffer.from(new Float32Array([0, 1, 0, 0]).buffer).toString('base64');
    const batch = await api!.post('/api/v1/memories/batch', key, { memories: [{ content: 'far', embedding: base64 }, { content: 'middle', embedding: [1, 1, 0, 0] }] });
    expect(batch.status).toBe(201);
    const patched = await api!.patch(`/api/v1/memories/${near.body.id}`, key, { embedding: [1, 0, 0, 0.25] });
    expect(patched.status).toBe(200);
    expect(patched.body.embedding).toEqual([1, 0, 0, 0.25]);
    const hits = await api!.post('/api/v1/memories/search', key, { embedding: [1, 0, 0, 0], k: 3 });
    expect(hits.status).toBe(200);
    expect(hits.body.data.map((h: { content: string }) => h.content)).toEqual(['near', 'middle', 'far']);
  });

  it('stores and searches 4-dimensional document chunks', async () => {
    const doc = await api!.post('/api/v1/documents', key, { title: 'manual', chunks: [{ content: 'first', embedding: [0, 0, 1, 0] }, { content: 'second', embedding: [0, 0, 0, 1] }] });
    expect(doc.status).toBe(201);
    const hits = await api!.post('/api/v1/documents/search', key, { embedding: [0, 0, 0.1, 1], k: 2 });
    expect(hits.status).toBe(200);
    expect(hits.body.data.map((h: { content: string }) => h.content)).toEqual(['second', 'first']);
  });

  it('answers a 1536-dimensional embedding with a 400 naming 4, writing nothing', async () => {
    const before = (await api!.get('/api/v1/memories?limit=100', key)).body.data.length;
    const wrong = Array.from({ length: 1536 }, () => 0.5);
    expect(JSON.stringify(expectProblem(await api!.post('/api/v1/memories', key, { content: 'wrong', embedding: wrong }), 400))).toMatch(/must have 4 /);
    expect(JSON.stringify(expectProblem(await api!.post('/api/v1/memories/search', key, { embedding: wrong }), 400))).toMatch(/must have 4 /);
    expect((await api!.get('/api/v1/memories?limit=100', key)).body.data.length).toBe(before);
  });
});
