/**
 * Embeddings over HTTP (part of the api-data suite, a report, not a test):
 * 1. JSON numbers vs base64 float32 on the batch and search paths, and in a memory read: bytes on the wire and CPU
 *    milliseconds of the API process per request (/proc/<pid>/stat: every thread, the JSON parse threads included),
 *    both sides alternating in the same run;
 * 2. small requests while 30 MiB batches are parsed and written: p50/p99/max of a small GET at the suite's
 *    concurrency, alone and while batches of 1,000 full-precision float memories are sent back to back, with the
 *    API's JSON parse threads and, in a second API process, without them (API_JSON_PARSE_THREADS=0).
 */
import fs from 'node:fs';
import http from 'node:http';
import { log } from './report';

const DIMENSIONS = 1536;
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** CPU time (user + system, ms) of one process and all its threads, from /proc/<pid>/stat (USER_HZ = 100). */
export function processCpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

export interface Sent {
  status: number;
  requestBytes: number;
  responseBytes: number;
  ms: number;
  text: string;
}

/** One request on a keep-alive agent; the body is sent as given (bytes counted as they go on the wire). */
export function send(agent: http.Agent, baseUrl: string, method: string, path: string, key: string, body?: string): Promise<Sent> {
  const started = nowMs();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { authorization: `Bearer ${key}` };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const req = http.request(baseUrl + path, { method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, requestBytes: body === undefined ? 0 : Buffer.byteLength(body), responseBytes: raw.length, ms: nowMs() - started, text: raw.toString('utf8') });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Full-precision embedding values, as an embedding API's JSON has them (~17 significant digits). */
export function fullPrecisionVector(random: () => number): number[] {
  return Array.from({ length: DIMENSIONS }, () => (random() * 2 - 1) * 0.05);
}

/** Little-endian float32, base64: `encoding_format: "base64"` of the embedding APIs. */
export function base64Embedding(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((x, i) => bytes.writeFloatLE(x, i * 4));
  return bytes.toString('base64');
}

export interface FormatRow {
  path: string;
  format: 'float' | 'base64';
  requests: number;
  /** bytes of one request body (mean) */
  requestBytes: number;
  responseBytes: number;
  cpuMsPerRequest: number;
  p50Ms: number;
  requestsPerSecond: number;
}

interface FormatCase {
  path: string;
  /** one request of the given format; `worker` picks among the prepared bodies */
  run(format: 'float' | 'base64', worker: number, i: number): Promise<Sent>;
  concurrency: number;
  /** per side and round: a number of requests (batches) or a time slice (ms) */
  per: { requests: number } | { ms: number };
}

/** Both formats of a case in alternating rounds (float, base64, base64, float, …), CPU of the API read around each. */
async function measureFormats(pid: number, c: FormatCase, rounds: number): Promise<FormatRow[]> {
  const acc = new Map<'float' | 'base64', { requests: number; requestBytes: number; responseBytes: number; cpu: number; seconds: number; lat: number[] }>();
  for (const f of ['float', 'base64'] as const) acc.set(f, { requests: 0, requestBytes: 0, responseBytes: 0, cpu: 0, seconds: 0, lat: [] });
  // Warm-up, not counted.
  for (const f of ['float', 'base64'] as const) await c.run(f, 0, 0);
  for (let r = 0; r < rounds; r++) {
    for (const format of r % 2 === 0 ? (['float', 'base64'] as const) : (['base64', 'float'] as const)) {
      const a = acc.get(format)!;
      const cpu0 = processCpuMs(pid);
      const t0 = nowMs();
      let issued = 0;
      await Promise.all(
        Array.from({ length: c.concurrency }, async (_, w) => {
          for (;;) {
            if ('requests' in c.per ? issued >= c.per.requests : nowMs() - t0 >= c.per.ms) return;
            const i = issued++;
            const sent = await c.run(format, w, i);
            if (sent.status >= 300) throw new Error(`${c.path} (${format}): ${sent.status} ${sent.text.slice(0, 300)}`);
            a.requests++;
            a.requestBytes += sent.requestBytes;
            a.responseBytes += sent.responseBytes;
            a.lat.push(sent.ms);
          }
        }),
      );
      a.seconds += (nowMs() - t0) / 1000;
      a.cpu += processCpuMs(pid) - cpu0;
    }
  }
  return (['float', 'base64'] as const).map((format) => {
    const a = acc.get(format)!;
    const lat = a.lat.sort((x, y) => x - y);
    return {
      path: c.path,
      format,
      requests: a.requests,
      requestBytes: a.requestBytes / a.requests,
      responseBytes: a.responseBytes / a.requests,
      cpuMsPerRequest: a.cpu / a.requests,
      p50Ms: lat[Math.floor(lat.length / 2)],
      requestsPerSecond: a.requests / a.seconds,
    };
  });
}

export interface EmbeddingFormatOptions {
  baseUrl: string;
  pid: number;
  /** key of the organization searched and read */
  key: string;
  /** key of the organization the batches go to */
  batchKey: string;
  /** memories per batch request */
  batchSize: number;
  /** batch requests per format and round */
  batches: number;
  rounds: number;
  concurrency: number;
  sliceMs: number;
  random: () => number;
}

/** JSON numbers vs base64 on the batch, search and memory-read paths. */
export async function embeddingFormatBench(o: EmbeddingFormatOptions): Promise<FormatRow[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency + 2 });
  try {
    // Batches: a few distinct bodies, the same values in both formats.
    const batchVectors = Array.from({ length: 2 }, () => Array.from({ length: o.batchSize }, () => fullPrecisionVector(o.random)));
    const batchBody = (format: 'float' | 'base64', i: number) =>
      JSON.stringify({
        memories: batchVectors[i % batchVectors.length].map((v, j) => ({ content: `bench batch memory ${j}`, kind: 'bench-batch', embedding: format === 'float' ? v : base64Embedding(v) })),
      });
    const batchBodies = { float: [0, 1].map((i) => batchBody('float', i)), base64: [0, 1].map((i) => batchBody('base64', i)) };
    const queries = Array.from({ length: 32 }, () => fullPrecisionVector(o.random));
    const searchBodies = {
      float: queries.map((q) => JSON.stringify({ embedding: q, k: 10 })),
      base64: queries.map((q) => JSON.stringify({ embedding: base64Embedding(q), k: 10 })),
    };
    const one = await send(agent, o.baseUrl, 'POST', '/api/v1/memories', o.key, JSON.stringify({ content: 'read me', embedding: queries[0] }));
    const memoryId = (JSON.parse(one.text) as { id: string }).id;

    const rows: FormatRow[] = [];
    log(`embedding formats: batch of ${o.batchSize} (${o.batches} per format and round, one at a time)`);
    rows.push(
      ...(await measureFormats(
        o.pid,
        { path: `POST /memories/batch (${o.batchSize} memories)`, concurrency: 1, per: { requests: o.batches }, run: (f, _w, i) => send(agent, o.baseUrl, 'POST', '/api/v1/memories/batch', o.batchKey, batchBodies[f][i % 2]) },
        o.rounds,
      )),
    );
    log(`embedding formats: search, ${o.concurrency} concurrent`);
    rows.push(
      ...(await measureFormats(
        o.pid,
        { path: 'POST /memories/search (k=10)', concurrency: o.concurrency, per: { ms: o.sliceMs }, run: (f, w, i) => send(agent, o.baseUrl, 'POST', '/api/v1/memories/search', o.key, searchBodies[f][(w * 7 + i) % queries.length]) },
        o.rounds,
      )),
    );
    log(`embedding formats: memory read (?embeddingFormat), ${o.concurrency} concurrent`);
    rows.push(
      ...(await measureFormats(
        o.pid,
        { path: 'GET /memories/:id (embedding in the response)', concurrency: o.concurrency, per: { ms: o.sliceMs }, run: (f) => send(agent, o.baseUrl, 'GET', `/api/v1/memories/${memoryId}?embeddingFormat=${f}`, o.key) },
        o.rounds,
      )),
    );
    for (const r of rows) log(`  ${r.path} ${r.format}: ${(r.requestBytes / 1024).toFixed(1)} KiB, ${r.cpuMsPerRequest.toFixed(2)} ms CPU/request, p50 ${r.p50Ms.toFixed(1)} ms`);
    return rows;
  } finally {
    agent.destroy();
  }
}

