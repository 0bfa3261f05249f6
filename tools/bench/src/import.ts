/**
 * Import throughput: the AgentOS importer (apps/worker ImportService: read SQLite, map, batched INSERT … SELECT
 * FROM jsonb_to_recordset with seq assignment, counters and checkpoints) against `psql \copy` of the very same
 * message rows into the same table, side by side on one database. A report, not a test: exits 0 when the goal is
 * missed. Goal: import ≥ 0.8× the rows/s of \copy.
 *
 * Method: one SQLite file of `conversations × turns` messages. Each round imports it into a fresh organization
 * (timed: the whole run minus the final verification, which is reported separately) and \copy's the same rows,
 * pre-rendered as CSV (rendering not timed), into another fresh organization whose agents/users/conversations
 * were created beforehand (not timed) — every advantage goes to the baseline. Rounds alternate the order.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { PrismaService, redactUrl } from '@agenthub/db';
/* eslint-disable @nx/enforce-module-boundaries -- the bench measures the worker's importer in-process; a child
   CLI would add its ~3 s start-up to every round. The fixture builder is the tests' own. */
import type { ImportBatch } from '../../../apps/worker/src/import/import.types';
import { AgentosSqliteSource } from '../../../apps/worker/src/import/sources/agentos-sqlite.source';
import type { ImportSource } from '../../../apps/worker/src/import/sources/import-source';
import { stableId } from '../../../apps/worker/src/import/stable-id';
import { makeAgentosFile } from '../../../apps/worker/test/fixtures/legacy-stores';
import { importServiceOn } from '../../../apps/worker/test/import-service';
/* eslint-enable @nx/enforce-module-boundaries */
import { median } from './harness';
import { log } from './report';

export interface ImportBenchOptions {
  url: string;
  conversations?: number;
  turnsPerConversation?: number;
  rounds?: number;
  batchSize?: number;
}

export interface ImportBenchResult {
  messages: number;
  rounds: Array<{ copyRowsPerSec: number; importRowsPerSec: number; ratio: number; importSeconds: number; copySeconds: number; verifySeconds: number }>;
  copyRowsPerSec: number;
  importRowsPerSec: number;
  /** median of the per-round ratios */
  ratio: number;
  goal: number;
  met: boolean;
  batchSize: number;
}

const COPY_COLUMNS = [
  'id', 'organization_id', 'conversation_id', 'seq', 'role', 'content', 'message_type', 'tool_name', 'tool_args', 'tool_call_id',
  'is_streaming', 'is_complete', 'model', 'tokens_used', 'client_id', 'metadata', 'created_at', 'updated_at',
];

const csv = (v: unknown): string => {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return `"${s.replace(/"/g, '""')}"`;
};

/** The source without its messages: sets up the baseline's agents, users and conversations. */
function withoutMessages(source: ImportSource): ImportSource {
  return {
    ...source,
    kind: source.kind,
    digest: `${source.digest}-conversations-only`,
    clientIdPrefix: source.clientIdPrefix,
    total: () => source.total(),
    refs: () => source.refs(),
    close: () => source.close(),
    async *batches(from, size): AsyncIterable<ImportBatch> {
      for await (const b of source.batches(from, size)) yield { ...b, conversations: b.conversations.map((c) => ({ ...c, messages: [] })) };
    },
  };
}

