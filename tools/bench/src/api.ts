/**
 * API benchmark (on demand, not a test): the real API as child processes against the bench database, measured
 * side by side with raw `pg` doing the same database work, in one run, at the same concurrency and pool size.
 *
 *   (a) message append over HTTP (one message per request, several conversations) vs a raw INSERT of the row
 *   (b) a conversation page (GET …/messages?limit=50) over HTTP vs the same SELECT through pg
 *   (c) ≥ 1,000 concurrent connections held for 30 s against the API (errors, non-2xx, timeouts, latency)
 *   (d) row-level security's cost: the same append load on an API with AGENTHUB_ROW_LEVEL_SECURITY=true vs false
 *   (e) the API vs a bare Fastify server on the API's own data layer (bare-api-server.ts: the same repositories,
 *       transaction and round trips): the cost of everything above the data layer, with the SQL held equal; for the
 *       append and (with `page`) for the page read
 *   (f) 8 writers on 8 conversations of one organization vs 8 writers on one conversation in each of 8
 *       organizations: what appends of one organization serialise on (its audit chain head, for one)
 *
 * The report ends with every goal of issue 10 ("the API at the speed of its database") and whether it is met.
 *
 * Express vs Fastify is not measured: app.factory.ts builds the Fastify adapter only, and a second adapter would
 * mean a second body parser/problem mapping just for the bench.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import readline from 'node:readline';
import autocannon from 'autocannon';
import type pg from 'pg';
import { machineFacts, prepareDatabase, prismaService, rawPool, truncateAll, type MachineFacts } from './db';
import { median } from './harness';
import { fmtNum, log, table } from './report';
import { AuditLogRepository, type AuditSealingLag } from '@agenthub/db';
import { seededRandom } from '@agenthub/db/testing';
import type { ApiCase } from './api-cases';

/** For the profile entry, which loads this module lazily (a lazy import of the library itself is refused by lint). */
export { seededRandom };

export interface ApiBenchOptions {
  url: string;
  /** workspace root: the API is started from there */
  root: string;
  /** DATABASE_POOL_SIZE of each API process and the raw pool's size */
  poolSize: number;
  /** concurrent requests / queries on each side */
  concurrency: number;
  /** conversations the load is spread over (per side) */
  conversations: number;
  rounds: number;
  sliceMs: number;
  warmupMs: number;
  /** (c): connections held open and for how long */
  holdConnections: number;
  holdSeconds: number;
  /** the cases to run (all when absent): append, bare, page, orgs, rls, hold */
  cases?: ReadonlySet<ApiCase>;
}


export interface LoadStats {
  ops: number;
  errors: number;
  seconds: number;
  /** successful operations per second */
  rate: number;
  p50: number;
  p99: number;
  /** the first few error messages, to tell what failed */
  sampleErrors: string[];
}

export interface ApiComparison {
  case: string;
  baselineName: string;
  subjectName: string;
  unit: string;
  baseline: LoadStats;
  subject: LoadStats;
  /** median of the per-round subject/baseline rate ratios */
  ratio: number;
  roundRatios: number[];
  /** subject p99 / baseline p99 */
  p99Ratio: number;
  /** concurrent requests / queries on each side */
  concurrency: number;
  goal: { ratio: number; p99Ratio?: number; subjectP50Ms?: number };
  met: boolean;
}

/** One goal of issue 10 as the report states it, with what this run measured. */
export interface GoalRow {
  goal: string;
  measured: string;
  met: boolean;
}

export interface HoldResult {
  connections: number;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  ok2xx: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  resets: number;
  latency: { p50: number; p90: number; p99: number; max: number; mean: number };
  /** responses per HTTP status */
  statusCodes: Record<string, number>;
  path: string;
  met: boolean;
}

export interface ApiBenchResult {
  facts: MachineFacts;
  options: Omit<ApiBenchOptions, 'url' | 'root'>;
  comparisons: ApiComparison[];
  hold: HoldResult | null;
  /** audit sealing behind the append cases: lag of the entries they wrote, and what was still pending after them */
  sealing: AuditSealingLag | null;
  goals: GoalRow[];
}

export const ADMIN_TOKEN = `bench-admin-${Math.random().toString(36).slice(2)}-0123456789`;