export interface StallRow {
  api: string;
  /** small requests: alone, then while the batches ran */
  alone: Latency;
  duringBatches: Latency;
  batches: number;
  batchBytes: number;
  batchP50Ms: number;
}

export interface Latency {
  requests: number;
  p50: number;
  p99: number;
  max: number;
}

function latency(ms: number[]): Latency {
  const s = [...ms].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { requests: s.length, p50: at(0.5), p99: at(0.99), max: s[s.length - 1] };
}

export interface StallOptions {
  name: string;
  baseUrl: string;
  key: string;
  concurrency: number;
  /** how long the small requests run alone first */
  aloneMs: number;
  /** batches sent one after the other while the small requests run */
  batches: number;
  /** concurrent batch senders */
  senders: number;
  body: string;
}

/** p50/p99/max of a small GET (the caller's organization) alone and while 30 MiB batches are parsed and written. */
export async function stallBench(o: StallOptions): Promise<StallRow> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency + o.senders + 1 });
  try {
    const small = async (until: () => boolean) => {
      const ms: number[] = [];
      await Promise.all(
        Array.from({ length: o.concurrency }, async () => {
          while (!until()) {
            const r = await send(agent, o.baseUrl, 'GET', '/api/v1/organization', o.key);
            if (r.status !== 200) throw new Error(`small request: ${r.status} ${r.text.slice(0, 200)}`);
            ms.push(r.ms);
          }
        }),
      );
      return ms;
    };
    await small(((end) => () => nowMs() > end)(nowMs() + 1000)); // warm-up
    const aloneEnd = nowMs() + o.aloneMs;
    const alone = await small(() => nowMs() > aloneEnd);

    let left = o.batches;
    let running = true;
    const batchMs: number[] = [];
    const senders = Promise.all(
      Array.from({ length: o.senders }, async () => {
        while (left > 0) {
          left--;
          const r = await send(agent, o.baseUrl, 'POST', '/api/v1/memories/batch', o.key, o.body);
          if (r.status !== 201) throw new Error(`batch: ${r.status} ${r.text.slice(0, 200)}`);
          batchMs.push(r.ms);
        }
      }),
    ).finally(() => (running = false));
    const during = await small(() => !running);
    await senders;
    const row = { api: o.name, alone: latency(alone), duringBatches: latency(during), batches: o.batches, batchBytes: Buffer.byteLength(o.body), batchP50Ms: latency(batchMs).p50 };
    log(
      `  ${o.name}: small p50/p99/max ${row.alone.p50.toFixed(1)}/${row.alone.p99.toFixed(1)}/${row.alone.max.toFixed(0)} ms alone, ` +
        `${row.duringBatches.p50.toFixed(1)}/${row.duringBatches.p99.toFixed(1)}/${row.duringBatches.max.toFixed(0)} ms during ${o.batches} batches of ${(row.batchBytes / 1024 / 1024).toFixed(1)} MiB`,
    );
    return row;
  } finally {
    agent.destroy();
  }
}