async function renderCsv(source: ImportSource, org: string, file: string): Promise<number> {
  const out = fs.createWriteStream(file);
  const now = new Date().toISOString();
  let n = 0;
  for await (const b of source.batches(null, 5000)) {
    let chunk = '';
    for (const c of b.conversations) {
      const conversationId = stableId(org, 'conversation', c.sourceId);
      c.messages.forEach((m, i) => {
        chunk += [
          stableId(org, 'message', m.clientId), org, conversationId, i + 1, m.role, m.content, m.messageType, m.toolName, m.toolArgs,
          m.toolCallId, 'false', 'true', m.model, m.tokensUsed, m.clientId, m.metadata, m.createdAt.toISOString(), now,
        ].map(csv).join(',') + '\n';
        n++;
      });
    }
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  return n;
}

export async function runImportBench(opts: ImportBenchOptions): Promise<ImportBenchResult> {
  const conversations = opts.conversations ?? 2000;
  const turns = opts.turnsPerConversation ?? 100;
  const rounds = opts.rounds ?? 2;
  const batchSize = opts.batchSize ?? 5000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-import-bench-'));
  const prisma = new PrismaService({ mode: 'postgres', url: opts.url, close: async () => undefined });
  const pool = new pg.Pool({ connectionString: opts.url, max: 2 });
  const service = importServiceOn(prisma);
  const newOrg = async (name: string) =>
    (await pool.query<{ id: string }>(`INSERT INTO organizations (id, name, updated_at) VALUES (gen_random_uuid(), $1, now()) RETURNING id`, [name])).rows[0].id;
  try {
    log(`import bench: building an AgentOS file with ${conversations} × ${turns} = ${conversations * turns} messages`);
    const file = makeAgentosFile(path.join(dir, 'agentos.sqlite3'), { conversations, turnsPerConversation: turns });
    const results: ImportBenchResult['rounds'] = [];
    let messages = 0;
    for (let r = 0; r < rounds; r++) {
      // baseline set-up (not timed): conversations, then the CSV of the same rows
      const copyOrg = await newOrg(`bench copy ${r}`);
      const source = await AgentosSqliteSource.open(file);
      await service.run(withoutMessages(source), { organizationId: copyOrg, verify: false, noResume: true });
      const csvFile = path.join(dir, `messages-${r}.csv`);
      messages = await renderCsv(source, copyOrg, csvFile);

      // Before each timed side: settle what the previous side left behind (autovacuum of the rows just inserted,
      // dirty buffers), so neither side pays for the other's writes.
      const settle = async () => {
        await pool.query('VACUUM (ANALYZE) messages');
        await pool.query('CHECKPOINT');
      };
      const timeCopy = async () => {
        await settle();
        const t0 = process.hrtime.bigint();
        await promisify(execFile)('psql', [opts.url, '-v', 'ON_ERROR_STOP=1', '-c', `\\copy messages (${COPY_COLUMNS.join(', ')}) FROM '${csvFile}' WITH (FORMAT csv)`]);
        return Number(process.hrtime.bigint() - t0) / 1e9;
      };
      const timeImport = async () => {
        const org = await newOrg(`bench import ${r}`);
        await settle();
        const t0 = process.hrtime.bigint();
        const summary = await service.run(source, { organizationId: org, batchSize, verify: false });
        const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
        if (summary.status !== 'completed' || summary.counts['messages'].written !== messages) throw new Error(`import failed: ${summary.error}`);
        const v0 = process.hrtime.bigint();
        const verification = await service.verifyTarget(source, org);
        if (!verification.ok) throw new Error(`verification failed: ${verification.mismatches.join('; ')}`);
        return { seconds, verifySeconds: Number(process.hrtime.bigint() - v0) / 1e9 };
      };
      let copySeconds: number;
      let imp: { seconds: number; verifySeconds: number };
      if (r % 2 === 0) {
        copySeconds = await timeCopy();
        imp = await timeImport();
      } else {
        imp = await timeImport();
        copySeconds = await timeCopy();
      }
      await source.close();
      fs.rmSync(csvFile, { force: true });
      const round = {
        copyRowsPerSec: messages / copySeconds,
        importRowsPerSec: messages / imp.seconds,
        ratio: copySeconds / imp.seconds,
        importSeconds: imp.seconds,
        copySeconds,
        verifySeconds: imp.verifySeconds,
      };
      results.push(round);
      log(
        `  round ${r + 1}: \\copy ${round.copyRowsPerSec.toFixed(0)} rows/s (${copySeconds.toFixed(2)} s), import ${round.importRowsPerSec.toFixed(0)} rows/s ` +
          `(${imp.seconds.toFixed(2)} s; verification +${imp.verifySeconds.toFixed(2)} s) → ratio ${round.ratio.toFixed(2)}`,
      );
    }
    const ratio = median(results.map((x) => x.ratio));
    return {
      messages,
      rounds: results,
      copyRowsPerSec: median(results.map((x) => x.copyRowsPerSec)),
      importRowsPerSec: median(results.map((x) => x.importRowsPerSec)),
      ratio,
      goal: 0.8,
      met: ratio >= 0.8,
      batchSize,
    };
  } catch (e) {
    throw new Error(`import bench failed on ${redactUrl(opts.url)}: ${(e as Error).message}`);
  } finally {
    await pool.end();
    await prisma.$disconnect();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
