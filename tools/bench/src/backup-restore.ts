/**
 * Backup / restore benchmark (issue 5, item 9): `agenthub backup` vs `pg_dump -Fc` at the same gzip level (time
 * and size), `agenthub restore` vs `pg_restore`, on the same data, side by side in one run.
 *
 * Both sides are measured the same way: wall-clock time of a child process, start to exit. The agenthub side is
 * the real command line (`node apps/worker/bin/agenthub.js …`), so its figures include what a user waits for:
 * process start, Nest boot, the migration check (backup) or applying migrations (restore), and the restore's
 * verification pass, which re-reads every restored table and compares its sha256 with the manifest (pg_restore
 * verifies nothing). pg_dump also writes the schema; pg_restore also creates it (tables, then data, then
 * indexes, constraints and triggers).
 *
 * Data: the bench database is emptied, then filled with SQL (generate_series, deterministic: setseed) —
 * organizations, users, agents, conversations, `messages` (≥ 200,000: prose of varying length, tool calls with
 * JSON arguments), memories and document chunks with 1536-d embeddings, documents, analytics events, payments.
 * Restores go into a second database (`<bench db>_restore`), dropped and created empty before every restore.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { redactUrl } from '@agenthub/db';
import { prepareDatabase, rawPool, truncateAll } from './db';
import { log } from './report';

export interface BackupRestoreBenchOptions {
  /** bench database (migrated, emptied and seeded here) */
  url: string;
  /** workspace root (where apps/worker/bin/agenthub.js is) */
  root: string;
  messages?: number;
  memories?: number;
  chunks?: number;
  rounds?: number;
  /** gzip level for both sides (pg_dump -Z) */
  level?: number;
  /** skip seeding when the database already holds this data set (same sizes) */
  reuseData?: boolean;
}

export interface Timed {
  ms: number;
  sizeBytes?: number;
}

export interface BackupRestoreRound {
  pgDump: Timed;
  backup: Timed & { inProcessMs: number };
  pgRestore: Timed;
  restore: Timed & { inProcessMs: number };
}

export interface BackupRestoreBenchResult {
  database: string;
  level: number;
  data: Record<string, number>;
  rawBytes: number;
  rounds: BackupRestoreRound[];
  median: {
    pgDumpMs: number;
    backupMs: number;
    pgRestoreMs: number;
    restoreMs: number;
    pgDumpBytes: number;
    backupBytes: number;
  };
  ratios: { backupTime: number; backupSize: number; restoreTime: number };
  goals: { backupTime: number; backupSize: number; restoreTime: number };
  met: { backupTime: boolean; backupSize: boolean; restoreTime: boolean };
  tools: { pgDump: string; pgRestore: string; node: string; cpus: number };
}

const GOALS = { backupTime: 1.0, backupSize: 1.1, restoreTime: 1.0 };

