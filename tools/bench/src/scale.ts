/**
 * Scale-out benchmark (issue 16 item 5; on demand, not a test): a read-heavy mix through
 *
 *   A: 1 API process, DATABASE_URL straight to the primary (no pooler, no replica), vs
 *   B: 2 API processes, each with DATABASE_URL through PgBouncer (transaction mode, `?pgbouncer=true`),
 *      DATABASE_DIRECT_URL straight to the primary (LISTEN) and DATABASE_READ_URLS the streaming replica;
 *      the load generator spreads requests round-robin over the two (a client-side balancer, no proxy),
 *
 * side by side in one run: the same tenant and rows, the same deterministic request sequence, the same concurrency
 * and the same DATABASE_POOL_SIZE per process, in alternating rounds (A B, B A, …) after a warm-up. For B it also
 * reports how many reads the replica served and how many fell back to the primary because it had not caught up
 * (the APIs' /health/ready counters), the replica lag seen every 200 ms (the APIs' `lagMs` and the primary's
 * pg_stat_replication), and it ends with correctness checks: every acknowledged append is in the database exactly
 * once (on the primary and, once caught up, on the replica), and a read on one API process right after an append on
 * the other sees it (read-your-writes across processes; violations must be 0).
 *
 * Everything runs on one machine: with its 2 cores shared by the load generator, three API processes, PgBouncer
 * and two PostgreSQL servers, B cannot be faster through more hardware. This measures what the pooler and the
 * replica routing cost and whether the routing is correct, not how far the API scales out.
 */
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import pg from 'pg';
import { ApiChild, HttpClient, createConversations, createTenant, messageInputs, type Tenant } from './api';
import { machineFacts, prepareDatabase, rawPool, truncateAll, type MachineFacts } from './db';
import { median } from './harness';
import { fmtNum, log, table } from './report';
import type { ReplicaStatus } from '@agenthub/db';
import { seededRandom } from '@agenthub/db/testing';

export interface ScaleOptions {
  /** the bench database, direct to the primary */
  url: string;
  /** the same database through PgBouncer, with `pgbouncer=true` */
  pooledUrl: string;
  /** the same database on the streaming replica */
  replicaUrl: string;
  /** workspace root: the APIs are started from there */
  root: string;
  /** DATABASE_POOL_SIZE of every API process */
  poolSize: number;
  /** concurrent requests on each side */
  concurrency: number;
  conversations: number;
  /** messages each conversation holds before the load (pages of 50 are real) */
  messagesPerConversation: number;
  /** agents of the tenant (the agents list returns them) */
  agents: number;
  rounds: number;
  sliceMs: number;
  /** warm-up of both sides in total (A B A B, a quarter each) */
  warmupMs: number;
  /** iterations of each read-your-writes probe */
  probeIterations: number;
  /** lag sampling interval */
  sampleMs: number;
  /** PgBouncer's pidfile and ini (setup-pgbouncer.sh), for its CPU time and pool size */
  pgbouncerDir: string;
}

type Kind = 'page' | 'conversation' | 'agents' | 'append';
const KINDS: Kind[] = ['page', 'conversation', 'agents', 'append'];
const READ_KINDS: Kind[] = ['page', 'conversation', 'agents'];

/** The mix: 90 % reads (page 60, conversation 20, agents list 10) and 10 % appends, drawn per request. */
export const MIX: ReadonlyArray<{ kind: Kind; weight: number; request: string }> = [
  { kind: 'page', weight: 0.6, request: 'GET /api/v1/conversations/:id/messages?limit=50' },
  { kind: 'conversation', weight: 0.2, request: 'GET /api/v1/conversations/:id' },
  { kind: 'agents', weight: 0.1, request: 'GET /api/v1/agents?limit=20' },
  { kind: 'append', weight: 0.1, request: 'POST /api/v1/conversations/:id/messages (one message, unique clientId)' },
];
const SEQUENCE_LENGTH = 10_000;
/** Every n-th page answer is parsed and must hold 50 messages (parsing all would load the generator's CPU). */
const PAGE_CHECK_EVERY = 16;
/** application_name of the bench's own connections, left out of the connection counts */
const BENCH_APP = 'agenthub-bench-scale';

interface Op {
  kind: Kind;
  conversation: number;
}

/** One setup under load: its API processes (round robin over their clients) and its cursor in the sequence. */
interface Side {
  key: 'A' | 'B';
  name: string;
  apis: ApiChild[];
  clients: HttpClient[];
  next: number;
  turn: number;
}

interface SideAcc {
  requests: number;
  byKind: Record<Kind, number>;
  errors: number;
  errorsByStatus: Record<string, number>;
  sampleErrors: string[];
  seconds: number;
  lat: Record<Kind, number[]>;
}

export interface LatencyFigures {
  count: number;
  p50: number;
  p99: number;
}

export interface SideResult {
  key: 'A' | 'B';
  name: string;
  processes: number;
  requests: number;
  seconds: number;
  rate: number;
  readsPerSecond: number;
  appendsPerSecond: number;
  /** share of reads among the measured requests */
  readShare: number;
  reads: LatencyFigures;
  appends: LatencyFigures;
  byKind: Record<Kind, LatencyFigures>;
  errors: number;
  errorsByStatus: Record<string, number>;
  sampleErrors: string[];
  /** errors during the warm-up (not in the figures above) */
  warmupErrors: number;
}

export interface ReplicaCounters {
  reads: number;
  behind: number;
}

export interface RoutingResult {
  /** reads B issued during the measured rounds */
  reads: number;
  /** the replica served them (difference of /health/ready's `reads`, both processes) */
  servedByReplica: number;
  /** fell back to the primary: the replica had not replayed every write acknowledged before the read arrived */
  behind: number;
  /** went to the primary without trying the replica (none healthy) or are not counted (errors): the rest */
  primaryOther: number;
  perProcess: Array<{ name: string; before: ReplicaCounters; after: ReplicaCounters; healthyAfter: boolean; reasonAfter: string | null }>;
}

export interface Distribution {
  samples: number;
  /** samples without a value (replay_lag is NULL when the standby has nothing to replay) */
  nulls: number;
  median: number | null;
  max: number | null;
}

export interface LagResult {
  sampleMs: number;
  /** while B's slices ran / while A's slices ran (A writes too: the replica replays them) */
  duringB: { apiLagMs: Distribution; replayLagMs: Distribution; replayBytes: Distribution; pgbouncerWaiting: Distribution; pgbouncerMaxWaitMs: Distribution };
  duringA: { apiLagMs: Distribution; replayLagMs: Distribution; replayBytes: Distribution };
  /** the replica was marked unhealthy by an API in these samples, with the reasons seen */
  unhealthySamples: number;
  unhealthyReasons: string[];
  standbys: string[];
}

export interface CpuRow {
  group: string;
  /** CPU ms per measured request of that side (user + system) */
  a: number | null;
  b: number | null;
}

/** Client connections of one kind: open, and active (state ≠ idle); in the result, the maxima over the samples. */
export interface ConnectionCount {
  open: number;
  active: number;
}

/** Connections while one side ran (all three API processes stay up for the whole run, so both sides' are open). */
export interface ConnectionSnapshot {
  side: 'A' | 'B';
  samples?: number;
  /** on the primary, bench database, the bench's own connections left out */
  primaryDirect: ConnectionCount;
  /** PgBouncer's server connections (backend pids from SHOW SERVERS); null: the admin console did not answer */
  primaryViaPgbouncer: ConnectionCount | null;
  /** the APIs' LISTEN sessions (application_name agenthub-listen), direct */
  primaryListen: ConnectionCount;
  /** on the replica: the B processes' read pools */
  replica: ConnectionCount;
  /** PgBouncer's client connections (B's pools) and those waiting for a server connection */
  pgbouncerClients: number | null;
  pgbouncerWaiting: number | null;
  pgbouncerMaxWaitMs: number | null;
}