/** A batch of 1,000 memories with full-precision JSON number embeddings (~33 MiB). */
export function largeBatchBody(random: () => number, size = 1000): string {
  return JSON.stringify({ memories: Array.from({ length: size }, (_, i) => ({ content: `large batch memory ${i}`, kind: 'bench-large', embedding: fullPrecisionVector(random) })) });
}

export function embeddingsReport(formats: FormatRow[], stalls: StallRow[]): string {
  const lines = ['', '### Embeddings: JSON numbers vs base64 float32 (same values, alternating rounds)', '', '| path | format | request body | response body | API CPU ms/request | p50 ms | requests/s |', '|:--|:--|--:|--:|--:|--:|--:|'];
  for (const r of formats) {
    const kib = (n: number) => (n >= 1024 * 1024 ? `${(n / 1024 / 1024).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`);
    lines.push(`| ${r.path} | ${r.format} | ${kib(r.requestBytes)} | ${kib(r.responseBytes)} | ${r.cpuMsPerRequest.toFixed(2)} | ${r.p50Ms.toFixed(1)} | ${r.requestsPerSecond.toFixed(1)} |`);
  }
  const byPath = new Map<string, FormatRow[]>();
  for (const r of formats) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
  lines.push('', '| path | base64 / float: body bytes (request; response for the read) | base64 / float: API CPU per request |', '|:--|--:|--:|');
  for (const [path, [float, base64]] of byPath) {
    const bytes = float.requestBytes > 0 ? base64.requestBytes / float.requestBytes : base64.responseBytes / float.responseBytes;
    lines.push(`| ${path} | ${bytes.toFixed(2)}× | ${(base64.cpuMsPerRequest / float.cpuMsPerRequest).toFixed(2)}× |`);
  }
  lines.push('', '### Small requests (GET /organization) while 30 MiB batches are parsed and written', '', '| API | alone p50 / p99 / max ms | during batches p50 / p99 / max ms | requests during | batches (MiB each, p50 s) |', '|:--|--:|--:|--:|--:|');
  for (const s of stalls) {
    lines.push(
      `| ${s.api} | ${s.alone.p50.toFixed(1)} / ${s.alone.p99.toFixed(1)} / ${s.alone.max.toFixed(0)} | ${s.duringBatches.p50.toFixed(1)} / ${s.duringBatches.p99.toFixed(1)} / ${s.duringBatches.max.toFixed(0)} | ` +
        `${s.duringBatches.requests} | ${s.batches} (${(s.batchBytes / 1024 / 1024).toFixed(1)}, ${(s.batchP50Ms / 1000).toFixed(1)}) |`,
    );
  }
  return lines.join('\n');
}
