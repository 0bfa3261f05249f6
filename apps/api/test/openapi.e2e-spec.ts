import { TestApi } from './support/api-harness';

/** The OpenAPI document is generated from the same zod schemas that validate requests, and covers every route. */
describe('OpenAPI', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = await TestApi.start();
  });
  afterAll(() => api.close());

  it('documents every registered route with its success status and its error responses as problem+json', async () => {
    const doc = (await api.get('/api/docs-json')).body;
    expect(doc.openapi).toMatch(/^3\./);
    const documented = new Set<string>();
    for (const [path, item] of Object.entries<Record<string, { responses: Record<string, any> }>>(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        documented.add(`${method.toUpperCase()} ${path}`);
        if (path.startsWith('/api/v1/')) {
          const errors = Object.keys(op.responses).filter((s) => s.startsWith('4'));
          // its success under its status (a generated client reads 2xx, not `default`)
          expect([`${method} ${path}`, Object.keys(op.responses).filter((s) => s.startsWith('2'))]).toEqual([`${method} ${path}`, [expect.any(String)]]);
          expect(op.responses['default']).toBeUndefined();
          expect([`${method} ${path}`, errors]).toEqual([`${method} ${path}`, expect.arrayContaining(['400', '401', '429'])]);
          for (const status of errors) {
            expect(op.responses[status].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
          }
        }
      }
    }
    // every route Fastify serves under /api/v1 and /health is in the document
    // printRoutes draws a tree: rebuild each full path from its ancestors' segments.
    const routes: string[] = [];
    const stack: string[] = [];
    const printed: string = api.app.getHttpAdapter().getInstance().printRoutes({ commonPrefix: false });
    for (const line of printed.split('\n')) {
      const m = /^([│ ]*)[├└]── (\S+) \(([A-Z, ]+)\)/.exec(line);
      if (!m) continue;
      const depth = m[1].length / 4;
      stack.length = depth;
      stack[depth] = m[2];
      const path = stack.join('');
      for (const method of m[3].split(', ')) if (method !== 'HEAD') routes.push(`${method} ${path}`);
    }
    const ours = routes.filter((r) => / \/(api\/v1|health)/.test(r)).map((r) => r.replace(/:(\w+)/g, '{$1}'));
    expect(ours.length).toBeGreaterThan(25);
    for (const route of ours) expect(documented).toContain(route);
    expect(doc.components.schemas.Problem.properties).toEqual(
      expect.objectContaining({ type: expect.anything(), title: expect.anything(), status: expect.anything(), detail: expect.anything(), errors: expect.anything() }),
    );
  });

  it('describes request bodies from the validation schemas (unknown fields rejected)', async () => {
    const doc = (await api.get('/api/docs-json')).body;
    const op = doc.paths['/api/v1/agents'].post;
    const ref: string = op.requestBody.content['application/json'].schema.$ref;
    const schema = doc.components.schemas[ref.split('/').pop()!];
    expect(schema.required).toContain('name');
    expect(schema.properties.type.enum).toEqual(['regular', 'sequential', 'parallel', 'loop']);
    expect(schema.additionalProperties).toBe(false);
  });

  it('documents nullable fields as OpenAPI 3.0 nullable, never as an array or a 3.1 type list', async () => {
    const doc = (await api.get('/api/docs-json')).body;
    const schemas = doc.components.schemas;
    expect(schemas['MessagePageDto_Output'].properties.nextCursor).toEqual({ type: 'string', nullable: true });
    expect(schemas['AgentDto_Output'].properties.description).toEqual({ type: 'string', nullable: true });
    expect(schemas['MessagePageDto_Output'].properties.data.items.properties.toolName).toEqual({ type: 'string', nullable: true });
    const typeLists: string[] = [];
    const walk = (node: unknown, at: string): void => {
      if (!node || typeof node !== 'object') return;
      if (Array.isArray((node as { type?: unknown }).type)) typeLists.push(at);
      for (const [key, value] of Object.entries(node)) walk(value, `${at}.${key}`);
    };
    walk(doc, '');
    expect(typeLists).toEqual([]);
  });

  it('serves the docs UI', async () => {
    const res = await api.get('/api/docs');
    expect(res.status).toBe(200);
    expect(res.text).toMatch(/swagger/i);
  });
});