export async function runBackupRestoreBench(opts: BackupRestoreBenchOptions): Promise<BackupRestoreBenchResult> {
  const messages = opts.messages ?? 200_000;
  const memories = opts.memories ?? 2_000;
  const chunks = opts.chunks ?? 1_000;
  const rounds = opts.rounds ?? 3;
  const level = opts.level ?? 6;
  const restoreUrl = siblingUrl(opts.url, '_restore');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-bench-backup-'));
  const cli = path.join(opts.root, 'apps/worker/bin/agenthub.js');
  const pgDump = await version('pg_dump');
  const pgRestore = await version('pg_restore');
  log(`backup bench: ${pgDump}, ${pgRestore}, gzip level ${level}, ${rounds} round(s), work dir ${work}`);

  try {
    await prepareDatabase(opts.url);
    const pool = rawPool(opts.url, 1);
    let data: Record<string, number>;
    try {
      data = await tableCounts(pool);
      if (!opts.reuseData || data.messages !== messages || data.memories !== memories || data.document_chunks !== chunks) {
        await truncateAll(pool);
        // Catalog rows of earlier bench runs (organizations' cascade does not reach them).
        await pool.query('delete from backups');
        await seed(pool, { messages, memories, chunks });
        await pool.query('vacuum analyze');
        data = await tableCounts(pool);
      } else {
        log('reusing the data already in the bench database');
      }
    } finally {
      await pool.end();
    }
    log(`data: ${Object.entries(data).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`).join(', ')}`);

    const env = {
      ...process.env,
      DATABASE_URL: opts.url,
      BACKUP_DIR: path.join(work, 'backups'),
      BACKUP_COMPRESSION_LEVEL: String(level),
      BACKUP_CRON: 'off',
      LOG_LEVEL: 'error',
    };
    delete (env as Record<string, string | undefined>).BACKUP_BUCKET;
    delete (env as Record<string, string | undefined>).BACKUP_ENCRYPTION_KEY;

    const results: BackupRestoreRound[] = [];
    let rawBytes = 0;
    for (let r = 0; r < rounds; r++) {
      const dumpFile = path.join(work, `dump-${r}.pgdump`);
      // Alternate who goes first so neither side always gets the warmer cache.
      const runDump = async (): Promise<Timed> => {
        const t = await timed('pg_dump', ['-Fc', `-Z${level}`, '-f', dumpFile, '-d', opts.url]);
        return { ms: t.ms, sizeBytes: fs.statSync(dumpFile).size };
      };
      const runBackup = async () => {
        const t = await timed(process.execPath, [cli, 'backup', '--json', '--no-retention'], { env, cwd: opts.root });
        const out = JSON.parse(t.stdout) as { id: string; sizeBytes: number; rawBytes: number; ms?: number };
        const manifest = JSON.parse(fs.readFileSync(path.join(work, 'backups', out.id, 'manifest.json'), 'utf8')) as {
          timings: { totalMs: number };
        };
        rawBytes = out.rawBytes;
        return { id: out.id, ms: t.ms, sizeBytes: out.sizeBytes, inProcessMs: manifest.timings.totalMs };
      };
      let dump: Timed;
      let backup: Awaited<ReturnType<typeof runBackup>>;
      if (r % 2 === 0) {
        dump = await runDump();
        backup = await runBackup();
      } else {
        backup = await runBackup();
        dump = await runDump();
      }

      const runPgRestore = async (): Promise<Timed> => {
        await recreate(restoreUrl);
        const t = await timed('pg_restore', ['-d', restoreUrl, dumpFile]);
        return { ms: t.ms };
      };
      const runRestore = async () => {
        await recreate(restoreUrl);
        const t = await timed(process.execPath, [cli, 'restore', backup.id, '--target-url', restoreUrl, '--json'], { env, cwd: opts.root });
        const out = JSON.parse(t.stdout) as { ms?: number; result?: { ms: number } };
        return { ms: t.ms, inProcessMs: out.ms ?? out.result?.ms ?? NaN };
      };
      let pgRestoreRun: Timed;
      let restore: Awaited<ReturnType<typeof runRestore>>;
      if (r % 2 === 0) {
        pgRestoreRun = await runPgRestore();
        restore = await runRestore();
      } else {
        restore = await runRestore();
        pgRestoreRun = await runPgRestore();
      }
      const round: BackupRestoreRound = {
        pgDump: dump,
        backup: { ms: backup.ms, sizeBytes: backup.sizeBytes, inProcessMs: backup.inProcessMs },
        pgRestore: pgRestoreRun,
        restore,
      };
      results.push(round);
      log(
        `round ${r + 1}: pg_dump ${fmtS(dump.ms)} ${fmtMb(dump.sizeBytes!)} | backup ${fmtS(backup.ms)} (in-process ${fmtS(backup.inProcessMs)}) ` +
          `${fmtMb(backup.sizeBytes)} | pg_restore ${fmtS(pgRestoreRun.ms)} | restore ${fmtS(restore.ms)} (in-process ${fmtS(restore.inProcessMs)})`,
      );
      fs.rmSync(dumpFile, { force: true });
      fs.rmSync(path.join(work, 'backups', backup.id), { recursive: true, force: true });
    }
    await dropDatabase(restoreUrl);

    const median = {
      pgDumpMs: med(results.map((r) => r.pgDump.ms)),
      backupMs: med(results.map((r) => r.backup.ms)),
      pgRestoreMs: med(results.map((r) => r.pgRestore.ms)),
      restoreMs: med(results.map((r) => r.restore.ms)),
      pgDumpBytes: med(results.map((r) => r.pgDump.sizeBytes!)),
      backupBytes: med(results.map((r) => r.backup.sizeBytes!)),
    };
    const ratios = {
      backupTime: median.backupMs / median.pgDumpMs,
      backupSize: median.backupBytes / median.pgDumpBytes,
      restoreTime: median.restoreMs / median.pgRestoreMs,
    };
    return {
      database: redactUrl(opts.url),
      level,
      data,
      rawBytes,
      rounds: results,
      median,
      ratios,
      goals: GOALS,
      met: {
        backupTime: ratios.backupTime <= GOALS.backupTime,
        backupSize: ratios.backupSize <= GOALS.backupSize,
        restoreTime: ratios.restoreTime <= GOALS.restoreTime,
      },
      tools: { pgDump, pgRestore, node: process.version, cpus: os.cpus().length },
    };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

export function backupRestoreReport(r: BackupRestoreBenchResult): string {
  const line = (name: string, base: string, subject: string, ratio: number, goal: number, met: boolean) =>
    `| ${name} | ${base} | ${subject} | ${ratio.toFixed(2)}× | ≤ ${goal.toFixed(1)}× | ${met ? 'met' : 'NOT met'} |`;
  return [
    `Backup / restore (${r.data.messages} messages, ${fmtMb(r.rawBytes)} of table data, gzip ${r.level}, median of ${r.rounds.length}):`,
    '',
    '| case | pg_dump -Fc / pg_restore | agenthub | ratio | goal | |',
    '| --- | --- | --- | --- | --- | --- |',
    line('backup time', fmtS(r.median.pgDumpMs), fmtS(r.median.backupMs), r.ratios.backupTime, r.goals.backupTime, r.met.backupTime),
    line('backup size', fmtMb(r.median.pgDumpBytes), fmtMb(r.median.backupBytes), r.ratios.backupSize, r.goals.backupSize, r.met.backupSize),
    line('restore time', fmtS(r.median.pgRestoreMs), fmtS(r.median.restoreMs), r.ratios.restoreTime, r.goals.restoreTime, r.met.restoreTime),
  ].join('\n');
}

/** The data set, all in SQL so seeding 200,000 messages takes seconds. Deterministic (setseed). */
async function seed(pool: pg.Pool, n: { messages: number; memories: number; chunks: number }): Promise<void> {
  const started = Date.now();
  const orgs = 20;
  const conversations = Math.max(orgs, Math.round(n.messages / 100));
  const perConversation = Math.ceil(n.messages / conversations);
  const c = await pool.connect();
  try {
    await c.query('begin');
    await c.query('select setseed(0.42)');
    // A vocabulary so message text compresses like prose, not like random bytes.
    await c.query(`create temp table words on commit drop as
      select array_agg(w) as w from unnest(string_to_array(
        'the a to of and in is it you that for on with as this be are was not have at or your can what do if ' ||
        'agent memory conversation message tool result search vector document user organization payment refund ' ||
        'please thanks sure here summary answer question plan step error retry cache latency database backup ' ||
        'Köln Grüße naïve café 日本語 テキスト données réponse über straße emoji 🚀 json {"k": 1} 42 3.14 2026-11-22', ' ')) w`);
    const text = (minWords: string, spread: string, seedExpr: string) =>
      `(select string_agg(w.w[1 + floor(random() * array_length(w.w, 1))::int], ' ') from words w, generate_series(1, ${minWords} + (${seedExpr}) % ${spread}))`;
    await c.query(`insert into organizations (id, name, metadata, updated_at)
      select gen_random_uuid(), 'Org ' || g, jsonb_build_object('plan', 'pro', 'n', g), now() from generate_series(1, ${orgs}) g`);
    await c.query(`insert into users (id, organization_id, email, name, updated_at)
      select gen_random_uuid(), o.id, 'user' || g || '@' || replace(o.name, ' ', '') || '.example', 'User ' || g, now()
        from organizations o, generate_series(1, 5) g`);
    await c.query(`insert into agents (id, organization_id, name, description, persona, config, updated_at)
      select gen_random_uuid(), o.id, 'agent-' || g, 'Helps with ' || g, '{"tone": "friendly"}', '{"model": "gpt-x", "temperature": 0.2}', now()
        from organizations o, generate_series(1, 3) g`);
    await c.query(`insert into conversations (id, organization_id, agent_id, user_id, title, message_count, last_seq, updated_at, created_at)
      select gen_random_uuid(), a.organization_id, a.id,
             (select u.id from users u where u.organization_id = a.organization_id order by u.id limit 1),
             'Conversation ' || g, ${perConversation}, ${perConversation}, now(), now() - make_interval(hours => g)
        from agents a, generate_series(1, ${Math.ceil(conversations / (orgs * 3))}) g`);
    await c.query(`insert into messages (id, organization_id, conversation_id, seq, role, content, message_type, tool_name, tool_args,
                                         tool_call_id, model, tokens_used, metadata, created_at, updated_at)
      select gen_random_uuid(), cv.organization_id, cv.id, s,
             (case when s % 2 = 1 then 'user' else 'assistant' end)::message_role,
             ${text('8', '120', 's * 7 + length(cv.id::text)')},
             (case when s % 10 = 0 then 'tool_call' else 'text' end)::message_type,
             case when s % 10 = 0 then 'search_memory' end,
             case when s % 10 = 0 then jsonb_build_object('query', 'step ' || s, 'k', 10, 'filters', jsonb_build_object('kind', 'fact')) end,
             case when s % 10 = 0 then 'call_' || s end,
             case when s % 2 = 0 then 'gpt-x' end,
             case when s % 2 = 0 then 20 + s % 400 end,
             '{}', cv.created_at + make_interval(secs => s), now()
        from conversations cv, generate_series(1, ${perConversation}) s`);
    const vector = (seedExpr: string) =>
      `(select array_agg(round((random() * 2 - 1)::numeric, 6)::float4)::vector from generate_series(1, 1536 + 0 * (${seedExpr})))`;
    await c.query(`insert into memories (id, organization_id, agent_id, content, embedding, embedding_model, importance, kind, metadata, updated_at)
      select gen_random_uuid(), a.organization_id, a.id, ${text('5', '40', 'g')}, ${vector('g')}, 'text-embedding-3-small',
             (g % 10) / 10.0, case when g % 3 = 0 then 'preference' else 'fact' end, jsonb_build_object('source', 'bench', 'n', g), now()
        from agents a, generate_series(1, ${Math.ceil(n.memories / (orgs * 3))}) g`);
    await c.query(`delete from memories where id in (select id from memories order by id offset ${n.memories})`);
    await c.query(`insert into documents (id, organization_id, title, content, metadata, updated_at)
      select gen_random_uuid(), o.id, 'Document ' || g, ${text('50', '200', 'g')}, '{"mime": "text/markdown"}', now()
        from organizations o, generate_series(1, 10) g`);
    await c.query(`insert into document_chunks (id, organization_id, document_id, position, content, embedding, embedding_model)
      select gen_random_uuid(), d.organization_id, d.id, g, ${text('30', '80', 'g')}, ${vector('g')}, 'text-embedding-3-small'
        from documents d, generate_series(1, ${Math.ceil(n.chunks / (orgs * 10))}) g`);
    await c.query(`delete from document_chunks where id in (select id from document_chunks order by id offset ${n.chunks})`);
    await c.query(`insert into analytics_events (id, organization_id, type, agent_id, conversation_id, data, occurred_at)
      select gen_random_uuid(), cv.organization_id, case when g % 2 = 0 then 'message.sent' else 'tool.called' end, cv.agent_id, cv.id,
             jsonb_build_object('latency_ms', g * 13 % 900, 'ok', g % 7 <> 0), cv.created_at + make_interval(secs => g)
        from conversations cv, generate_series(1, 10) g`);
    await c.query(`insert into payments (id, organization_id, amount, currency, status, description, idempotency_key, request_hash, metadata, updated_at)
      select gen_random_uuid(), o.id, round((random() * 1000)::numeric, 4), 'EUR', 'succeeded', 'Invoice ' || g, 'idem-' || o.id || '-' || g,
             md5(o.id::text || g), '{}', now()
        from organizations o, generate_series(1, 100) g`);
    await c.query('commit');
  } catch (e) {
    await c.query('rollback').catch(() => undefined);
    throw e;
  } finally {
    c.release();
  }
  log(`seeded in ${fmtS(Date.now() - started)}`);
}

async function tableCounts(pool: pg.Pool): Promise<Record<string, number>> {
  const tables = await pool.query<{ name: string }>(
    `select relname as name from pg_class where relnamespace = 'public'::regnamespace and relkind = 'r' and relname <> '_prisma_migrations' order by 1`,
  );
  const out: Record<string, number> = {};
  for (const { name } of tables.rows) {
    out[name] = (await pool.query<{ n: number }>(`select count(*)::int as n from ${pg.escapeIdentifier(name)}`)).rows[0].n;
  }
  return out;
}

function timed(cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.once('error', reject);
    child.once('close', (code) => {
      const ms = performance.now() - started;
      if (code !== 0) {
        const said = `${Buffer.concat(out).toString().slice(-2000)}${Buffer.concat(err).toString().slice(-2000)}`;
        reject(new Error(`${[path.basename(cmd), ...args.slice(0, 2).map((a) => path.basename(a))].join(' ')} exited with ${code}: ${said}`));
      } else resolve({ ms, stdout: Buffer.concat(out).toString() });
    });
  });
}

async function version(tool: string): Promise<string> {
  return (await timed(tool, ['--version'])).stdout.trim();
}

function siblingUrl(url: string, suffix: string): string {
  const u = new URL(url);
  u.pathname = `${u.pathname}${suffix}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (c: pg.Client, name: string) => Promise<T>): Promise<T> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  u.pathname = '/postgres';
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  try {
    return await fn(c, name);
  } finally {
    await c.end();
  }
}

const dropDatabase = (url: string) => admin(url, (c, name) => c.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`));

async function recreate(url: string): Promise<void> {
  await admin(url, async (c, name) => {
    await c.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
    await c.query(`create database ${pg.escapeIdentifier(name)}`);
  });
}

function med(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const fmtMb = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
