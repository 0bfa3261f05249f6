/**
 * Profile of one API load (not a test, not a comparison): where the time of a request goes, in the API process
 * and in PostgreSQL, to decide what to optimise and to show the before/after of a change.
 *
 *   npx tsx tools/bench/src/profile.main.ts [--case append|page|search|payment] [--seconds 20] [--concurrency 16] [--conversations 8] [--top 25]
 *
 * It starts one API process (production settings, RLS on) with `node --cpu-prof`, resets pg_stat_statements,
 * runs the load of the `api` suite's case for the given time and then reports:
 *   - requests/s, and CPU milliseconds per request of the API process and of all PostgreSQL processes (/proc);
 *   - pg_stat_statements: every statement's calls per request, mean and total execution time, share of the total;
 *   - the API's top self-time frames from its CPU profile (written to tmp/bench/profiles/), grouped by function
 *     and by package.
 * pg_stat_statements must be in shared_preload_libraries (the report says so when it is not). The V8 profile samples
 * wall time on the JS thread, so a write(2) during which the kernel runs PostgreSQL shows up as the write's own
 * time: for CPU, trust the /proc figures, or run `perf record -a -g` during the load (the API writes a perf map).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseOptions, runUnderBenchTsconfig } from './entry';

const USAGE = 'usage: tsx tools/bench/src/profile.main.ts [--case append|page|search|payment] [--seconds 20] [--concurrency 16] [--conversations 8] [--top 25]';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** CPU time (ms) of these processes, from /proc/<pid>/stat: in user space, and in the kernel (system: socket I/O). */
interface Cpu {
  user: number;
  system: number;
}
function cpuMs(pids: number[]): Cpu {
  const tick = 1000 / 100; // USER_HZ is 100 on Linux
  const total = { user: 0, system: 0 };
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total.user += Number(fields[11]) * tick;
      total.system += Number(fields[12]) * tick;
    } catch {
      // gone in between
    }
  }
  return total;
}
const minus = (a: Cpu, b: Cpu): Cpu => ({ user: a.user - b.user, system: a.system - b.system });

/** Every process whose command line starts with `postgres` (the server and its backends). */
function postgresPids(): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = fs.readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      if (comm.startsWith('postgres')) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Self time per frame and per package of a .cpuprofile. */
function selfTimes(profile: CpuProfile): { byFrame: Map<string, number>; byPackage: Map<string, number>; totalMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const byFrame = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let totalMs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const ms = us / 1000;
    const url = frame.url.replace(/^file:\/\//, '');
    const pkg = url.includes('node_modules/')
      ? url.slice(url.lastIndexOf('node_modules/') + 13).split('/').slice(0, url.slice(url.lastIndexOf('node_modules/') + 13).startsWith('@') ? 2 : 1).join('/')
      : url.startsWith('node:') || url === ''
        ? frame.functionName.startsWith('(') ? frame.functionName : 'node internals'
        : url.includes('/libs/') ? 'libs/*' : url.includes('/apps/') ? 'apps/*' : 'other';
    const where = url ? `${path.basename(url)}:${frame.lineNumber + 1}` : '';
    const key = `${frame.functionName || '(anonymous)'} ${where}`.trim();
    byFrame.set(key, (byFrame.get(key) ?? 0) + ms);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + ms);
    if (frame.functionName !== '(idle)') totalMs += ms;
  }
  return { byFrame, byPackage, totalMs };
}