export interface ProbeResult {
  name: string;
  iterations: number;
  /** the page read on the other process did not hold the message just acknowledged */
  pageViolations: number;
  /** the conversation read on the other process had messageCount below the message's seq */
  countViolations: number;
  errors: number;
  samples: string[];
  /** the probe's reads: served by the replica / fell back (from /health/ready; under load, mixed with the load's) */
  servedByReplica: number;
  behind: number;
  readP50: number;
}

export interface CorrectnessResult {
  acknowledged: number;
  /** acknowledged appends found exactly once in their conversation (primary) */
  foundOnce: number;
  missing: number;
  duplicated: number;
  wrongConversation: number;
  /** appends that got no 201 (errors) and are in the database anyway (possible: a response lost after commit) */
  unacknowledgedAttempts: number;
  unacknowledgedPresent: number;
  /** conversations whose last_seq / message_count disagree with their rows */
  counterMismatches: number;
  /** the replica, caught up, holds the same (conversation, clientId) counts as the primary */
  replicaCaughtUpMs: number | null;
  replicaAgrees: boolean | null;
  samples: string[];
  ok: boolean;
}

export interface ScaleResult {
  facts: MachineFacts & { pgbouncerPoolSize: string; cpus: number; loadAverage: string };
  options: Omit<ScaleOptions, 'url' | 'pooledUrl' | 'replicaUrl' | 'root'>;
  mix: typeof MIX;
  sides: { a: SideResult; b: SideResult };
  /** median of the per-round B/A request-rate ratios, with every round's */
  ratio: number;
  roundRatios: number[];
  routing: RoutingResult;
  lag: LagResult;
  connections: ConnectionSnapshot[];
  cpu: CpuRow[];
  probes: ProbeResult[];
  correctness: CorrectnessResult;
}

// ------------------------------------------------------------------------------------------------------------------
// Child processes: every API started here, so that a failure or Ctrl-C anywhere stops them all.

const started = new Set<ApiChild>();

async function startApis(specs: Array<{ name: string; env: Record<string, string> }>, root: string): Promise<ApiChild[]> {
  const results = await Promise.allSettled(specs.map((s) => ApiChild.start(s.name, root, s.env)));
  for (const r of results) if (r.status === 'fulfilled') started.add(r.value);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<ApiChild>).value);
}

/** Stops every API process this module started (idempotent). */
export async function stopAllApis(): Promise<void> {
  const apis = [...started];
  started.clear();
  await Promise.all(apis.map((a) => a.stop().catch(() => undefined)));
}

// ------------------------------------------------------------------------------------------------------------------
// The load.

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function figures(lat: number[]): LatencyFigures {
  const s = [...lat].sort((x, y) => x - y);
  return { count: s.length, p50: percentile(s, 50), p99: percentile(s, 99) };
}

function newAcc(): SideAcc {
  return {
    requests: 0,
    byKind: { page: 0, conversation: 0, agents: 0, append: 0 },
    errors: 0,
    errorsByStatus: {},
    sampleErrors: [],
    seconds: 0,
    lat: { page: [], conversation: [], agents: [], append: [] },
  };
}

/** The request sequence both sides walk, from a seeded generator: the same kinds and conversations in the same order. */
export function mixSequence(seed: number, conversations: number, length = SEQUENCE_LENGTH): Op[] {
  const random = seededRandom(seed);
  return Array.from({ length }, () => {
    let x = random();
    let kind: Kind = MIX[MIX.length - 1].kind;
    for (const m of MIX) {
      if (x < m.weight) {
        kind = m.kind;
        break;
      }
      x -= m.weight;
    }
    return { kind, conversation: Math.floor(random() * conversations) };
  });
}

interface Ack {
  clientId: string;
  conversationId: string;
  id: string;
  seq: number;
}

/** Appends acknowledged (201) and attempted without acknowledgement, over the whole run. */
class AppendLog {
  readonly acked: Ack[] = [];
  readonly unacked: Array<{ clientId: string; conversationId: string }> = [];
  private n = 0;
  constructor(private readonly run: string) {}
  nextClientId(tag: string): string {
    return `scale-${this.run}-${tag}-${this.n++}`;
  }
}

interface Workload {
  tenant: Tenant;
  conversations: string[];
  sequence: Op[];
  /** message bodies without their closing brace: `,"clientId":"…"}` completes them */
  bodyPrefixes: string[];
  appends: AppendLog;
}

class RequestError extends Error {
  constructor(
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Request `turn` of the sequence on the side's next process (round robin); throws a RequestError unless it is a 2xx
 * (and, for an append, unless the answer is the message sent).
 */
async function execute(side: Side, turn: number, op: Op, w: Workload): Promise<void> {
  const client = side.clients[side.next++ % side.clients.length];
  const conversationId = w.conversations[op.conversation];
  const key = w.tenant.key;
  const fail: (status: number | string, text: string) => never = (status, text) => {
    throw new RequestError(String(status), `${side.key} ${op.kind}: ${status} ${text.slice(0, 200)}`);
  };
  const send = async (method: string, path: string, body?: string) => {
    try {
      return await client.request(method, path, key, body);
    } catch (error) {
      return fail('network', (error as Error).message);
    }
  };
  if (op.kind === 'append') {
    const clientId = w.appends.nextClientId(side.key);
    const body = `${w.bodyPrefixes[turn % w.bodyPrefixes.length]},"clientId":"${clientId}"}`;
    let res: { status: number; text: string };
    try {
      res = await send('POST', `/api/v1/conversations/${conversationId}/messages`, body);
    } catch (error) {
      w.appends.unacked.push({ clientId, conversationId });
      throw error;
    }
    if (res.status !== 201) {
      w.appends.unacked.push({ clientId, conversationId });
      fail(res.status, res.text);
    }
    let m: { id: string; seq: number; clientId: string | null } | undefined;
    try {
      m = (JSON.parse(res.text) as { data: Array<{ id: string; seq: number; clientId: string | null }> }).data[0];
    } catch {
      m = undefined;
    }
    if (m?.clientId !== clientId) {
      w.appends.unacked.push({ clientId, conversationId });
      fail('bad body', `the answer is not the message sent: ${res.text.slice(0, 200)}`);
    }
    w.appends.acked.push({ clientId, conversationId, id: m.id, seq: m.seq });
    return;
  }
  const path =
    op.kind === 'page' ? `/api/v1/conversations/${conversationId}/messages?limit=50` : op.kind === 'conversation' ? `/api/v1/conversations/${conversationId}` : '/api/v1/agents?limit=20';
  const res = await send('GET', path);
  if (res.status !== 200) fail(res.status, res.text);
  if (op.kind === 'page' && turn % PAGE_CHECK_EVERY === 0) {
    const n = (JSON.parse(res.text) as { data: unknown[] }).data.length;
    if (n !== 50) fail('bad body', `page of ${n} messages, not 50`);
  }
}

/** `concurrency` workers walking the side's sequence until `ms` passed or `stop.stopped`; latencies into `acc`. */
async function runSlice(side: Side, w: Workload, ms: number, concurrency: number, acc: SideAcc, stop: { stopped: boolean } = { stopped: false }) {
  const start = nowMs();
  const deadline = start + ms;
  const rates = { ops: 0, ok: 0 };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (!stop.stopped && nowMs() < deadline) {
        const turn = side.turn++;
        const op = w.sequence[turn % w.sequence.length];
        const t0 = nowMs();
        acc.requests++;
        acc.byKind[op.kind]++;
        rates.ops++;
        try {
          await execute(side, turn, op, w);
          acc.lat[op.kind].push(nowMs() - t0);
          rates.ok++;
        } catch (error) {
          acc.errors++;
          const status = error instanceof RequestError ? error.status : 'exception';
          acc.errorsByStatus[status] = (acc.errorsByStatus[status] ?? 0) + 1;
          if (acc.sampleErrors.length < 5) acc.sampleErrors.push((error as Error).message);
        }
      }
    }),
  );
  const seconds = (nowMs() - start) / 1000;
  acc.seconds += seconds;
  return { ops: rates.ops, ok: rates.ok, seconds };
}