/** Variables the API reads that must come from the bench, not from the caller's shell. */
const API_VARIABLES = [
  'NODE_ENV', 'PORT', 'HOST', 'DATABASE_URL', 'DATABASE_POOL_SIZE', 'AGENTHUB_DATA_DIR', 'AGENTHUB_ADMIN_TOKEN',
  'AGENTHUB_MIGRATE_ON_START', 'AGENTHUB_ROW_LEVEL_SECURITY', 'API_BODY_LIMIT_BYTES', 'RATE_LIMIT_MAX',
  'RATE_LIMIT_WINDOW_SECONDS', 'REQUEST_TIMEOUT_MS', 'SHUTDOWN_GRACE_MS', 'LOG_LEVEL', 'EVENT_RETENTION_HOURS',
  'NODE_OPTIONS', 'TSX_TSCONFIG_PATH', 'API_BULK_BODY_LIMIT_BYTES', 'API_JSON_PARSE_THREADS', 'LOG_FORMAT',
  'EMBEDDING_DIMENSIONS', 'AUDIT_MAC_KEY',
];

/** What a child process runs and the line that says it listens (its first group: the base URL). */
export interface ChildEntry {
  script: string;
  swcProject: string;
  ready: RegExp;
}

export const API_ENTRY: ChildEntry = {
  script: path.join('apps', 'api', 'src', 'main.ts'),
  swcProject: 'apps/api/tsconfig.json',
  ready: /agenthub api: listening on (http:\/\/\S+?) /,
};

/** The bare baseline of (e), started the same way as the API. */
export const BARE_API_ENTRY: ChildEntry = {
  script: path.join('tools', 'bench', 'src', 'bare-api-server.ts'),
  swcProject: 'tools/bench/tsconfig.json',
  ready: /bench bare api: listening on (http:\/\/\S+?) /,
};

/** One API process (`node -r @swc-node/register apps/api/src/main.ts`), as `nx run api:serve` starts it. */
export class ApiChild {
  private constructor(
    readonly name: string,
    readonly baseUrl: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<number | null>,
  ) {}

