import { agentBody, float32Base64, float4Vector, seededRandom } from '@agenthub/db/testing';
import { expectProblem, TestApi, type ApiResponse, type TestOrg } from './support/api-harness';

const DIMENSIONS = 1536;

/**
 * Embeddings as base64 of little-endian float32 values (`encoding_format: "base64"` of the embedding APIs) on every
 * field that takes one, responses in the format asked for, a 400 naming the field for every bad one with nothing
 * written, and the contract's largest batch sent as full-precision JSON numbers.
 */
describe('embeddings as numbers or base64 over HTTP', () => {
  let api: TestApi;
  let org: TestOrg;
  const random = seededRandom(11);
  const vector = () => float4Vector(random);

  beforeAll(async () => {
    api = await TestApi.start();
    org = await api.createOrganization('embeddings');
    await api.post('/api/v1/agents', org.key, agentBody());
  });
  afterAll(() => api.close());

  const created = (res: ApiResponse) => {
    if (res.status !== 201) throw new Error(`expected 201, got ${res.status}: ${res.text}`);
    return res.body;
  };
  const embeddingOf = async (id: string) => (await api.get(`/api/v1/memories/${id}`, org.key)).body.embedding as number[];

  it('takes base64 on memory create, batch and update, storing exactly the float32 values given as numbers', async () => {
    const [a, b, c, d] = [vector(), vector(), vector(), vector()];
    const asNumbers = created(await api.post('/api/v1/memories', org.key, { content: 'as numbers', embedding: a }));
    const asBase64 = created(await api.post('/api/v1/memories', org.key, { content: 'as base64', embedding: float32Base64(a) }));
    expect(asBase64.embedding).toEqual(a);
    expect(await embeddingOf(asBase64.id)).toEqual(await embeddingOf(asNumbers.id));

    const batch = created(
      await api.post('/api/v1/memories/batch', org.key, {
        memories: [
          { content: 'batch base64', embedding: float32Base64(b) },
          { content: 'batch numbers', embedding: c },
        ],
      }),
    );
    expect(await embeddingOf(batch.data[0].id)).toEqual(b);
    expect(await embeddingOf(batch.data[1].id)).toEqual(c);

    const updated = await api.patch(`/api/v1/memories/${asNumbers.id}`, org.key, { embedding: float32Base64(d) });
    expect(updated.status).toBe(200);
    expect(updated.body.embedding).toEqual(d);
    expect(await embeddingOf(asNumbers.id)).toEqual(d);
  });

  it('searches memories and documents with a base64 query exactly as with the same numbers', async () => {
    const query = vector();
    created(await api.post('/api/v1/memories', org.key, { content: 'the query itself', embedding: query, kind: 'search-target' }));
    const chunks = [query, vector(), vector()];
    created(
      await api.post('/api/v1/documents', org.key, {
        title: 'chunked',
        chunks: chunks.map((embedding, i) => ({ content: `chunk ${i}`, embedding: i === 1 ? embedding : float32Base64(embedding) })),
      }),
    );
    for (const route of ['/api/v1/memories/search', '/api/v1/documents/search']) {
      const byNumbers = await api.post(route, org.key, { embedding: query, k: 5 });
      const byBase64 = await api.post(route, org.key, { embedding: float32Base64(query), k: 5 });
      expect([route, byBase64.status]).toEqual([route, 200]);
      expect(byBase64.body).toEqual(byNumbers.body);
      expect(byBase64.body.data[0].similarity).toBeCloseTo(1, 5);
      const hybrid = await api.post(route, org.key, { embedding: float32Base64(query), query: 'chunk OR query', k: 3 });
      expect(hybrid.status).toBe(200);
    }
  });

  it('returns embeddings as numbers or, with ?embeddingFormat=base64, as base64 of the stored float32 values', async () => {
    const embedding = vector();
    const base64 = float32Base64(embedding);
    const create = created(await api.post('/api/v1/memories?embeddingFormat=base64', org.key, { content: 'formats', embedding }));
    expect(create.embedding).toBe(base64);
    const id = create.id;
    expect((await api.get(`/api/v1/memories/${id}?embeddingFormat=base64`, org.key)).body.embedding).toBe(base64);
    expect((await api.get(`/api/v1/memories/${id}?embeddingFormat=float`, org.key)).body.embedding).toEqual(embedding);
    expect((await api.get(`/api/v1/memories/${id}`, org.key)).body.embedding).toEqual(embedding);
    const patched = await api.patch(`/api/v1/memories/${id}?embeddingFormat=base64`, org.key, { content: 'formats, patched' });
    expect(patched.body.embedding).toBe(base64);
    const problem = expectProblem(await api.get(`/api/v1/memories/${id}?embeddingFormat=binary`, org.key), 400);
    expect(problem.errors?.map((e) => e.path)).toEqual(['embeddingFormat']);
  });

  it('documents both forms and ?embeddingFormat in OpenAPI', async () => {
    const doc = (await api.get('/api/docs-json')).body;
    const schemaOf = (ref: string) => doc.components.schemas[ref.split('/').pop()!];
    const create = schemaOf(doc.paths['/api/v1/memories'].post.requestBody.content['application/json'].schema.$ref);
    expect(create.properties.embedding.anyOf).toEqual([
      expect.objectContaining({ type: 'array', items: { type: 'number' } }),
      expect.objectContaining({ type: 'string', format: 'byte', description: expect.stringMatching(/little-endian float32/) }),
    ]);
    for (const [path, method] of [['/api/v1/memories', 'post'], ['/api/v1/memories/{id}', 'get'], ['/api/v1/memories/{id}', 'patch']]) {
      const parameter = doc.paths[path][method].parameters.find((p: { name: string }) => p.name === 'embeddingFormat');
      expect([path, method, parameter]).toEqual([path, method, expect.objectContaining({ in: 'query', schema: expect.objectContaining({ enum: ['float', 'base64'] }) })]);
    }
  });

  it('answers every bad embedding with a 400 naming the field, and writes nothing', async () => {
    const memoryId = created(await api.post('/api/v1/memories', org.key, { content: 'kept as is', embedding: vector() })).id;
    const state = async () => ({
      stats: (await api.get('/api/v1/stats', org.key)).body,
      memory: (await api.get(`/api/v1/memories/${memoryId}`, org.key)).body,
      audit: (await api.get('/api/v1/audit-logs?limit=1', org.key)).body.data[0].id,
    });
    const before = await state();
    const good = vector();
    const withNaN = [...good];
    withNaN[5] = Number.NaN;
    const withInfinity = [...good];
    withInfinity[0] = Number.NEGATIVE_INFINITY;
    const bad: Array<[what: string, embedding: unknown, message: RegExp]> = [
      ['one value short', float32Base64(good.slice(1)), /must have 1536 numbers .*got 1535/],
      ['one value too many', float32Base64([...good, 0.5]), /got 1537/],
      ['NaN', float32Base64(withNaN), /element 5 is not a finite number/],
      ['-Infinity', float32Base64(withInfinity), /element 0 is not a finite number/],
      ['not base64', `${float32Base64(good).slice(0, -4)}$$$$`, /base64/],
      ['the URL-safe alphabet', float32Base64(good).replace(/[+/]/g, '_'), /base64/],
      ['bytes that are no whole float32', Buffer.alloc(DIMENSIONS * 4 + 2, 1).toString('base64'), /not a whole number of float32 values/],
      ['all zeros', float32Base64(new Array(DIMENSIONS).fill(0)), /all zeros/],
      ['a number', 42, /array of numbers or a base64 string/],
      ['an empty string', '', /must not be empty/],
    ];
    const routes: Array<[route: string, body: (embedding: unknown) => ReturnType<TestApi['request']>, path: string]> = [
      ['memory create', (e) => api.post('/api/v1/memories', org.key, { content: 'x', embedding: e }), 'embedding'],
      ['memory batch', (e) => api.post('/api/v1/memories/batch', org.key, { memories: [{ content: 'ok', embedding: good }, { content: 'x', embedding: e }] }), 'memories.1.embedding'],
      ['memory update', (e) => api.patch(`/api/v1/memories/${memoryId}`, org.key, { content: 'changed', embedding: e }), 'embedding'],
      ['document chunks', (e) => api.post('/api/v1/documents', org.key, { title: 't', chunks: [{ content: 'ok', embedding: good }, { content: 'x', embedding: e }] }), 'chunks.1.embedding'],
      ['memory search', (e) => api.post('/api/v1/memories/search', org.key, { embedding: e }), 'embedding'],
      ['document search', (e) => api.post('/api/v1/documents/search', org.key, { embedding: e }), 'embedding'],
    ];
    for (const [route, send, path] of routes) {
      for (const [what, embedding, message] of bad) {
        const problem = expectProblem(await send(embedding), 400);
        expect([route, what, problem.errors]).toEqual([route, what, [{ path, message: expect.stringMatching(message) }]]);
      }
    }
    const strings = expectProblem(await api.post('/api/v1/memories', org.key, { content: 'x', embedding: ['a', 'b'] }), 400);
    expect(strings.errors?.map((e) => e.path)).toEqual(['embedding.0', 'embedding.1']);
    expect(await state()).toEqual(before);
  });

  it('takes the contract’s largest batch, 1,000 memories of 1536 full-precision JSON numbers', async () => {
    const full = () => Array.from({ length: DIMENSIONS }, () => (random() * 2 - 1) * 0.06); // ~17 significant digits each
    const memories = Array.from({ length: 1000 }, (_, i) => ({ content: `full precision ${i}`, embedding: full(), kind: 'full-precision' }));
    const body = JSON.stringify({ memories });
    expect(body.length).toBeGreaterThan(30 * 1024 * 1024);
    const res = await api.request('POST', '/api/v1/memories/batch', { key: org.key, raw: body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(201);
    expect(res.body.data).toHaveLength(1000);
    for (const i of [0, 999]) expect(await embeddingOf(res.body.data[i].id)).toEqual(memories[i].embedding.map(Math.fround));

    const compact = memories.slice(0, 100).map((m) => ({ ...m, embedding: float32Base64(m.embedding) }));
    const small = await api.post('/api/v1/memories/batch', org.key, { memories: compact });
    expect(small.status).toBe(201);
    expect(await embeddingOf(small.body.data[42].id)).toEqual(memories[42].embedding.map(Math.fround));
  });
});