// ------------------------------------------------------------------------------------------------------------------
// Observation: /health/ready, pg_stat_replication, PgBouncer's SHOW POOLS, /proc.

/** A replica's state as /health/ready lists it. */
type ReplicaStatusView = ReplicaStatus;

function getJson<T>(baseUrl: string, path: string, timeoutMs = 5000): Promise<{ status: number; body: T | null; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(baseUrl + path, { timeout: timeoutMs, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let body: T | null = null;
        try {
          body = JSON.parse(text) as T;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, body, text });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function replicaStatus(api: ApiChild): Promise<ReplicaStatusView> {
  const res = await getJson<{ replicas?: ReplicaStatusView[] }>(api.baseUrl, '/health/ready');
  if (res.status !== 200) throw new Error(`${api.name}: /health/ready ${res.status} ${res.text.slice(0, 300)}`);
  const replicas = res.body?.replicas ?? [];
  if (replicas.length !== 1) throw new Error(`${api.name}: /health/ready lists ${replicas.length} replicas, expected 1: ${res.text.slice(0, 300)}`);
  return replicas[0];
}

async function countersOf(apis: ApiChild[]): Promise<ReplicaStatusView[]> {
  return Promise.all(apis.map(replicaStatus));
}

const sumOf = (xs: ReplicaStatusView[], k: 'reads' | 'behind') => xs.reduce((a, x) => a + x[k], 0);

interface LagSample {
  phase: 'A' | 'B';
  apiLag: Array<number | null>;
  unhealthy: string[];
  replication: Array<{ app: string; state: string; replayLagMs: number | null; bytes: number | null }>;
  pgbouncer: { waiting: number; maxWaitMs: number } | null;
  connections: ConnectionSnapshot;
}

/**
 * Samples every `ms` while a side runs: the B processes' `lagMs` (/health/ready), pg_stat_replication on the primary,
 * the connections on both servers (pg_stat_activity) and PgBouncer's pools.
 */
class LagSampler {
  readonly samples: LagSample[] = [];
  phase: 'A' | 'B' | null = null;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  readonly errors: string[] = [];

  constructor(
    private readonly primary: pg.Client,
    private readonly replica: pg.Client,
    private readonly apis: ApiChild[],
    private readonly pgbouncer: PgBouncerConsole | null,
    private readonly database: string,
    private readonly ms: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.ms);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    const phase = this.phase;
    if (this.busy || phase === null) return;
    this.busy = true;
    try {
      const [statuses, replication, connections] = await Promise.all([
        countersOf(this.apis),
        this.primary.query<{ app: string; state: string; replay_lag_ms: number | null; bytes: string | null }>(
          `select application_name as app, state, extract(epoch from replay_lag) * 1000 as replay_lag_ms,
                  pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text as bytes
             from pg_stat_replication`,
        ),
        connectionSnapshot(phase, this.primary, this.replica, this.pgbouncer, this.database),
      ]);
      if (this.phase !== phase) return; // the phase changed while the sample was taken: drop it
      this.samples.push({
        phase,
        apiLag: statuses.map((s) => s.lagMs),
        unhealthy: statuses.filter((s) => !s.healthy).map((s) => s.reason ?? 'unhealthy'),
        replication: replication.rows.map((r) => ({
          app: r.app,
          state: r.state,
          replayLagMs: r.replay_lag_ms === null ? null : Number(r.replay_lag_ms),
          bytes: r.bytes === null ? null : Number(r.bytes),
        })),
        pgbouncer: connections.pgbouncerWaiting === null ? null : { waiting: connections.pgbouncerWaiting, maxWaitMs: connections.pgbouncerMaxWaitMs ?? 0 },
        connections,
      });
    } catch (error) {
      if (this.errors.length < 5) this.errors.push((error as Error).message);
    } finally {
      this.busy = false;
    }
  }
}

/** PgBouncer's admin console (the virtual `pgbouncer` database), for SHOW POOLS. */
class PgBouncerConsole {
  private constructor(private readonly client: pg.Client) {}

  static async connect(pooledUrl: string): Promise<PgBouncerConsole | null> {
    const u = new URL(pooledUrl);
    u.pathname = '/pgbouncer';
    u.search = '';
    const client = new pg.Client({ connectionString: u.toString() });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SHOW POOLS');
      return new PgBouncerConsole(client);
    } catch (error) {
      log(`PgBouncer admin console unavailable (${(error as Error).message}): no pool figures`);
      await client.end().catch(() => undefined);
      return null;
    }
  }

  async pool(database: string): Promise<{ clActive: number; clWaiting: number; svActive: number; svIdle: number; svUsed: number; maxWaitMs: number } | null> {
    const { rows } = await this.client.query<Record<string, string>>('SHOW POOLS');
    const row = rows.find((r) => r.database === database && r.user === 'postgres');
    if (!row) return null;
    const n = (k: string) => Number(row[k] ?? 0);
    return {
      clActive: n('cl_active'),
      clWaiting: n('cl_waiting'),
      svActive: n('sv_active'),
      svIdle: n('sv_idle'),
      svUsed: n('sv_used'),
      maxWaitMs: n('maxwait') * 1000 + n('maxwait_us') / 1000,
    };
  }

  /** Backend pids of PgBouncer's server connections to `database`. */
  async serverPids(database: string): Promise<number[]> {
    const { rows } = await this.client.query<Record<string, string>>('SHOW SERVERS');
    return rows.filter((r) => r.database === database).map((r) => Number(r.remote_pid)).filter((pid) => pid > 0);
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/** CPU ms (user + system) of one process from /proc/<pid>/stat, null when it is gone (USER_HZ = 100). */
function procCpuMs(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}

/** The postmaster of a data directory (Debian: `postgres -D <dir> -c config_file=…`) and its children. */
function clusterPids(dataDir: string): number[] {
  const procs: Array<{ pid: number; ppid: number }> = [];
  let postmaster: number | null = null;
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!comm.startsWith('postgres')) continue;
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      procs.push({ pid: Number(entry), ppid });
      const args = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      const d = args.indexOf('-D');
      if (d >= 0 && args[d + 1]?.replace(/\/+$/, '') === dataDir.replace(/\/+$/, '')) postmaster = Number(entry);
    } catch {
      // gone
    }
  }
  if (postmaster === null) return [];
  return [postmaster, ...procs.filter((p) => p.ppid === postmaster).map((p) => p.pid)];
}

interface CpuGroups {
  names: string[];
  /** pids of each group now (backends come and go) */
  pids(): number[][];
}

type CpuSnapshot = { perPid: Array<Map<number, number>>; self: NodeJS.CpuUsage };

