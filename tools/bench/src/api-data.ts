/**
 * On-demand benchmark of the data routes of the HTTP API (a report, not a test), side by side in one run on one
 * database (see api-data.main.ts):
 * 1. memory search over HTTP (k = 10, the API's default strategy) vs the same vector query as raw SQL on pg;
 * 2. HNSW vs exact through the API: recall@10 and queries/s of `strategy: ann` against `strategy: exact`, without a
 *    filter and with a filter matching 1% of the organization's memories (plus what `auto` returns there);
 * 3. payment creation over HTTP (Idempotency-Key, audit entry, transaction) vs a raw INSERT of the same row, and
 *    both against the bare Fastify server on the API's data layer (bare-api-server.ts);
 * 4. embeddings as JSON numbers vs base64 float32 on the batch, search and read paths (bytes, API CPU per request),
 *    and the latency of small requests while 30 MiB batches are parsed and written (api-embeddings.ts).
 * The API runs as a child process (apps/api/src/main.ts), as in production.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { toSql } from 'pgvector/utils';
import { seededRandom } from '@agenthub/db/testing';
import { ApiChild, BARE_API_ENTRY } from './api';
import { embeddingFormatBench, embeddingsReport, largeBatchBody, stallBench, type FormatRow, type StallRow } from './api-embeddings';
import { prepareDatabase, rawPool, truncateAll } from './db';
import { compare, type CompareResult } from './harness';
import { log, type RecallRow } from './report';

export interface ApiDataBenchOptions {
  url: string;
  root: string;
  poolSize: number;
  /** memories in the searched organization */
  rows: number;
  /** query vectors for recall */
  queries: number;
  concurrency: number;
  rounds: number;
  sliceMs: number;
  warmupMs: number;
  /** memories per batch request in the JSON-numbers-vs-base64 comparison */
  batchSize: number;
  /** batch requests per format and round in that comparison */
  batches: number;
  /** 1,000-memory full-precision batches sent while small requests are measured, per API process */
  largeBatches: number;
}

export interface ApiDataComparison {
  case: string;
  unit: string;
  baseline: string;
  subject: string;
  baselineRate: number;
  subjectRate: number;
  ratio: number;
  roundRatios: number[];
  goal: number | null;
  met: boolean | null;
  p50Ms: { baseline: number; subject: number };
}

export interface ApiDataBenchResult {
  rows: number;
  dimensions: number;
  comparisons: ApiDataComparison[];
  recall: Array<RecallRow & { autoRecallAt10: number }>;
  embeddingFormats: FormatRow[];
  stalls: StallRow[];
}

const DIMENSIONS = 1536;
const K = 10;
const ADMIN_TOKEN = `bench-data-admin-${randomUUID()}`;