  static async start(name: string, root: string, env: Record<string, string>, entry: ChildEntry = API_ENTRY): Promise<ApiChild> {
    const childEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !API_VARIABLES.includes(k)) childEnv[k] = v;
    Object.assign(childEnv, {
      SWC_NODE_PROJECT: entry.swcProject,
      NODE_ENV: 'production',
      HOST: '127.0.0.1',
      PORT: '0',
      AGENTHUB_ADMIN_TOKEN: ADMIN_TOKEN,
      AGENTHUB_MIGRATE_ON_START: 'false', // prepareDatabase has migrated
      RATE_LIMIT_MAX: '10000000',
      // Request logging off: the bench measures the API's work, not a terminal drinking JSON lines.
      LOG_LEVEL: 'warn',
      ...env,
    });
    const child = spawn(process.execPath, ['-r', '@swc-node/register', entry.script], {
      cwd: root,
      env: childEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
    const baseUrl = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        // Not left running with its pools when nobody will stop it.
        child.kill('SIGKILL');
        reject(new Error(`${name}: not listening after 120 s:\n${lines.join('\n')}`));
      }, 120_000);
      for (const stream of [child.stdout!, child.stderr!]) {
        readline.createInterface({ input: stream }).on('line', (line) => {
          if (lines.length < 200) lines.push(line);
          const m = entry.ready.exec(line);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
      }
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name}: exited with ${code} before listening:\n${lines.join('\n')}`));
      });
    });
    return new ApiChild(name, baseUrl, child, exited);
  }

  /** The process id (for its CPU time in /proc). */
  get pid(): number {
    return this.child.pid!;
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Keep-alive HTTP client with one socket per concurrent worker (node:http: no extra dependency). */
export class HttpClient {
  private readonly agent: http.Agent;

  constructor(
    private readonly baseUrl: string,
    sockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  request(method: string, urlPath: string, key: string, body?: string, extraHeaders: Record<string, string> = {}): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { authorization: `Bearer ${key}`, ...extraHeaders };
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request(this.baseUrl + urlPath, { method, headers, agent: this.agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of the API's answers, read field by field
  async json<T = any>(method: string, urlPath: string, key: string, body?: unknown, expected = [200, 201]): Promise<T> {
    const res = await this.request(method, urlPath, key, body === undefined ? undefined : JSON.stringify(body));
    if (!expected.includes(res.status)) throw new Error(`${method} ${urlPath}: ${res.status} ${res.text.slice(0, 300)}`);
    return JSON.parse(res.text) as T;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** One side of a comparison: `op` does one request/query for worker `w` and throws when it fails. */
export interface Load {
  name: string;
  op(worker: number): Promise<void>;
}

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

export async function slice(load: Load, ms: number, concurrency: number, acc?: { lat: number[]; errors: string[] }) {
  const start = nowMs();
  const deadline = start + ms;
  let ops = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (nowMs() < deadline) {
        const t0 = nowMs();
        try {
          await load.op(w);
          ops++;
          acc?.lat.push(nowMs() - t0);
        } catch (error) {
          errors++;
          if (acc && acc.errors.length < 5) acc.errors.push((error as Error).message);
        }
      }
    }),
  );
  return { ops, errors, seconds: (nowMs() - start) / 1000 };
}

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * Alternating slices (A B, B A, …) after a warm-up, as tools/bench/src/harness.ts does, with p99 and error
 * counts added (the HTTP side can fail where a pg query would not). `settle` runs between warm-up and rounds.
 */
async function sideBySide(baseline: Load, subject: Load, o: ApiBenchOptions, concurrency = o.concurrency, settle?: () => Promise<unknown>) {
  for (const load of [baseline, subject, baseline, subject]) await slice(load, o.warmupMs / 2, concurrency);
  await settle?.();
  const acc = new Map<Load, { ops: number; errors: number; seconds: number; lat: number[]; sampleErrors: string[] }>([
    [baseline, { ops: 0, errors: 0, seconds: 0, lat: [], sampleErrors: [] }],
    [subject, { ops: 0, errors: 0, seconds: 0, lat: [], sampleErrors: [] }],
  ]);
  const roundRatios: number[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const rates = new Map<Load, number>();
    for (const load of r % 2 === 0 ? [baseline, subject] : [subject, baseline]) {
      const a = acc.get(load)!;
      const s = await slice(load, o.sliceMs, concurrency, { lat: a.lat, errors: a.sampleErrors });
      a.ops += s.ops;
      a.errors += s.errors;
      a.seconds += s.seconds;
      rates.set(load, s.ops / s.seconds);
    }
    roundRatios.push(rates.get(subject)! / rates.get(baseline)!);
    log(`  round ${r + 1}/${o.rounds}: ${baseline.name} ${fmtNum(rates.get(baseline)!)}/s, ${subject.name} ${fmtNum(rates.get(subject)!)}/s (${roundRatios[r].toFixed(2)}×)`);
  }
  const stats = (load: Load): LoadStats => {
    const a = acc.get(load)!;
    const lat = a.lat.sort((x, y) => x - y);
    return { ops: a.ops, errors: a.errors, seconds: a.seconds, rate: a.ops / a.seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), sampleErrors: a.sampleErrors };
  };
  return { baseline: stats(baseline), subject: stats(subject), ratio: median(roundRatios), roundRatios, concurrency };
}

const WORDS =
  'the agent called a tool to look up the order status and then summarised the result for the user who asked about delivery times refunds and the invoice total'.split(' ');

/** Chat-like messages (40–120 words, model and tokens on assistant turns), pre-generated so that building them stays out of the timing. */
export function messageInputs(count: number, random: () => number) {
  return Array.from({ length: count }, (_, i) => {
    const words = 40 + Math.floor(random() * 80);
    const assistant = i % 2 === 1;
    return {
      role: assistant ? 'assistant' : 'user',
      content: Array.from({ length: words }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' '),
      messageType: 'text',
      model: assistant ? 'gpt-4o' : null,
      tokensUsed: assistant ? 50 + Math.floor(random() * 400) : null,
      metadata: { source: 'bench' },
    };
  });
}

/** The plain single-row INSERT a hand-written service would issue (precomputed seq, no counters, no RETURNING). */
const RAW_INSERT = `INSERT INTO messages (id, organization_id, conversation_id, seq, role, content, message_type, is_streaming,
  is_complete, model, tokens_used, metadata, created_at, updated_at)
  VALUES (gen_random_uuid(), $1, $2, $3, $4::message_role, $5, $6::message_type, false, true, $7, $8, $9, now(), now())`;

/** The page the repository reads, as one hand-written SELECT (same columns, order and limit + 1). */
const RAW_PAGE = `SELECT m.id, m.organization_id, m.conversation_id, m.seq, m.role::text AS role, m.content,
  m.message_type::text AS message_type, m.tool_name, m.tool_args, m.tool_call_id, m.is_streaming, m.is_complete, m.model,
  m.tokens_used, m.client_id, m.metadata, m.created_at, m.updated_at
  FROM messages m WHERE m.conversation_id = $1 AND m.organization_id = $2 ORDER BY m.seq ASC LIMIT 51`;

export interface Tenant {
  organizationId: string;
  key: string;
  agentId: string;
}

export async function createTenant(client: HttpClient, name: string): Promise<Tenant> {
  const org = await client.json('POST', '/api/v1/organizations', ADMIN_TOKEN, { name, ownerEmail: `owner@${name.replace(/\W/g, '-')}.bench` });
  const agent = await client.json('POST', '/api/v1/agents', org.apiKey.key, { name: `${name} agent` });
  return { organizationId: org.organization.id, key: org.apiKey.key, agentId: agent.id };
}

export async function createConversations(client: HttpClient, tenant: Tenant, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await client.json('POST', '/api/v1/conversations', tenant.key, { agentId: tenant.agentId, title: `bench ${i}` })).id);
  }
  return ids;
}

/** Worker w appends to conversations[w % n] with the key of tenants[w % tenants.length]. */
export function appendOverHttp(name: string, client: HttpClient, tenants: Tenant | Tenant[], conversations: string[], bodies: string[]): Load {
  const keys = (Array.isArray(tenants) ? tenants : [tenants]).map((t) => t.key);
  let turn = 0;
  return {
    name,
    async op(w) {
      const res = await client.request('POST', `/api/v1/conversations/${conversations[w % conversations.length]}/messages`, keys[w % keys.length], bodies[turn++ % bodies.length]);
      if (res.status !== 201) throw new Error(`append: ${res.status} ${res.text.slice(0, 200)}`);
    },
  };
}

/** Worker w reads the first 50 messages of conversations[w % n] with the tenant's key. */
function pageOverHttp(name: string, client: HttpClient, tenant: Tenant, conversations: string[]): Load {
  return {
    name,
    async op(w) {
      const res = await client.request('GET', `/api/v1/conversations/${conversations[w % conversations.length]}/messages?limit=50`, tenant.key);
      if (res.status !== 200) throw new Error(`page: ${res.status} ${res.text.slice(0, 200)}`);
    },
  };
}

export async function runApiBench(o: ApiBenchOptions): Promise<ApiBenchResult> {
  await prepareDatabase(o.url);
  const pool: pg.Pool = rawPool(o.url, o.poolSize);
  const apis: ApiChild[] = [];
  const clients: HttpClient[] = [];
  try {
    await truncateAll(pool);
    const facts = await machineFacts(pool, o.url, o.poolSize);
    log(`machine: ${facts.cpus} CPUs (${facts.cpuModel}), PostgreSQL ${facts.postgres}; pool ${o.poolSize}, concurrency ${o.concurrency}`);
    log('starting two API processes (row-level security on / off)');
    const common = { DATABASE_URL: o.url, DATABASE_POOL_SIZE: String(o.poolSize) };
    const [rls, noRls] = await Promise.all([
      ApiChild.start('api (RLS on)', o.root, { ...common, AGENTHUB_ROW_LEVEL_SECURITY: 'true' }),
      // NODE_ENV=production refuses RLS off (api-config.ts): this one runs as development for the measurement.
      ApiChild.start('api (RLS off)', o.root, { ...common, NODE_ENV: 'development', AGENTHUB_ROW_LEVEL_SECURITY: 'false' }),
    ]);
    apis.push(rls, noRls);
    const http1 = new HttpClient(rls.baseUrl, o.concurrency);
    const http2 = new HttpClient(noRls.baseUrl, o.concurrency);
    clients.push(http1, http2);

    const tenant = await createTenant(http1, 'bench api');
    const random = seededRandom(7);
    const inputs = messageInputs(64, random);
    const bodies = inputs.map((m) => JSON.stringify(m));
    const comparisons: ApiComparison[] = [];
    const push = (c: Omit<ApiComparison, 'met' | 'p99Ratio'>) => {
      const p99Ratio = c.subject.p99 / c.baseline.p99;
      const met =
        c.ratio >= c.goal.ratio &&
        (c.goal.p99Ratio === undefined || p99Ratio <= c.goal.p99Ratio) &&
        (c.goal.subjectP50Ms === undefined || c.subject.p50 <= c.goal.subjectP50Ms) &&
        c.subject.errors === 0;
      comparisons.push({ ...c, p99Ratio, met });
    };

    const want = (c: ApiCase) => !o.cases || o.cases.has(c);
    const appendsFrom = new Date();
    // After each warm-up, the statistics autovacuum would keep (it may be off, as on CI machines): without them
    // the planner guesses at tables that grew from empty (the audit sealer's reads, the page read).
    const analyze = () => pool.query('ANALYZE');
    // (a) append: HTTP vs raw INSERT, each side on its own conversations.
    if (want('append')) {
    log(`(a) append, 1 message/request, ${o.conversations} conversations, ${o.concurrency} concurrent`);
    const httpConvs = await createConversations(http1, tenant, o.conversations);
    const rawConvs = await createConversations(http1, tenant, o.conversations);
    const rawSeq = new Map(rawConvs.map((id) => [id, 0]));
    let rawTurn = 0;
    const rawAppend: Load = {
      name: 'raw INSERT',
      async op(w) {
        const conv = rawConvs[w % rawConvs.length];
        const seq = rawSeq.get(conv)! + 1;
        rawSeq.set(conv, seq);
        const m = inputs[rawTurn++ % inputs.length];
        await pool.query(RAW_INSERT, [tenant.organizationId, conv, seq, m.role, m.content, m.messageType, m.model, m.tokensUsed, JSON.stringify(m.metadata)]);
      },
    };
    const a = await sideBySide(rawAppend, appendOverHttp('HTTP POST', http1, tenant, httpConvs, bodies), o, o.concurrency, analyze);
    push({ case: 'append 1 msg/request', baselineName: 'raw pg INSERT', subjectName: 'HTTP POST …/messages', unit: 'req/s', ...a, goal: { ratio: 0.25, p99Ratio: 5, subjectP50Ms: 20 } });
    }

    // (e) the API vs a bare Fastify server on the API's own data layer (bare-api-server.ts).
    // Started once, for the append here and the page read below.
    let httpBare: HttpClient | null = null;
    if (want('bare')) {
      const bare = await ApiChild.start('bare api', o.root, common, BARE_API_ENTRY);
      apis.push(bare);
      httpBare = new HttpClient(bare.baseUrl, o.concurrency);
      clients.push(httpBare);
    }
    if (httpBare) {
    log(`(e) append, API vs bare Fastify + the same data layer, ${o.conversations} conversations, ${o.concurrency} concurrent`);
    const bareConvs = await createConversations(http1, tenant, o.conversations);
    const apiConvs = await createConversations(http1, tenant, o.conversations);
    const e = await sideBySide(appendOverHttp('bare server', httpBare, tenant, bareConvs, bodies), appendOverHttp('API', http1, tenant, apiConvs, bodies), o, o.concurrency, analyze);
    push({ case: 'append, API vs bare server', baselineName: 'bare Fastify + pg, same SQL', subjectName: 'API', unit: 'req/s', ...e, goal: { ratio: 0.7 } });
    await checkCounters(pool, [...bareConvs, ...apiConvs]);
    }

    // Conversations of 200 messages for (b) and (c).
    const readConvs = want('page') || want('hold') ? await createConversations(http1, tenant, o.conversations) : [];
    for (const id of readConvs) {
      for (let i = 0; i < 2; i++) {
        await http1.json('POST', `/api/v1/conversations/${id}/messages`, tenant.key, { messages: messageInputs(100, random) });
      }
    }
    // (b) page read: HTTP vs the same SELECT.
    if (want('page')) {
    log('(b) conversation page, GET …/messages?limit=50');
    // Without statistics the planner ANDed the organization index (every message of the tenant) into both sides'
    // page reads: raw SELECT fell to ~320/s.
    await analyze();
    const rawRead: Load = {
      name: 'raw SELECT',
      async op(w) {
        const res = await pool.query(RAW_PAGE, [readConvs[w % readConvs.length], tenant.organizationId]);
        if (res.rowCount !== 51) throw new Error(`page: ${res.rowCount} rows`);
      },
    };
    const httpRead = pageOverHttp('HTTP GET', http1, tenant, readConvs);
    const b = await sideBySide(rawRead, httpRead, o, o.concurrency, analyze);
    push({ case: 'page of 50 messages', baselineName: 'raw pg SELECT', subjectName: 'HTTP GET …/messages?limit=50', unit: 'req/s', ...b, goal: { ratio: 0.5 } });
    // (e) for the page: the bare server's page read through the same repository and read-only raw transaction, so
    // that API vs bare is what the framework costs on a read, and raw SELECT vs bare what Fastify + the data layer do.
    if (httpBare) {
      log('(e) conversation page, API vs bare Fastify + the same data layer');
      const eb = await sideBySide(pageOverHttp('bare server', httpBare, tenant, readConvs), httpRead, o, o.concurrency, analyze);
      push({ case: 'page, API vs bare server', baselineName: 'bare Fastify + pg, same SQL', subjectName: 'API', unit: 'req/s', ...eb, goal: { ratio: 0.7 } });
    }
    }

    // (f) one organization vs eight: the same 8 writers, each on its own conversation, through the API.
    const writers = 8;
    if (want('orgs')) {
    log(`(f) append, ${writers} writers on ${writers} conversations of one organization vs one conversation in each of ${writers} organizations`);
    const oneOrgConvs = await createConversations(http1, tenant, writers);
    const orgs: Tenant[] = [];
    const manyOrgConvs: string[] = [];
    for (let i = 0; i < writers; i++) {
      const t = await createTenant(http1, `bench api org ${i + 1}`);
      orgs.push(t);
      manyOrgConvs.push(...(await createConversations(http1, t, 1)));
    }
    const f = await sideBySide(
      appendOverHttp(`${writers} orgs`, http1, orgs, manyOrgConvs, bodies),
      appendOverHttp('1 org', http1, tenant, oneOrgConvs, bodies),
      o,
      writers,
      analyze,
    );
    push({ case: `append, ${writers} writers: 1 org vs ${writers} orgs`, baselineName: `${writers} organizations, 1 conversation each`, subjectName: `1 organization, ${writers} conversations`, unit: 'req/s', ...f, goal: { ratio: 0.8 } });
    await checkCounters(pool, [...oneOrgConvs, ...manyOrgConvs]);
    }

    // (d) row-level security: the same append load on both APIs, each on its own conversations.
    if (want('rls')) {
    log('(d) append with row-level security on vs off');
    const offConvs = await createConversations(http2, tenant, o.conversations);
    const onConvs = await createConversations(http1, tenant, o.conversations);
    const d = await sideBySide(appendOverHttp('RLS off', http2, tenant, offConvs, bodies), appendOverHttp('RLS on', http1, tenant, onConvs, bodies), o, o.concurrency, analyze);
    push({ case: 'append, RLS on vs off', baselineName: 'API, RLS off', subjectName: 'API, RLS on', unit: 'req/s', ...d, goal: { ratio: 0.7 } });
    }

    // Sealing lag of every audit entry the append cases above wrote (sealed_at − at, the sealer running in the
    // APIs under that load), and what was still pending the moment they ended.
    let sealing: AuditSealingLag | null = null;
    if (want('append') || want('bare') || want('orgs') || want('rls')) {
      const prisma = prismaService(o.url);
      try {
        sealing = await new AuditLogRepository(prisma).sealingLag(null, { since: appendsFrom });
      } finally {
        await prisma.$disconnect();
      }
      log(`audit sealing during the append cases: ${sealing.sealed} sealed, lag p50 ${lagMs(sealing.p50Ms)}, p99 ${lagMs(sealing.p99Ms)}, max ${lagMs(sealing.maxMs)}; pending after: ${sealing.pending}`);
    }

    // (c) many connections held open against the production configuration (RLS on): reads of a page.
    let hold: HoldResult | null = null;
    if (want('hold')) {
    log(`(c) ${o.holdConnections} connections for ${o.holdSeconds} s (GET …/messages?limit=20, spread over ${readConvs.length} conversations)`);
    let next = 0;
    const result = await autocannon({
      url: rls.baseUrl,
      connections: o.holdConnections,
      duration: o.holdSeconds,
      timeout: 30,
      headers: { authorization: `Bearer ${tenant.key}` },
      requests: [
        {
          method: 'GET',
          setupRequest: (req) => ({ ...req, path: `/api/v1/conversations/${readConvs[next++ % readConvs.length]}/messages?limit=20` }),
        },
      ],
    });
    hold = {
      connections: o.holdConnections,
      seconds: result.duration,
      requests: result.requests.total,
      requestsPerSecond: result.requests.average,
      ok2xx: result['2xx'],
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      resets: result.resets,
      latency: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: result.latency.average },
      statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, v]) => [code, v.count ?? 0])),
      path: '/api/v1/conversations/:id/messages?limit=20',
      met: result.errors === 0 && result.timeouts === 0 && result.non2xx === 0 && result['2xx'] > 0,
    };
    }
    return { facts, options: strip(o), comparisons, hold, sealing, goals: issueGoals(comparisons, hold) };
  } finally {
    for (const c of clients) c.close();
    await Promise.all(apis.map((api) => api.stop()));
    await pool.end();
  }
}

/** After a case: every conversation's counters agree with its rows (a wrong baseline would not). */
async function checkCounters(pool: pg.Pool, conversations: string[]): Promise<void> {
  const { rows } = await pool.query<{ id: string; last_seq: number; message_count: number; n: number }>(
    `SELECT c.id, c.last_seq, c.message_count, (SELECT count(*)::int FROM messages m WHERE m.conversation_id = c.id) AS n
       FROM conversations c WHERE c.id = ANY($1::uuid[])`,
    [conversations],
  );
  const bad = rows.filter((r) => r.last_seq !== r.n || r.message_count !== r.n);
  if (rows.length !== conversations.length || bad.length) {
    throw new Error(`conversation counters disagree with their messages: ${JSON.stringify(bad.slice(0, 3))}`);
  }
}

/** Issue 10's goals for this suite (memory search and payment creation are the api-data suite's). */
function issueGoals(comparisons: ApiComparison[], hold: HoldResult | null): GoalRow[] {
  const byCase = (prefix: string) => comparisons.find((c) => c.case.startsWith(prefix));
  const goals: GoalRow[] = [];
  const ratioGoal = (goal: string, c: ApiComparison | undefined, extra = '') =>
    goals.push(
      c
        ? { goal, measured: `${c.ratio.toFixed(2)}×${extra}${c.subject.errors ? `, ${c.subject.errors} errors` : ''}`, met: c.met }
        : { goal, measured: 'not run', met: false },
    );
  const append = byCase('append 1 msg/request');
  const appendGoal = 'append ≥ 0.25× raw INSERT with p50 ≤ 20 ms and p99 ≤ 5× raw p99, at 16 concurrent';
  if (append && append.concurrency !== 16) goals.push({ goal: appendGoal, measured: `not measured: ran at ${append.concurrency} concurrent`, met: false });
  else ratioGoal(appendGoal, append, append ? `, p50 ${append.subject.p50.toFixed(1)} ms, p99 ${append.subject.p99.toFixed(1)} ms = ${append.p99Ratio.toFixed(2)}× raw` : '');
  ratioGoal('append: API ≥ 0.7× a bare Fastify + pg server running the same SQL', byCase('append, API vs bare'));
  ratioGoal('page of 50 messages ≥ 0.5× raw SELECT', byCase('page of 50'));
  ratioGoal('append, 8 writers: 1 organization ≥ 0.8× 8 organizations', byCase('append, 8 writers'));
  goals.push(
    hold
      ? {
          goal: '1,000 connections held 30 s: zero errors (p99 reported)',
          measured: `${hold.connections} connections, ${hold.seconds} s: ${hold.errors} errors (${hold.timeouts} timeouts), ${hold.non2xx} non-2xx, p99 ${hold.latency.p99.toFixed(0)} ms`,
          met: hold.met && hold.connections >= 1000 && hold.seconds >= 30,
        }
      : { goal: '1,000 connections held 30 s: zero errors (p99 reported)', measured: 'not run', met: false },
  );
  return goals;
}

function strip(o: ApiBenchOptions): Omit<ApiBenchOptions, 'url' | 'root'> {
  const rest: Partial<ApiBenchOptions> = { ...o };
  delete rest.url; // may carry a password
  delete rest.root;
  return rest as Omit<ApiBenchOptions, 'url' | 'root'>;
}

/** A sealing-lag figure: ms, or a dash when there was nothing to measure. */
const lagMs = (n: number | null) => (n === null ? '—' : `${n.toFixed(1)} ms`);

export function apiBenchReport(r: ApiBenchResult): string {
  const ms = (n: number) => `${n.toFixed(1)} ms`;
  const out: string[] = [];
  out.push('', '## API vs raw pg (same run, same database, same concurrency and pool size; ratio = subject / baseline)', '');
  out.push(
    table(
      ['case', 'conc.', 'baseline', 'subject', 'rate ratio', 'p50 base / subj', 'p99 base / subj (×)', 'errors', 'goal', 'met?'],
      r.comparisons.map((c) => [
        c.case,
        String(c.concurrency),
        `${c.baselineName}: ${fmtNum(c.baseline.rate)} ${c.unit}`,
        `${c.subjectName}: ${fmtNum(c.subject.rate)} ${c.unit}`,
        `${c.ratio.toFixed(2)}× [${Math.min(...c.roundRatios).toFixed(2)}–${Math.max(...c.roundRatios).toFixed(2)}]`,
        `${ms(c.baseline.p50)} / ${ms(c.subject.p50)}`,
        `${ms(c.baseline.p99)} / ${ms(c.subject.p99)} (${c.p99Ratio.toFixed(2)}×)`,
        `${c.baseline.errors} / ${c.subject.errors}`,
        `≥ ${c.goal.ratio}×${c.goal.subjectP50Ms ? `, p50 ≤ ${c.goal.subjectP50Ms} ms` : ''}${c.goal.p99Ratio ? `, p99 ≤ ${c.goal.p99Ratio}×` : ''}`,
        c.met ? 'yes' : 'NO',
      ]),
    ),
  );
  out.push('', 'rates: successful operations over all rounds; ratio: median of per-round ratios [min–max]; met? also needs 0 subject errors');
  if (r.hold) {
    const h = r.hold;
    out.push('', `## ${h.connections} concurrent connections for ${h.seconds} s (${h.path}, RLS on)`, '');
    out.push(
      table(
        ['requests', 'req/s', '2xx', 'non-2xx (by status)', 'errors', 'timeouts', 'resets', 'p50', 'p90', 'p99', 'max', 'zero errors?'],
        [[String(h.requests), fmtNum(h.requestsPerSecond), String(h.ok2xx), `${h.non2xx}${h.non2xx ? ` (${Object.entries(h.statusCodes).filter(([c]) => !c.startsWith('2')).map(([c, n]) => `${c}: ${n}`).join(', ')})` : ''}`, String(h.errors), String(h.timeouts), String(h.resets), ms(h.latency.p50), ms(h.latency.p90), ms(h.latency.p99), ms(h.latency.max), h.met ? 'yes' : 'NO']],
      ),
    );
  }
  if (r.sealing) {
    const s = r.sealing;
    out.push('', '## Audit sealing behind the append cases (sealed_at − at of the entries they wrote; the sealer runs in each API)', '');
    out.push(
      table(
        ['entries sealed', 'lag p50', 'lag p99', 'lag max', 'pending when the appends ended', 'oldest pending'],
        [[String(s.sealed), lagMs(s.p50Ms), lagMs(s.p99Ms), lagMs(s.maxMs), String(s.pending), lagMs(s.oldestPendingMs)]],
      ),
    );
  }
  out.push('', '## Goals of issue 10 (memory search and payment creation: the api-data suite)', '');
  out.push(table(['goal', 'measured', 'met?'], r.goals.map((g) => [g.goal, g.measured, g.met ? 'met' : 'NOT MET'])));
  out.push('', '## Machine', '');
  for (const [k, v] of Object.entries(r.facts)) out.push(`- ${k}: ${v}`);
  out.push('- Express vs Fastify: not measured (the app is built on the Fastify adapter only)');
  return out.join('\n');
}