export async function main(): Promise<void> {
  const args = parseOptions(
    process.argv.slice(2),
    { '--seconds': 'seconds', '--concurrency': 'concurrency', '--conversations': 'conversations', '--top': 'top' },
    USAGE,
    { '--case': { key: 'case', values: ['append', 'page', 'search', 'payment'], max: 1 } },
  );
  const which = args.case?.[0] ?? 'append';
  const seconds = args.seconds ?? 20;
  const concurrency = args.concurrency ?? 16;
  const conversationCount = args.conversations ?? 8;
  const top = args.top ?? 25;

  const api = await import('./api');
  const { DEFAULT_URL, prepareDatabase, rawPool, truncateAll, workspaceRoot } = await import('./db');
  const { log, table, fmtNum } = await import('./report');
  const root = workspaceRoot(__dirname);
  const url = process.env.BENCH_DATABASE_URL?.trim() || DEFAULT_URL;
  const poolSize = Number(process.env.DATABASE_POOL_SIZE || 10);
  const profileDir = path.join(root, 'tmp', 'bench', 'profiles', new Date().toISOString().replace(/[:.]/g, '-'));
  fs.mkdirSync(profileDir, { recursive: true });

  await prepareDatabase(url);
  const pool = rawPool(url, 2);
  await truncateAll(pool);
  let statements = true;
  try {
    await pool.query('create extension if not exists pg_stat_statements');
    await pool.query('select pg_stat_statements_reset()');
  } catch (error) {
    statements = false;
    log(`pg_stat_statements unavailable (${(error as Error).message}): add it to shared_preload_libraries for the statement table`);
  }
  log(`profiling ${which}: one API process with --cpu-prof, ${concurrency} concurrent, ${conversationCount} conversations, ${seconds} s`);
  const child = await api.ApiChild.start('api (profiled)', root, {
    DATABASE_URL: url,
    DATABASE_POOL_SIZE: String(poolSize),
    AGENTHUB_ROW_LEVEL_SECURITY: 'true',
    // --perf-basic-prof: /tmp/perf-<pid>.map names the JIT frames for `perf record -a -g` run alongside.
    NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir} --perf-basic-prof-only-functions`,
  });
  const http = new api.HttpClient(child.baseUrl, concurrency);
  let requests = 0;
  let apiCpu: Cpu = { user: 0, system: 0 };
  let clientCpu: Cpu = { user: 0, system: 0 };
  let pgCpu: Cpu = { user: 0, system: 0 };
  let wall = 0;
  try {
    const tenant = await api.createTenant(http, 'bench profile');
    const conversations = await api.createConversations(http, tenant, conversationCount);
    const random = api.seededRandom(11);
    const bodies = api.messageInputs(64, random).map((m) => JSON.stringify(m));
    let load: import('./api').Load;
    if (which === 'append') load = api.appendOverHttp('append', http, tenant, conversations, bodies);
    else if (which === 'payment') {
      // api-data's payment case: a new Idempotency-Key per payment.
      const body = JSON.stringify({ amount: '12.34', currency: 'USD', description: 'bench' });
      let n = 0;
      const run = `${Date.now()}`;
      load = {
        name: 'payment',
        async op() {
          const res = await http.request('POST', '/api/v1/payments', tenant.key, body, { 'idempotency-key': `${run}-${n++}` });
          if (res.status !== 201) throw new Error(`payment: ${res.status} ${res.text.slice(0, 200)}`);
        },
      };
    } else if (which === 'search') {
      // 2,000 memories of random 1536-d vectors (SQL-made: the API's CPU per query is the subject, not recall),
      // searched with k = 10 by 32 random query vectors sent as JSON numbers, as embedding APIs return them.
      await pool.query(
        `insert into memories (id, organization_id, content, embedding, created_at, updated_at)
         select gen_random_uuid(), $1::uuid, 'memory ' || g, (select array_agg(random()::real) from generate_series(1, 1536) where g > 0)::vector, now(), now()
           from generate_series(1, 2000) g`,
        [tenant.organizationId],
      );
      await pool.query('analyze memories');
      const queries = Array.from({ length: 32 }, () => JSON.stringify({ embedding: Array.from({ length: 1536 }, () => random() * 2 - 1), k: 10 }));
      let q = 0;
      load = {
        name: 'search',
        async op() {
          const res = await http.request('POST', '/api/v1/memories/search', tenant.key, queries[q++ % queries.length]);
          if (res.status !== 200) throw new Error(`search: ${res.status} ${res.text.slice(0, 200)}`);
        },
      };
    } else {
      for (const id of conversations) await http.json('POST', `/api/v1/conversations/${id}/messages`, tenant.key, { messages: api.messageInputs(200, random) });
      await pool.query('analyze');
      load = {
        name: 'page',
        async op(w) {
          const res = await http.request('GET', `/api/v1/conversations/${conversations[w % conversations.length]}/messages?limit=50`, tenant.key);
          if (res.status !== 200) throw new Error(`page: ${res.status} ${res.text.slice(0, 200)}`);
        },
      };
    }
    await api.slice(load, 2000, concurrency); // warm-up
    await pool.query('analyze'); // the statistics autovacuum would keep (it may be off, as on CI machines)
    if (statements) await pool.query('select pg_stat_statements_reset()');
    const pgPids = postgresPids();
    const api0 = cpuMs([child.pid]);
    const pg0 = cpuMs(pgPids);
    const self0 = process.cpuUsage();
    const t0 = Date.now();
    const s = await api.slice(load, seconds * 1000, concurrency);
    wall = (Date.now() - t0) / 1000;
    apiCpu = minus(cpuMs([child.pid]), api0);
    pgCpu = minus(cpuMs(postgresPids()), pg0);
    const self = process.cpuUsage(self0);
    clientCpu = { user: self.user / 1000, system: self.system / 1000 };
    requests = s.ops;
    log(`${fmtNum(requests / wall)} req/s, ${s.errors} errors`);
    if (statements) {
      const { rows } = await pool.query<{ query: string; calls: string; total: number; mean: number }>(
        `select query, calls::text, total_exec_time as total, mean_exec_time as mean from pg_stat_statements
          where dbid = (select oid from pg_database where datname = current_database()) order by total_exec_time desc limit 40`,
      );
      const sum = rows.reduce((a, r) => a + r.total, 0);
      console.log(`\n## pg_stat_statements (${requests} requests; execution time only, not parse/bind/network)\n`);
      console.log(
        table(
          ['statement', 'calls/request', 'mean ms', 'ms/request', 'share'],
          rows
            .filter((r) => r.total / sum >= 0.002)
            .map((r) => [r.query.replace(/\s+/g, ' ').slice(0, 110), (Number(r.calls) / requests).toFixed(2), r.mean.toFixed(3), (r.total / requests).toFixed(3), `${((100 * r.total) / sum).toFixed(1)} %`]),
        ),
      );
    }
  } finally {
    http.close();
    await child.stop();
    await pool.end();
  }
  console.log(`\n## CPU per request (${requests} requests in ${wall.toFixed(1)} s, ${os.cpus().length} CPUs)\n`);
  const perRequest = (name: string, cpu: Cpu) =>
    [name, ((cpu.user + cpu.system) / requests).toFixed(2), (cpu.user / requests).toFixed(2), (cpu.system / requests).toFixed(2)];
  console.log(table(['process', 'CPU ms / request', 'user', 'system'], [
        perRequest('API', apiCpu),
        perRequest('PostgreSQL (all processes)', pgCpu),
        perRequest('load generator (this process)', clientCpu),
      ]));
  const file = fs.readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) {
    log(`no CPU profile in ${profileDir}`);
    return;
  }
  const { byFrame, byPackage, totalMs } = selfTimes(JSON.parse(fs.readFileSync(path.join(profileDir, file), 'utf8')) as CpuProfile);
  const rank = (m: Map<string, number>) => [...m].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]).slice(0, top);
  console.log(`\n## API self time by package (whole process life, start-up included; ${totalMs.toFixed(0)} ms busy)\n`);
  console.log(table(['package', 'self ms', 'share'], rank(byPackage).map(([k, ms]) => [k, ms.toFixed(0), `${((100 * ms) / totalMs).toFixed(1)} %`])));
  console.log(`\n## API top ${top} self-time frames\n`);
  console.log(table(['frame', 'self ms', 'share'], rank(byFrame).map(([k, ms]) => [k.slice(0, 100), ms.toFixed(0), `${((100 * ms) / totalMs).toFixed(1)} %`])));
  log(`profile: ${path.join(profileDir, file)} (open in Chrome DevTools or speedscope)`);
}

if (require.main === module) runUnderBenchTsconfig(__filename, main);