/** Keep-alive JSON client, one socket per worker (node:http, no extra dependency). */
class Client {
  private readonly agent: http.Agent;
  constructor(
    private readonly baseUrl: string,
    sockets: number,
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the API's JSON, read field by field
  post<T = any>(path: string, key: string, body: string, headers: Record<string, string> = {}): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        this.baseUrl + path,
        {
          method: 'POST',
          agent: this.agent,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => (res.statusCode && res.statusCode < 300 ? resolve(JSON.parse(text) as T) : reject(new Error(`${path}: ${res.statusCode} ${text.slice(0, 300)}`))));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Deterministic clustered vectors (mulberry32), rounded to 4 decimals: short JSON, realistic neighbourhoods. */
function generator(seed: number) {
  let s = seed >>> 0;
  const random = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const centres = Array.from({ length: 64 }, () => Array.from({ length: DIMENSIONS }, () => random() * 2 - 1));
  return () => {
    const c = centres[Math.floor(random() * centres.length)];
    return c.map((x) => Math.round((x + (random() * 2 - 1) * 0.8) * 10_000) / 10_000);
  };
}

async function seedMemories(pool: pg.Pool, organizationId: string, rows: number, next: () => number[]): Promise<void> {
  const batch = 500;
  for (let start = 0; start < rows; start += batch) {
    const n = Math.min(batch, rows - start);
    const vectors = Array.from({ length: n }, () => toSql(next()) as string);
    // Every 100th memory is `rare`: the 1%-selective filter.
    const kinds = Array.from({ length: n }, (_, i) => ((start + i) % 100 === 0 ? 'rare' : 'fact'));
    await pool.query(
      `insert into memories (id, organization_id, content, embedding, kind, created_at, updated_at)
       select gen_random_uuid(), $1::uuid, 'memory ' || k, e::vector, k, now(), now() from unnest($2::text[], $3::text[]) as r(e, k)`,
      [organizationId, vectors, kinds],
    );
    if ((start / batch) % 10 === 0) log(`  seeded ${start + n}/${rows} memories`);
  }
  await pool.query('analyze memories');
}

export async function runApiDataBench(o: ApiDataBenchOptions): Promise<ApiDataBenchResult> {
  await prepareDatabase(o.url);
  const pool = rawPool(o.url, o.poolSize);
  let api: ApiChild | undefined;
  const client = { current: undefined as Client | undefined };
  try {
    await truncateAll(pool);
    log('starting the API (child process)');
    api = await ApiChild.start('api', o.root, {
      DATABASE_URL: o.url,
      DATABASE_POOL_SIZE: String(o.poolSize),
      AGENTHUB_ADMIN_TOKEN: ADMIN_TOKEN,
      API_BODY_LIMIT_BYTES: String(16 * 1024 * 1024),
    });
    const http = new Client(api.baseUrl, o.concurrency + 2);
    client.current = http;
    const created = await http.post('/api/v1/organizations', ADMIN_TOKEN, JSON.stringify({ name: 'bench-data', ownerEmail: 'owner@bench.test' }));
    const orgId: string = created.organization.id;
    const key: string = created.apiKey.key;

    const next = generator(20_261_122);
    log(`seeding ${o.rows} memories (1% kind=rare)`);
    await seedMemories(pool, orgId, o.rows, next);
    const queries = Array.from({ length: Math.max(o.queries, 16) }, next);
    const bodies = queries.map((q) => JSON.stringify({ embedding: q, k: K }));
    const timing = { rounds: o.rounds, sliceMs: o.sliceMs, warmupMs: o.warmupMs, concurrency: o.concurrency };
    const comparisons: ApiDataComparison[] = [];
    /** A side-by-side result under its labels, its goal checked. */
    const record = (labels: Pick<ApiDataComparison, 'case' | 'unit' | 'baseline' | 'subject' | 'goal'>, r: CompareResult) => {
      const c: ApiDataComparison = {
        ...labels,
        baselineRate: r.baseline.rate,
        subjectRate: r.subject.rate,
        ratio: r.ratio,
        roundRatios: r.roundRatios,
        met: labels.goal === null ? null : r.ratio >= labels.goal,
        p50Ms: { baseline: r.baseline.p50, subject: r.subject.p50 },
      };
      comparisons.push(c);
      log(`  ${c.case}: ${c.subjectRate.toFixed(0)} vs ${c.baselineRate.toFixed(0)} ${c.unit} → ${c.ratio.toFixed(2)}×`);
    };

    // 1. Search over HTTP vs the same raw SQL. Above 10,000 matching rows the API's `auto` strategy asks the HNSW
    //    index (after a bounded count); the raw side runs that ANN query (the repository's SQL) on pg.
    const annSql = `select m.id, m.content, m.kind, m.metadata, m.created_at, (m.embedding <=> $1::vector) as distance
        from memories m where m.organization_id = $2::uuid and (m.expires_at is null or m.expires_at > now()) and m.embedding is not null
        order by distance limit ${K}`;
    const exactSql = `select m.id, 1 - (m.embedding <=> $1::vector) as similarity
        from memories m where m.organization_id = $2::uuid and (m.expires_at is null or m.expires_at > now()) and m.embedding is not null
        order by similarity desc, id limit ${K}`;
    const vectorText = queries.map((q) => toSql(q) as string);
    let qi = 0;
    log('search: HTTP vs raw SQL');
    const search = await compare(
      { name: 'raw', op: async () => (await pool.query(o.rows > 10_000 ? annSql : exactSql, [vectorText[qi++ % queries.length], orgId]), 1) },
      { name: 'api', op: async () => (await http.post('/api/v1/memories/search', key, bodies[qi++ % queries.length]), 1) },
      timing,
    );
    record(
      {
        case: `memory search k=${K}, ${o.rows.toLocaleString('en-US')} rows (HTTP vs raw SQL)`,
        unit: 'queries/s',
        baseline: 'raw pg, same vector query',
        subject: 'POST /api/v1/memories/search',
        goal: 0.5,
      },
      search,
    );

    // 2. Recall and speed through the API: HNSW (strategy ann) vs exact, without and with a 1% filter.
    const recall: ApiDataBenchResult['recall'] = [];
    for (const [name, filter] of [
      ['no filter', undefined],
      ['filter kind=rare (1% of rows)', { kind: 'rare' }],
    ] as const) {
      log(`recall: ${name}`);
      const body = (q: number[], strategy: string) => JSON.stringify({ embedding: q, k: K, strategy, ...(filter ? { filter } : {}) });
      const recalls: number[] = [];
      const autoRecalls: number[] = [];
      for (const q of queries.slice(0, o.queries)) {
        const truth = new Set((await http.post('/api/v1/memories/search', key, body(q, 'exact'))).data.map((r: { id: string }) => r.id));
        const ann = (await http.post('/api/v1/memories/search', key, body(q, 'ann'))).data as Array<{ id: string }>;
        const auto = (await http.post('/api/v1/memories/search', key, body(q, 'auto'))).data as Array<{ id: string }>;
        recalls.push(ann.filter((r) => truth.has(r.id)).length / truth.size);
        autoRecalls.push(auto.filter((r) => truth.has(r.id)).length / truth.size);
      }
      const exactBodies = queries.map((q) => body(q, 'exact'));
      const annBodies = queries.map((q) => body(q, 'ann'));
      let n = 0;
      const speed = await compare(
        { name: 'exact', op: async () => (await http.post('/api/v1/memories/search', key, exactBodies[n++ % queries.length]), 1) },
        { name: 'ann', op: async () => (await http.post('/api/v1/memories/search', key, annBodies[n++ % queries.length]), 1) },
        timing,
      );
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      recall.push({
        case: `through the API, ${name}`,
        queries: recalls.length,
        exactMsPerQuery: 1000 / speed.baseline.rate,
        annMsPerQuery: 1000 / speed.subject.rate,
        speedup: speed.ratio,
        recallAt10: mean(recalls),
        minRecall: Math.min(...recalls),
        autoRecallAt10: mean(autoRecalls),
        goal: 0.95,
        met: mean(recalls) >= 0.95,
      });
      log(`  recall@10 ann ${mean(recalls).toFixed(3)} (auto ${mean(autoRecalls).toFixed(3)}), ann ${speed.subject.rate.toFixed(0)} q/s vs exact ${speed.baseline.rate.toFixed(0)} q/s`);
    }

    // 3. Payment creation: HTTP (Idempotency-Key claim, validation, insert, audit entry, one transaction) vs raw INSERT.
    log('payments: HTTP vs raw INSERT');
    const paymentBody = JSON.stringify({ amount: '12.34', currency: 'USD', description: 'bench' });
    const rawPaymentOp = {
      name: 'raw',
      op: async () => (
        await pool.query(
          `insert into payments (id, organization_id, amount, currency, status, refunded_amount, metadata, idempotency_key, request_hash, created_at, updated_at)
           values (gen_random_uuid(), $1::uuid, 12.34, 'USD', 'pending', 0, '{}', $2, 'bench', now(), now())`,
          [orgId, randomUUID()],
        ),
        1
      ),
    };
    const apiPaymentOp = { name: 'api', op: async () => (await http.post('/api/v1/payments', key, paymentBody, { 'idempotency-key': randomUUID() }), 1) };
    const payments = await compare(rawPaymentOp, apiPaymentOp, timing);
    record(
      {
        case: 'payment creation (HTTP vs raw INSERT)',
        unit: 'payments/s',
        baseline: 'raw pg INSERT',
        subject: 'POST /api/v1/payments',
        goal: 0.25,
      },
      payments,
    );
    // The same payment through the bare Fastify server on the API's data layer (bare-api-server.ts: the same
    // repository statement, audit entry and sealing; no NestJS, validation, Idempotency-Key interceptor or logging):
    // API vs bare is what the framework costs on this write, bare vs raw INSERT what Fastify and the data layer do.
    log('payments: API vs bare Fastify + the same data layer, and bare vs raw INSERT');
    const bare = await ApiChild.start('bare api', o.root, { DATABASE_URL: o.url, DATABASE_POOL_SIZE: String(o.poolSize), AGENTHUB_ADMIN_TOKEN: ADMIN_TOKEN }, BARE_API_ENTRY);
    try {
      const httpBare = new Client(bare.baseUrl, o.concurrency + 2);
      const bareOp = { name: 'bare', op: async () => (await httpBare.post('/api/v1/payments', key, paymentBody, { 'idempotency-key': randomUUID() }), 1) };
      const vsBare = await compare(bareOp, apiPaymentOp, timing);
      record(
        {
          case: 'payment creation, API vs bare server',
          unit: 'payments/s',
          baseline: 'bare Fastify + pg, same SQL',
          subject: 'POST /api/v1/payments',
          goal: null,
        },
        vsBare,
      );
      const bareVsRaw = await compare(rawPaymentOp, bareOp, timing);
      record(
        {
          case: 'payment creation, bare server vs raw INSERT',
          unit: 'payments/s',
          baseline: 'raw pg INSERT',
          subject: 'bare Fastify + pg, same SQL',
          goal: null,
        },
        bareVsRaw,
      );
      httpBare.close();
    } finally {
      await bare.stop();
    }

    // 4. Embeddings: JSON numbers vs base64 (batches into an organization of their own; searches over the seeded one).
    const random = seededRandom(20_261_201);
    const batchOrg = await http.post('/api/v1/organizations', ADMIN_TOKEN, JSON.stringify({ name: 'bench-embeddings', ownerEmail: 'owner@embeddings.bench.test' }));
    const embeddingFormats = await embeddingFormatBench({
      baseUrl: api.baseUrl,
      pid: api.pid,
      key,
      batchKey: batchOrg.apiKey.key,
      batchSize: o.batchSize,
      batches: o.batches,
      rounds: Math.min(o.rounds, 4),
      concurrency: o.concurrency,
      sliceMs: o.sliceMs,
      random,
    });

    // 5. Small requests while 30 MiB batches are parsed and written: this API (JSON parse threads), then one parsing
    //    on its main thread (API_JSON_PARSE_THREADS=0), each into an organization of its own.
    const large = largeBatchBody(random);
    const stalls: StallRow[] = [];
    log(`small requests while ${o.largeBatches} batches of ${(Buffer.byteLength(large) / 1024 / 1024).toFixed(1)} MiB are sent, per API`);
    const stallOrg = await http.post('/api/v1/organizations', ADMIN_TOKEN, JSON.stringify({ name: 'bench-stall', ownerEmail: 'owner@stall.bench.test' }));
    const stall = { concurrency: o.concurrency, aloneMs: o.sliceMs * 2, batches: o.largeBatches, senders: 1, body: large };
    stalls.push(await stallBench({ ...stall, name: 'JSON parse threads (default)', baseUrl: api.baseUrl, key: stallOrg.apiKey.key }));
    await api.stop();
    api = await ApiChild.start('api-no-parse-threads', o.root, {
      DATABASE_URL: o.url,
      DATABASE_POOL_SIZE: String(o.poolSize),
      AGENTHUB_ADMIN_TOKEN: ADMIN_TOKEN,
      API_JSON_PARSE_THREADS: '0',
    });
    stalls.push(await stallBench({ ...stall, name: 'parsing on the main thread (API_JSON_PARSE_THREADS=0)', baseUrl: api.baseUrl, key: stallOrg.apiKey.key }));
    return { rows: o.rows, dimensions: DIMENSIONS, comparisons, recall, embeddingFormats, stalls };
  } finally {
    client.current?.close();
    await api?.stop();
    await pool.end();
  }
}

export function apiDataBenchReport(r: ApiDataBenchResult): string {
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  const lines = [
    `## API data routes (${r.rows.toLocaleString('en-US')} memories, ${r.dimensions} dimensions)`,
    '',
    '| case | baseline | subject | ratio [min–max] | goal | met? |',
    '|:--|--:|--:|--:|--:|--:|',
    ...r.comparisons.map(
      (c) =>
        `| ${c.case} | ${fmt(c.baselineRate)} ${c.unit} (p50 ${c.p50Ms.baseline.toFixed(1)} ms) | ${fmt(c.subjectRate)} ${c.unit} (p50 ${c.p50Ms.subject.toFixed(1)} ms) | ` +
        `${c.ratio.toFixed(2)}× [${Math.min(...c.roundRatios).toFixed(2)}–${Math.max(...c.roundRatios).toFixed(2)}] | ${c.goal === null ? '—' : `≥ ${c.goal}×`} | ${c.met === null ? '—' : c.met ? 'yes' : 'NO'} |`,
    ),
    '',
    '| recall case | queries | exact ms/q | HNSW ms/q | speed-up | recall@10 HNSW (min) | recall@10 auto | goal | met? |',
    '|:--|--:|--:|--:|--:|--:|--:|--:|--:|',
    ...r.recall.map(
      (x) =>
        `| ${x.case} | ${x.queries} | ${x.exactMsPerQuery.toFixed(2)} | ${x.annMsPerQuery.toFixed(2)} | ${x.speedup.toFixed(2)}× | ${x.recallAt10.toFixed(3)} (${x.minRecall.toFixed(1)}) | ${x.autoRecallAt10.toFixed(3)} | ≥ ${x.goal} | ${x.met ? 'yes' : 'NO'} |`,
    ),
    embeddingsReport(r.embeddingFormats, r.stalls),
  ];
  return lines.join('\n');
}
