import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { PrismaService } from '@agenthub/db';
import { agentBody, conversationBody, messageBody, testDatabaseTarget, userBody } from '@agenthub/db/testing';
import { createApiApp } from '../../src/app.factory';
import { loadApiConfig, type ApiConfig } from '../../src/config/api-config';

export const TEST_ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** fetch with the tests' conventions: Bearer key, JSON body (or a raw one), the answer parsed when it is JSON. */
export async function httpRequest<T = any>(baseUrl: string, method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.raw !== undefined) body = options.raw;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(baseUrl + path, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  if (text && /json/.test(res.headers.get('content-type') ?? '')) parsed = JSON.parse(text);
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}

export interface RequestOptions {
  key?: string | null;
  body?: unknown;
  /** sent as is (malformed JSON, other content types) */
  raw?: string;
  headers?: Record<string, string>;
}

/**
 * A real API on a loopback port over the test database (PostgreSQL or the embedded one, as the run is set up),
 * talked to over HTTP with fetch: the same code path as production, minus the process boundary.
 */
export class TestApi {
  private constructor(
    readonly app: NestFastifyApplication,
    readonly baseUrl: string,
    readonly config: ApiConfig,
  ) {}

  static async start(env: Record<string, string> = {}): Promise<TestApi> {
    const config = loadApiConfig({
      NODE_ENV: 'test',
      AGENTHUB_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      RATE_LIMIT_MAX: '1000000',
      LOG_LEVEL: (process.env.TEST_LOG_LEVEL ?? 'silent') as 'silent',
      DATABASE_POOL_SIZE: '10',
      ...env,
    });
    const target = testDatabaseTarget();
    const app = await createApiApp({ config, target, adminToken: TEST_ADMIN_TOKEN });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address() as import('node:net').AddressInfo;
    return new TestApi(app, `http://127.0.0.1:${address.port}`, config);
  }

  get prisma(): PrismaService {
    return this.app.get(PrismaService);
  }

  async close(): Promise<void> {
    await this.app.close();
  }

  request<T = any>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    return httpRequest<T>(this.baseUrl, method, path, options);
  }


  get = <T = any>(path: string, key?: string | null, options: RequestOptions = {}) => this.request<T>('GET', path, { ...options, key });
  post = <T = any>(path: string, key: string | null, body?: unknown, options: RequestOptions = {}) =>
    this.request<T>('POST', path, { ...options, key, body });
  patch = <T = any>(path: string, key: string | null, body?: unknown, options: RequestOptions = {}) =>
    this.request<T>('PATCH', path, { ...options, key, body });
  delete = <T = any>(path: string, key: string | null, options: RequestOptions = {}) => this.request<T>('DELETE', path, { ...options, key });

  /** A new organization through the admin route: its id, the owner user and the owner key. */
  async createOrganization(name = `org-${Math.random().toString(36).slice(2, 8)}`): Promise<TestOrg> {
    const res = await this.post('/api/v1/organizations', TEST_ADMIN_TOKEN, { name, ownerEmail: `owner@${name}.test` });
    if (res.status !== 201) throw new Error(`create organization: ${res.status} ${res.text}`);
    return { id: res.body.organization.id, ownerId: res.body.user.id, key: res.body.apiKey.key, name };
  }

  /** An API key of the organization with the given role. */
  async createKey(org: TestOrg, role: 'owner' | 'admin' | 'member' | 'viewer'): Promise<string> {
    const res = await this.post('/api/v1/api-keys', org.key, { name: `${role} key`, role });
    if (res.status !== 201) throw new Error(`create key: ${res.status} ${res.text}`);
    return res.body.key;
  }
}

export interface TestOrg {
  id: string;
  ownerId: string;
  key: string;
  name: string;
}

/** Expects a problem+json error with the status, and returns its body. */
export function expectProblem(res: ApiResponse, status: number): { type: string; title: string; status: number; detail: string; errors?: Array<{ path: string; message: string }> } {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${res.text}`);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body).toEqual(expect.objectContaining({ type: expect.any(String), title: expect.any(String), status, detail: expect.any(String) }));
  return res.body;
}

/** One of each tenant resource, made over HTTP: what the isolation tests aim at. */
export interface TenantResources {
  org: TestOrg;
  userId: string;
  keyId: string;
  agentId: string;
  conversationId: string;
  messageId: string;
  streamingMessageId: string;
}

export async function seedTenant(api: TestApi, org: TestOrg): Promise<TenantResources> {
  const ok = (res: ApiResponse, what: string) => {
    if (res.status >= 300) throw new Error(`${what}: ${res.status} ${res.text}`);
    return res.body;
  };
  const user = ok(await api.post('/api/v1/users', org.key, userBody()), 'user');
  const key = ok(await api.post('/api/v1/api-keys', org.key, { name: 'member', role: 'member' }), 'key');
  const agent = ok(await api.post('/api/v1/agents', org.key, agentBody()), 'agent');
  const conversation = ok(await api.post('/api/v1/conversations', org.key, conversationBody(agent.id, { userId: user.id })), 'conversation');
  const messages = ok(
    await api.post(`/api/v1/conversations/${conversation.id}/messages`, org.key, {
      messages: [messageBody(), messageBody({ role: 'assistant', content: '', isStreaming: true })],
    }),
    'messages',
  );
  return {
    org,
    userId: user.id,
    keyId: key.id,
    agentId: agent.id,
    conversationId: conversation.id,
    messageId: messages.data[0].id,
    streamingMessageId: messages.data[1].id,
  };
}