function cpuSnapshot(groups: CpuGroups): CpuSnapshot {
  return {
    perPid: groups.pids().map((pids) => new Map(pids.flatMap((pid) => {
      const ms = procCpuMs(pid);
      return ms === null ? [] : [[pid, ms] as [number, number]];
    }))),
    self: process.cpuUsage(),
  };
}

/** CPU ms per group between two snapshots; a process that appeared in between counts from 0 (it started then). */
function cpuBetween(before: CpuSnapshot, after: CpuSnapshot): number[] {
  const groups = after.perPid.map((now, g) => {
    let ms = 0;
    for (const [pid, t] of now) ms += t - (before.perPid[g].get(pid) ?? 0);
    return ms;
  });
  const self = process.cpuUsage(before.self);
  return [...groups, (self.user + self.system) / 1000];
}

// ------------------------------------------------------------------------------------------------------------------
// The run.

function dist(values: Array<number | null>): Distribution {
  const xs = values.filter((v): v is number => v !== null && Number.isFinite(v));
  return { samples: values.length, nulls: values.length - xs.length, median: xs.length ? median(xs) : null, max: xs.length ? Math.max(...xs) : null };
}

function sideResult(side: Side, acc: SideAcc, warmupErrors: number): SideResult {
  const reads = READ_KINDS.flatMap((k) => acc.lat[k]);
  const readCount = READ_KINDS.reduce((a, k) => a + acc.byKind[k], 0);
  const ok = KINDS.reduce((a, k) => a + acc.lat[k].length, 0);
  return {
    key: side.key,
    name: side.name,
    processes: side.apis.length,
    requests: acc.requests,
    seconds: acc.seconds,
    rate: ok / acc.seconds,
    readsPerSecond: reads.length / acc.seconds,
    appendsPerSecond: acc.lat.append.length / acc.seconds,
    readShare: readCount / acc.requests,
    reads: figures(reads),
    appends: figures(acc.lat.append),
    byKind: Object.fromEntries(KINDS.map((k) => [k, figures(acc.lat[k])])) as Record<Kind, LatencyFigures>,
    errors: acc.errors,
    errorsByStatus: acc.errorsByStatus,
    sampleErrors: acc.sampleErrors,
    warmupErrors,
  };
}

async function connectionSnapshot(side: 'A' | 'B', primary: pg.Client, replica: pg.Client, pgbouncer: PgBouncerConsole | null, database: string): Promise<ConnectionSnapshot> {
  const sql = `select pid, application_name as app, state from pg_stat_activity
    where datname = $1 and backend_type = 'client backend' and application_name not in ($2, 'agenthub-bench-raw')`;
  type Row = { pid: number; app: string; state: string | null };
  const [p, r, pool, servers] = await Promise.all([
    primary.query<Row>(sql, [database, BENCH_APP]),
    replica.query<Row>(sql, [database, BENCH_APP]),
    pgbouncer ? pgbouncer.pool(database).catch(() => null) : Promise.resolve(null),
    pgbouncer ? pgbouncer.serverPids(database).catch(() => null) : Promise.resolve(null),
  ]);
  const count = (rows: Row[]): ConnectionCount => ({ open: rows.length, active: rows.filter((x) => x.state !== null && x.state !== 'idle').length });
  const viaBouncer = new Set(servers ?? []);
  const listen = p.rows.filter((x) => x.app === 'agenthub-listen');
  const pooled = p.rows.filter((x) => x.app !== 'agenthub-listen' && viaBouncer.has(x.pid));
  const direct = p.rows.filter((x) => x.app !== 'agenthub-listen' && !viaBouncer.has(x.pid));
  return {
    side,
    primaryDirect: count(direct),
    primaryViaPgbouncer: servers ? count(pooled) : null,
    primaryListen: count(listen),
    replica: count(r.rows),
    pgbouncerClients: pool ? pool.clActive + pool.clWaiting : null,
    pgbouncerWaiting: pool ? pool.clWaiting : null,
    pgbouncerMaxWaitMs: pool ? pool.maxWaitMs : null,
  };
}

/** The maxima over a side's samples. */
function maxConnections(side: 'A' | 'B', snaps: ConnectionSnapshot[]): ConnectionSnapshot {
  const maxCount = (pick: (c: ConnectionSnapshot) => ConnectionCount | null): ConnectionCount | null => {
    const xs = snaps.map(pick).filter((c): c is ConnectionCount => c !== null);
    return xs.length ? { open: Math.max(...xs.map((c) => c.open)), active: Math.max(...xs.map((c) => c.active)) } : null;
  };
  const maxOf = (pick: (c: ConnectionSnapshot) => number | null): number | null => {
    const xs = snaps.map(pick).filter((n): n is number => n !== null);
    return xs.length ? Math.max(...xs) : null;
  };
  const none = { open: 0, active: 0 };
  return {
    side,
    samples: snaps.length,
    primaryDirect: maxCount((c) => c.primaryDirect) ?? none,
    primaryViaPgbouncer: maxCount((c) => c.primaryViaPgbouncer),
    primaryListen: maxCount((c) => c.primaryListen) ?? none,
    replica: maxCount((c) => c.replica) ?? none,
    pgbouncerClients: maxOf((c) => c.pgbouncerClients),
    pgbouncerWaiting: maxOf((c) => c.pgbouncerWaiting),
    pgbouncerMaxWaitMs: maxOf((c) => c.pgbouncerMaxWaitMs),
  };
}

/** Append on one process, then at once read on the other: the page and the conversation must show the message. */
async function rywProbe(name: string, b: Side, w: Workload, iterations: number): Promise<Omit<ProbeResult, 'servedByReplica' | 'behind'>> {
  let pageViolations = 0;
  let countViolations = 0;
  let errors = 0;
  const samples: string[] = [];
  const readLat: number[] = [];
  const note = (s: string) => samples.length < 5 && samples.push(s);
  for (let i = 0; i < iterations; i++) {
    const writer = b.clients[i % 2];
    const reader = b.clients[(i + 1) % 2];
    const conversationId = w.conversations[i % w.conversations.length];
    const clientId = w.appends.nextClientId('ryw');
    const body = `${w.bodyPrefixes[i % w.bodyPrefixes.length]},"clientId":"${clientId}"}`;
    const res = await writer.request('POST', `/api/v1/conversations/${conversationId}/messages`, w.tenant.key, body).catch((e: Error) => ({ status: 0, text: e.message }));
    if (res.status !== 201) {
      w.appends.unacked.push({ clientId, conversationId });
      errors++;
      note(`append via ${b.apis[i % 2].name}: ${res.status} ${res.text.slice(0, 200)}`);
      continue;
    }
    const m = (JSON.parse(res.text) as { data: Array<{ id: string; seq: number }> }).data[0];
    w.appends.acked.push({ clientId, conversationId, id: m.id, seq: m.seq });
    const t0 = nowMs();
    const page = await reader.request('GET', `/api/v1/conversations/${conversationId}/messages?afterSeq=${m.seq - 1}&limit=50`, w.tenant.key).catch((e: Error) => ({ status: 0, text: e.message }));
    readLat.push(nowMs() - t0);
    if (page.status !== 200) {
      errors++;
      note(`page via ${b.apis[(i + 1) % 2].name}: ${page.status} ${page.text.slice(0, 200)}`);
    } else if (!(JSON.parse(page.text) as { data: Array<{ id: string }> }).data.some((x) => x.id === m.id)) {
      pageViolations++;
      note(`iteration ${i}: message seq ${m.seq} appended via ${b.apis[i % 2].name} is not in the page read via ${b.apis[(i + 1) % 2].name} right after`);
    }
    const t1 = nowMs();
    const conv = await reader.request('GET', `/api/v1/conversations/${conversationId}`, w.tenant.key).catch((e: Error) => ({ status: 0, text: e.message }));
    readLat.push(nowMs() - t1);
    if (conv.status !== 200) {
      errors++;
      note(`conversation via ${b.apis[(i + 1) % 2].name}: ${conv.status} ${conv.text.slice(0, 200)}`);
    } else {
      const count = (JSON.parse(conv.text) as { messageCount: number }).messageCount;
      if (count < m.seq) {
        countViolations++;
        note(`iteration ${i}: messageCount ${count} < seq ${m.seq} just acknowledged via ${b.apis[i % 2].name}`);
      }
    }
  }
  return { name, iterations, pageViolations, countViolations, errors, samples, readP50: median(readLat) };
}

async function checkCorrectness(primary: pg.Client, replica: pg.Client, w: Workload, conversations: string[]): Promise<CorrectnessResult> {
  const samples: string[] = [];
  const note = (s: string) => samples.length < 5 && samples.push(s);
  const countsSql = `select conversation_id::text as conversation_id, client_id, count(*)::int as n from messages
    where organization_id = $1 and client_id = any($2::text[]) group by 1, 2`;
  const clientIds = [...w.appends.acked.map((a) => a.clientId), ...w.appends.unacked.map((u) => u.clientId)];
  const counts = async (db: pg.Client) => {
    const { rows } = await db.query<{ conversation_id: string; client_id: string; n: number }>(countsSql, [w.tenant.organizationId, clientIds]);
    return rows;
  };
  const rows = await counts(primary);
  const byClient = new Map<string, Array<{ conversation: string; n: number }>>();
  for (const r of rows) byClient.set(r.client_id, [...(byClient.get(r.client_id) ?? []), { conversation: r.conversation_id, n: r.n }]);
  let foundOnce = 0;
  let missing = 0;
  let duplicated = 0;
  let wrongConversation = 0;
  for (const a of w.appends.acked) {
    const found = byClient.get(a.clientId) ?? [];
    const total = found.reduce((s, f) => s + f.n, 0);
    const here = found.find((f) => f.conversation === a.conversationId)?.n ?? 0;
    if (total === 0) {
      missing++;
      note(`acknowledged ${a.clientId} (seq ${a.seq}) is not in the database`);
    } else if (here !== total) {
      wrongConversation++;
      note(`acknowledged ${a.clientId} is in another conversation: ${JSON.stringify(found)}`);
    } else if (total > 1) {
      duplicated++;
      note(`acknowledged ${a.clientId} is there ${total} times`);
    } else foundOnce++;
  }
  let unacknowledgedPresent = 0;
  for (const u of w.appends.unacked) {
    const total = (byClient.get(u.clientId) ?? []).reduce((s, f) => s + f.n, 0);
    if (total > 0) unacknowledgedPresent++;
    if (total > 1) {
      duplicated++;
      note(`unacknowledged ${u.clientId} is there ${total} times`);
    }
  }
  const { rows: counters } = await primary.query<{ id: string; last_seq: number; message_count: number; n: number }>(
    `select c.id, c.last_seq, c.message_count, (select count(*)::int from messages m where m.conversation_id = c.id) as n
       from conversations c where c.id = any($1::uuid[])`,
    [conversations],
  );
  const bad = counters.filter((r) => r.last_seq !== r.n || r.message_count !== r.n);
  for (const r of bad) note(`conversation ${r.id}: last_seq ${r.last_seq}, message_count ${r.message_count}, rows ${r.n}`);

  // The replica, once it has replayed everything the primary has now, holds the same rows.
  const target = (await primary.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn')).rows[0].lsn;
  const t0 = nowMs();
  let replicaCaughtUpMs: number | null = null;
  while (nowMs() - t0 < 15_000) {
    const { rows: r } = await replica.query<{ ok: boolean }>('select pg_last_wal_replay_lsn() >= $1::pg_lsn as ok', [target]);
    if (r[0].ok) {
      replicaCaughtUpMs = nowMs() - t0;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  let replicaAgrees: boolean | null = null;
  if (replicaCaughtUpMs !== null) {
    const key = (r: { conversation_id: string; client_id: string; n: number }) => `${r.conversation_id}/${r.client_id}/${r.n}`;
    const onReplica = new Set((await counts(replica)).map(key));
    const onPrimary = new Set(rows.map(key));
    replicaAgrees = onReplica.size === onPrimary.size && [...onPrimary].every((k) => onReplica.has(k));
    if (!replicaAgrees) note(`the replica holds ${onReplica.size} (conversation, clientId, count) rows, the primary ${onPrimary.size}`);
  } else note('the replica did not catch up with the primary within 15 s');
  return {
    acknowledged: w.appends.acked.length,
    foundOnce,
    missing,
    duplicated,
    wrongConversation,
    unacknowledgedAttempts: w.appends.unacked.length,
    unacknowledgedPresent,
    counterMismatches: bad.length + (counters.length === conversations.length ? 0 : conversations.length - counters.length),
    replicaCaughtUpMs,
    replicaAgrees,
    samples,
    ok: missing === 0 && duplicated === 0 && wrongConversation === 0 && bad.length === 0 && counters.length === conversations.length && replicaAgrees === true,
  };
}

function pgbouncerPoolSize(dir: string): string {
  try {
    const ini = fs.readFileSync(`${dir}/pgbouncer.ini`, 'utf8');
    return /^default_pool_size\s*=\s*(\d+)/m.exec(ini)?.[1] ?? '20 (PgBouncer default)';
  } catch {
    return '?';
  }
}

function pgbouncerPid(dir: string): number | null {
  try {
    const pid = Number(fs.readFileSync(`${dir}/pgbouncer.pid`, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && fs.existsSync(`/proc/${pid}`) ? pid : null;
  } catch {
    return null;
  }
}

export async function runScaleBench(o: ScaleOptions): Promise<ScaleResult> {
  await prepareDatabase(o.url);
  const database = decodeURIComponent(new URL(o.url).pathname.slice(1));
  const pool = rawPool(o.url, 2);
  const primary = new pg.Client({ connectionString: o.url, application_name: BENCH_APP });
  const replica = new pg.Client({ connectionString: o.replicaUrl, application_name: BENCH_APP });
  for (const c of [primary, replica]) c.on('error', () => undefined);
  let pgbouncer: PgBouncerConsole | null = null;
  let sampler: LagSampler | null = null;
  const clients: HttpClient[] = [];
  try {
    await truncateAll(pool);
    await primary.connect();
    await replica.connect();
    const baseFacts = await machineFacts(pool, o.url, o.poolSize);
    const load = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
    const facts = { ...baseFacts, pgbouncerPoolSize: pgbouncerPoolSize(o.pgbouncerDir), cpus: os.cpus().length, loadAverage: `before: ${load()}` };
    log(`machine: ${facts.cpus} CPUs (${facts.cpuModel}), PostgreSQL ${facts.postgres}; DATABASE_POOL_SIZE ${o.poolSize} per API process, concurrency ${o.concurrency}`);
    if (!(await replica.query<{ r: boolean }>('select pg_is_in_recovery() as r')).rows[0].r) throw new Error('the replica is not in recovery (not a standby)');

    log('starting 3 API processes: A (direct to the primary), B1 and B2 (PgBouncer + replica)');
    // Set, even empty, so that nothing of the caller's shell leaks into either setup (empty counts as unset).
    const common = { DATABASE_POOL_SIZE: String(o.poolSize), DATABASE_READ_MAX_LAG_MS: '', RATE_LIMIT_REDIS_URL: '' };
    const envA = { ...common, DATABASE_URL: o.url, DATABASE_DIRECT_URL: '', DATABASE_READ_URLS: '' };
    const envB = { ...common, DATABASE_URL: o.pooledUrl, DATABASE_DIRECT_URL: o.url, DATABASE_READ_URLS: o.replicaUrl };
    const [apiA, apiB1, apiB2] = await startApis(
      [
        { name: 'A', env: envA },
        { name: 'B1', env: envB },
        { name: 'B2', env: envB },
      ],
      o.root,
    );
    const client = (api: ApiChild) => {
      const c = new HttpClient(api.baseUrl, o.concurrency);
      clients.push(c);
      return c;
    };
    const a: Side = { key: 'A', name: '1 API → primary (direct)', apis: [apiA], clients: [client(apiA)], next: 0, turn: 0 };
    const b: Side = { key: 'B', name: '2 APIs → PgBouncer + 1 replica', apis: [apiB1, apiB2], clients: [client(apiB1), client(apiB2)], next: 0, turn: 0 };
    // Both B processes see the replica before the load (their first poll marks it healthy).
    for (const s of await countersOf(b.apis)) if (!s.healthy) log(`note: the replica is not healthy for a B process yet: ${s.reason}`);

    log(`seeding: 1 tenant, ${o.agents} agents, ${o.conversations} conversations of ${o.messagesPerConversation} messages`);
    const http = a.clients[0];
    const tenant = await createTenant(http, 'bench scale');
    for (let i = 1; i < o.agents; i++) await http.json('POST', '/api/v1/agents', tenant.key, { name: `bench scale agent ${i + 1}` });
    const conversations = await createConversations(http, tenant, o.conversations);
    const random = seededRandom(16);
    for (const id of conversations) await http.json('POST', `/api/v1/conversations/${id}/messages`, tenant.key, { messages: messageInputs(o.messagesPerConversation, random) });
    await pool.query('ANALYZE');
    const w: Workload = {
      tenant,
      conversations,
      sequence: mixSequence(5, conversations.length),
      bodyPrefixes: messageInputs(64, random).map((m) => JSON.stringify(m).slice(0, -1)),
      appends: new AppendLog(Date.now().toString(36)),
    };

    log(`warm-up: ${o.warmupMs} ms (A B A B)`);
    const warm = { A: newAcc(), B: newAcc() };
    for (const side of [a, b, a, b]) await runSlice(side, w, o.warmupMs / 4, o.concurrency, warm[side.key]);
    for (const s of [a, b]) if (warm[s.key].errors) log(`warm-up ${s.key}: ${warm[s.key].errors} errors, e.g. ${warm[s.key].sampleErrors[0]}`);
    // The statistics autovacuum would keep (it may be off): the tables grew during the warm-up.
    await pool.query('ANALYZE');

    // CPU groups: the API processes of each side, PgBouncer, each PostgreSQL server, this load generator.
    const [primaryDir, replicaDir] = await Promise.all([primary, replica].map(async (c) => (await c.query<{ d: string }>('select current_setting($1) as d', ['data_directory'])).rows[0].d));
    const bouncerPid = pgbouncerPid(o.pgbouncerDir);
    const groups: CpuGroups = {
      names: ['API A (1 process)', 'APIs B1 + B2', 'PgBouncer', 'PostgreSQL primary (all processes)', 'PostgreSQL replica (all processes)', 'load generator (this process)'],
      pids: () => [[apiA.pid], [apiB1.pid, apiB2.pid], bouncerPid ? [bouncerPid] : [], clusterPids(primaryDir), clusterPids(replicaDir)],
    };
    if (!clusterPids(primaryDir).length || !clusterPids(replicaDir).length) log('note: a PostgreSQL server\'s processes were not found in /proc: its CPU row stays 0');
    const cpu = { A: groups.names.map(() => 0), B: groups.names.map(() => 0) };

    pgbouncer = await PgBouncerConsole.connect(o.pooledUrl);
    sampler = new LagSampler(primary, replica, b.apis, pgbouncer, database, o.sampleMs);
    sampler.start();

    const acc = { A: newAcc(), B: newAcc() };
    const before = await countersOf(b.apis);
    const roundRatios: number[] = [];
    log(`measuring: ${o.rounds} rounds of ${o.sliceMs} ms per side, ${o.concurrency} concurrent`);
    for (let r = 0; r < o.rounds; r++) {
      const rates: Record<'A' | 'B', number> = { A: 0, B: 0 };
      for (const side of r % 2 === 0 ? [a, b] : [b, a]) {
        sampler.phase = side.key;
        const c0 = cpuSnapshot(groups);
        const s = await runSlice(side, w, o.sliceMs, o.concurrency, acc[side.key]);
        const used = cpuBetween(c0, cpuSnapshot(groups));
        used.forEach((ms, g) => (cpu[side.key][g] += ms));
        rates[side.key] = s.ok / s.seconds;
      }
      sampler.phase = null;
      roundRatios.push(rates.B / rates.A);
      log(`  round ${r + 1}/${o.rounds}: A ${fmtNum(rates.A)} req/s, B ${fmtNum(rates.B)} req/s (${roundRatios[r].toFixed(2)}×)`);
    }
    const after = await countersOf(b.apis);
    sampler.stop();
    // 1/5/15-minute load averages: other work on the machine shows up here (and as a wide spread of round ratios).
    facts.loadAverage += `; after the measured rounds: ${load()}`;
    if (sampler.errors.length) log(`lag sampler errors: ${sampler.errors.join(' | ')}`);

    const sides = { a: sideResult(a, acc.A, warm.A.errors), b: sideResult(b, acc.B, warm.B.errors) };
    const bReads = READ_KINDS.reduce((s, k) => s + acc.B.byKind[k], 0);
    const servedByReplica = sumOf(after, 'reads') - sumOf(before, 'reads');
    const behind = sumOf(after, 'behind') - sumOf(before, 'behind');
    const routing: RoutingResult = {
      reads: bReads,
      servedByReplica,
      behind,
      primaryOther: bReads - servedByReplica - behind,
      perProcess: b.apis.map((api, i) => ({
        name: api.name,
        before: { reads: before[i].reads, behind: before[i].behind },
        after: { reads: after[i].reads, behind: after[i].behind },
        healthyAfter: after[i].healthy,
        reasonAfter: after[i].reason,
      })),
    };

    const of = (phase: 'A' | 'B') => sampler!.samples.filter((s) => s.phase === phase);
    const lagOf = (phase: 'A' | 'B') => ({
      apiLagMs: dist(of(phase).flatMap((s) => s.apiLag)),
      replayLagMs: dist(of(phase).flatMap((s) => s.replication.map((x) => x.replayLagMs))),
      replayBytes: dist(of(phase).flatMap((s) => s.replication.map((x) => x.bytes))),
    });
    const lag: LagResult = {
      sampleMs: o.sampleMs,
      duringB: {
        ...lagOf('B'),
        pgbouncerWaiting: dist(of('B').map((s) => s.pgbouncer?.waiting ?? null)),
        pgbouncerMaxWaitMs: dist(of('B').map((s) => s.pgbouncer?.maxWaitMs ?? null)),
      },
      duringA: lagOf('A'),
      unhealthySamples: sampler.samples.filter((s) => s.unhealthy.length).length,
      unhealthyReasons: [...new Set(sampler.samples.flatMap((s) => s.unhealthy))].slice(0, 5),
      standbys: [...new Set(sampler.samples.flatMap((s) => s.replication.map((x) => `${x.app} (${x.state})`)))],
    };

    const connections = (['A', 'B'] as const).map((phase) => maxConnections(phase, of(phase).map((s) => s.connections)));
    const requestsOf = (k: 'A' | 'B') => acc[k].requests;
    // Rows 0 and 1 are the API processes: the measured side's own first, then the other side's (idle meanwhile).
    const cpuRows: CpuRow[] = [
      { group: 'API process(es) under load: A = 1, B = B1 + B2', a: cpu.A[0] / requestsOf('A'), b: cpu.B[1] / requestsOf('B') },
      { group: "the other side's API process(es), idle meanwhile", a: cpu.A[1] / requestsOf('A'), b: cpu.B[0] / requestsOf('B') },
      ...groups.names.slice(2).map((group, i) => ({ group, a: cpu.A[i + 2] / requestsOf('A'), b: cpu.B[i + 2] / requestsOf('B') })),
    ];
    cpuRows.push({ group: 'total', a: cpu.A.reduce((s, x) => s + x, 0) / requestsOf('A'), b: cpu.B.reduce((s, x) => s + x, 0) / requestsOf('B') });

    // Read-your-writes across the two B processes: once on an idle system, once under B's mix.
    log(`read-your-writes probe: ${o.probeIterations} × (append via one B process, page + conversation via the other), idle`);
    const probes: ProbeResult[] = [];
    const p0 = await countersOf(b.apis);
    const idle = await rywProbe('idle', b, w, o.probeIterations);
    const p1 = await countersOf(b.apis);
    probes.push({ ...idle, servedByReplica: sumOf(p1, 'reads') - sumOf(p0, 'reads'), behind: sumOf(p1, 'behind') - sumOf(p0, 'behind') });
    log(`read-your-writes probe under B's mix (${o.concurrency} concurrent in the background)`);
    const stop = { stopped: false };
    const background = newAcc();
    const loadRun = runSlice(b, w, 10 * 60_000, o.concurrency, background, stop);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const q0 = await countersOf(b.apis);
    let loaded: Awaited<ReturnType<typeof rywProbe>>;
    try {
      loaded = await rywProbe('under load', b, w, o.probeIterations);
    } finally {
      stop.stopped = true;
      await loadRun;
    }
    const q1 = await countersOf(b.apis);
    probes.push({ ...loaded, servedByReplica: sumOf(q1, 'reads') - sumOf(q0, 'reads'), behind: sumOf(q1, 'behind') - sumOf(q0, 'behind') });
    if (background.errors) {
      loaded.errors += background.errors;
      probes[1].errors = loaded.errors;
      probes[1].samples.push(...background.sampleErrors.slice(0, 2).map((e) => `background load: ${e}`));
    }

    log('correctness: acknowledged appends vs the database (primary, then the replica once caught up)');
    const correctness = await checkCorrectness(primary, replica, w, conversations);

    return {
      facts,
      options: strip(o),
      mix: MIX,
      sides,
      ratio: median(roundRatios),
      roundRatios,
      routing,
      lag,
      connections,
      cpu: cpuRows,
      probes,
      correctness,
    };
  } finally {
    sampler?.stop();
    for (const c of clients) c.close();
    await stopAllApis();
    await pgbouncer?.close();
    await Promise.all([primary.end().catch(() => undefined), replica.end().catch(() => undefined), pool.end().catch(() => undefined)]);
  }
}

function strip(o: ScaleOptions): ScaleResult['options'] {
  const rest: Partial<ScaleOptions> = { ...o };
  delete rest.url; // may carry a password
  delete rest.pooledUrl;
  delete rest.replicaUrl;
  delete rest.root;
  return rest as ScaleResult['options'];
}

// ------------------------------------------------------------------------------------------------------------------
// The report.

const ms = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? '—' : `${n.toFixed(1)} ms`);
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
const distCells = (d: Distribution, unit: (n: number | null) => string) => [unit(d.median), unit(d.max), `${d.samples}${d.nulls ? ` (${d.nulls} null)` : ''}`];
const bytes = (n: number | null) => (n === null ? '—' : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const num = (n: number | null) => (n === null ? '—' : fmtNum(n));

export function scaleReport(r: ScaleResult): string {
  const { a, b } = r.sides;
  const o = r.options;
  const out: string[] = [];
  out.push('', '## Scale-out: 1 API on the primary (A) vs 2 APIs + PgBouncer + 1 replica (B), read-heavy mix', '');
  out.push(
    `**This machine has ${r.facts.cpus} CPU cores**, shared by the load generator, three API processes, PgBouncer and two PostgreSQL ` +
      'servers: B cannot go faster through more hardware here. These figures measure the overhead of the pooler and the replica ' +
      'routing, and whether the routing is correct — not how far the API scales out.',
  );
  out.push('');
  out.push(
    `Mix per request (seeded sequence, the same on both sides): ${r.mix.map((m) => `${(m.weight * 100).toFixed(0)} % ${m.request}`).join('; ')}. ` +
      `${o.concurrency} concurrent requests per side; ${o.conversations} conversations of ${o.messagesPerConversation} messages and ${o.agents} agents at the start. ` +
      `B's load generator sends requests round-robin to B1 and B2 (a client-side balancer, no proxy in between). ` +
      `${o.rounds} alternating rounds (A B, B A, …) of ${(o.sliceMs / 1000).toFixed(1)} s per side after a ${(o.warmupMs / 1000).toFixed(1)} s warm-up.`,
  );
  out.push('');
  const sideRow = (s: SideResult) => [
    `${s.key}: ${s.name}`,
    fmtNum(s.rate),
    fmtNum(s.readsPerSecond),
    fmtNum(s.appendsPerSecond),
    pct(s.readShare),
    `${ms(s.reads.p50)} / ${ms(s.reads.p99)}`,
    `${ms(s.appends.p50)} / ${ms(s.appends.p99)}`,
    `${s.errors}${s.errors ? ` (${Object.entries(s.errorsByStatus).map(([k, v]) => `${k}: ${v}`).join(', ')})` : ''}`,
    String(s.warmupErrors),
  ];
  out.push(
    table(
      ['side', 'req/s', 'reads/s', 'appends/s', 'read share', 'read p50 / p99', 'append p50 / p99', 'errors (non-2xx)', 'warm-up errors'],
      [
        sideRow(a),
        sideRow(b),
        [
          'B / A',
          `${r.ratio.toFixed(2)}× [${Math.min(...r.roundRatios).toFixed(2)}–${Math.max(...r.roundRatios).toFixed(2)}]`,
          `${(b.readsPerSecond / a.readsPerSecond).toFixed(2)}×`,
          `${(b.appendsPerSecond / a.appendsPerSecond).toFixed(2)}×`,
          '',
          `${(b.reads.p50 / a.reads.p50).toFixed(2)}× / ${(b.reads.p99 / a.reads.p99).toFixed(2)}×`,
          `${(b.appends.p50 / a.appends.p50).toFixed(2)}× / ${(b.appends.p99 / a.appends.p99).toFixed(2)}×`,
          '',
          '',
        ],
      ],
    ),
  );
  out.push('', 'req/s: successful requests over all measured slices; B / A req/s: median of the per-round ratios [min–max], the other ratios over all rounds.');
  out.push('', '### Latency per request kind (p50 / p99)', '');
  out.push(
    table(
      ['request', 'A', 'B', 'count A / B'],
      KINDS.map((k) => [r.mix.find((m) => m.kind === k)!.request, `${ms(a.byKind[k].p50)} / ${ms(a.byKind[k].p99)}`, `${ms(b.byKind[k].p50)} / ${ms(b.byKind[k].p99)}`, `${a.byKind[k].count} / ${b.byKind[k].count}`]),
    ),
  );
  for (const s of [a, b]) if (s.sampleErrors.length) out.push('', `Errors of ${s.key} (first ${s.sampleErrors.length}):`, ...s.sampleErrors.map((e) => `- ${e}`));

  const rt = r.routing;
  out.push('', '### B: where the reads went (/health/ready of B1 + B2, difference over the measured rounds)', '');
  out.push(
    table(
      ['reads B issued', 'served by the replica', 'fell back: replica behind', 'primary, replica not tried (or not counted)'],
      [[String(rt.reads), `${rt.servedByReplica} (${pct(rt.servedByReplica / rt.reads)})`, `${rt.behind} (${pct(rt.behind / rt.reads)})`, `${rt.primaryOther} (${pct(rt.primaryOther / rt.reads)})`]],
    ),
  );
  out.push(
    '',
    rt.perProcess
      .map((p) => `${p.name}: replica reads ${p.after.reads - p.before.reads}, behind ${p.after.behind - p.before.behind}, healthy at the end: ${p.healthyAfter ? 'yes' : `no (${p.reasonAfter})`}`)
      .join('; '),
  );
  out.push('', "A read fell back when the replica had not replayed every write acknowledged before it arrived (the API's check, read-replicas.ts); the primary served it.");

  const l = r.lag;
  out.push('', `### Replica lag (sampled every ${l.sampleMs} ms; standby: ${l.standbys.join(', ') || 'none seen'})`, '');
  out.push(
    table(
      ['measure', 'during B: median', 'max', 'samples', 'during A: median', 'max', 'samples'],
      [
        ["API's lagMs (/health/ready, B1 + B2)", ...distCells(l.duringB.apiLagMs, ms), ...distCells(l.duringA.apiLagMs, ms)],
        ['pg_stat_replication.replay_lag', ...distCells(l.duringB.replayLagMs, ms), ...distCells(l.duringA.replayLagMs, ms)],
        ['pg_current_wal_lsn() − replay_lsn', ...distCells(l.duringB.replayBytes, bytes), ...distCells(l.duringA.replayBytes, bytes)],
        ['PgBouncer: clients waiting (SHOW POOLS)', ...distCells(l.duringB.pgbouncerWaiting, num), '', '', ''],
        ['PgBouncer: maxwait', ...distCells(l.duringB.pgbouncerMaxWaitMs, ms), '', '', ''],
      ],
    ),
  );
  out.push(
    '',
    "lagMs: the API's own measure (age of the newest primary WAL position the replica has replayed, polled every 250 ms; 0 = caught up with the last position it read). " +
      'replay_lag: PostgreSQL\'s time from a commit on the primary to its replay on the standby (NULL when there was nothing to replay). ' +
      `Samples with the replica marked unhealthy by an API: ${l.unhealthySamples}${l.unhealthyReasons.length ? ` (${l.unhealthyReasons.join('; ')})` : ''}.`,
  );

  out.push('', '### Connections (DATABASE_POOL_SIZE equal per process)', '');
  const pool = o.poolSize;
  out.push(
    `Configured: A = 1 process × ${pool} to the primary (+ 1 LISTEN connection). B = 2 processes × (${pool} to PgBouncer + ${pool} to the replica + 1 direct LISTEN connection to the primary); ` +
      `PgBouncer (transaction mode, default_pool_size ${r.facts.pgbouncerPoolSize}) multiplexes B's ${2 * pool} client connections onto at most ${r.facts.pgbouncerPoolSize} server connections to the primary. ` +
      `So B may use up to ${2 * pool} + 2 primary-side and ${2 * pool} replica connections against A's ${pool} + 1: B also has twice the API processes and pools, which the comparison cannot separate.`,
  );
  if (r.connections.length) {
    const cc = (c: ConnectionCount | null) => (c ? `${c.open} / ${c.active}` : '?');
    out.push('');
    out.push(
      table(
        ['while this side ran (max over samples)', 'primary: direct pools', 'primary: via PgBouncer', 'primary: LISTEN', 'replica: read pools', 'PgBouncer clients (waiting)'],
        r.connections.map((c) => [`${c.side} (${c.samples} samples)`, cc(c.primaryDirect), cc(c.primaryViaPgbouncer), cc(c.primaryListen), cc(c.replica), c.pgbouncerClients === null ? '?' : `${c.pgbouncerClients} (${c.pgbouncerWaiting})`]),
      ),
    );
    out.push(
      '',
      "open / active (state ≠ idle, in a transaction included) client backends on the bench database, the maximum over the samples taken while that side " +
        "ran, the bench's own left out; via PgBouncer: the backends of its SHOW SERVERS. All three API processes stay up for the whole run, so both sides' " +
        'connections are open in either row; the active counts show which side is working. The pools open connections on demand (pg.Pool closes them after ' +
        '10 s idle); PgBouncer keeps its server connections (server_idle_timeout).',
    );
  }

  out.push('', '### CPU ms per request (/proc/<pid>/stat, user + system, over each side\'s measured slices)', '');
  out.push(
    table(
      ['process group', 'A', 'B', 'B − A'],
      r.cpu.map((c) => [c.group, c.a === null ? '—' : c.a.toFixed(2), c.b === null ? '—' : c.b.toFixed(2), c.a === null || c.b === null ? '—' : (c.b - c.a >= 0 ? '+' : '') + (c.b - c.a).toFixed(2)]),
    ),
  );
  out.push(
    '',
    "Each side's slices include the other side's idle processes (B's replica polls, the lag sampler's /health/ready and pg_stat_replication queries) and the replica replaying A's writes too. " +
      'A backend that exits during a slice loses its CPU time from the count (the pools keep theirs open).',
  );

  out.push('', '### Correctness', '');
  out.push(
    table(
      ['read-your-writes probe (append via B1/B2, read at once via the other)', 'iterations', 'page violations', 'messageCount violations', 'errors', "probe's reads: replica / fell back", 'read p50'],
      r.probes.map((p) => [p.name, String(p.iterations), String(p.pageViolations), String(p.countViolations), String(p.errors), `${p.servedByReplica} / ${p.behind}`, ms(p.readP50)]),
    ),
  );
  out.push('', "probe's reads: from /health/ready before and after each probe; under load they include the background mix's reads.");
  for (const p of r.probes) if (p.samples.length) out.push('', `${p.name}:`, ...p.samples.map((s) => `- ${s}`));
  const c = r.correctness;
  out.push('');
  out.push(
    table(
      ['acknowledged appends', 'in the database once', 'missing', 'duplicated', 'wrong conversation', 'unacknowledged attempts (present)', 'counter mismatches', 'replica caught up / agrees', 'ok?'],
      [
        [
          String(c.acknowledged),
          String(c.foundOnce),
          String(c.missing),
          String(c.duplicated),
          String(c.wrongConversation),
          `${c.unacknowledgedAttempts} (${c.unacknowledgedPresent})`,
          String(c.counterMismatches),
          `${ms(c.replicaCaughtUpMs)} / ${c.replicaAgrees === null ? '—' : c.replicaAgrees ? 'yes' : 'NO'}`,
          c.ok ? 'yes' : 'NO',
        ],
      ],
    ),
  );
  if (c.samples.length) out.push('', ...c.samples.map((s) => `- ${s}`));
  out.push('', '(every append of both sides, the warm-up and the probes, by its unique clientId; the probes\' ' + "page reads use `?afterSeq=<seq − 1>` so the message is the page's first)");

  out.push('', '## Machine', '');
  for (const [k, v] of Object.entries(r.facts)) out.push(`- ${k}: ${v}`);
  return out.join('\n');
}
