import type pg from 'pg';
import { compare, type Side } from './harness';
import { log, fmtNum, type Comparison } from './report';
import { recordingDb } from './vectors';
import { MessageRepository, type MessageInput, type PrismaService, type Prisma } from '@agenthub/db';
import { makeAgent, makeConversation, makeOrganization, seededRandom } from '@agenthub/db/testing';

export interface MessageBenchOptions {
  batchSizes: number[];
  concurrencies: number[];
  rounds: number;
  sliceMs: number;
  warmupMs: number;
  goal: number;
}

const WORDS =
  'the agent called a tool to look up the order status and then summarised the result for the user who asked about delivery times refunds and the invoice total'.split(
    ' ',
  );

/** Realistic-ish chat rows: alternating user/assistant, 40–120 words, model + token count on assistant turns. */
function makeInputs(count: number, random: () => number): MessageInput[] {
  return Array.from({ length: count }, (_, i) => {
    const words = 40 + Math.floor(random() * 80);
    const content = Array.from({ length: words }, () => WORDS[Math.floor(random() * WORDS.length)]).join(' ');
    const assistant = i % 2 === 1;
    return {
      role: assistant ? 'assistant' : 'user',
      content,
      messageType: 'text',
      model: assistant ? 'gpt-4o' : null,
      tokensUsed: assistant ? 50 + Math.floor(random() * 400) : null,
      metadata: { source: 'bench' },
    } satisfies MessageInput;
  });
}

const COLUMNS = [
  'id', 'organization_id', 'conversation_id', 'seq', 'role', 'content', 'message_type', 'tool_name', 'tool_args',
  'tool_call_id', 'is_streaming', 'is_complete', 'model', 'tokens_used', 'client_id', 'metadata', 'created_at', 'updated_at',
];
const PARAMS_PER_ROW = 15; // all but id, created_at, updated_at (generated in SQL exactly as the repository does)

/** The statement text per batch size, built once (a real hand-written bulk insert would do the same). */
const insertSql = new Map<number, string>();
function rawInsertSql(n: number): string {
  let sql = insertSql.get(n);
  if (!sql) {
    const rows = Array.from({ length: n }, (_, r) => {
      const p = (k: number) => `$${r * PARAMS_PER_ROW + k}`;
      return `(gen_random_uuid(), ${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)}, ${p(9)}, ${p(10)}, ${p(11)}, ${p(12)}, ${p(13)}, ${p(14)}, ${p(15)}, now(), now())`;
    });
    sql = `INSERT INTO messages (${COLUMNS.join(', ')}) VALUES ${rows.join(', ')}`;
    insertSql.set(n, sql);
  }
  return sql;
}

export async function runMessageBench(prisma: PrismaService, pool: pg.Pool, o: MessageBenchOptions): Promise<Comparison[]> {
  const repo = new MessageRepository(prisma);
  const org = await makeOrganization(prisma, { name: 'bench messages' });
  const agent = await makeAgent(prisma, org.id, { name: 'bench messages agent' });
  const random = seededRandom(42);
  const results: Comparison[] = [];

  for (const concurrency of o.concurrencies) {
    for (const batch of o.batchSizes) {
      const label = `append ${batch === 1 ? '1 msg' : `${batch} msgs`}/call, ${concurrency === 1 ? 'sequential' : `${concurrency} writers`}`;
      log(`messages: ${label}`);
      // Fresh conversations per side and case: one per writer, so writers never contend on one row.
      const repoConvs = await Promise.all(Array.from({ length: concurrency }, () => makeConversation(prisma, org.id, agent.id)));
      const rawConvs = await Promise.all(Array.from({ length: concurrency }, () => makeConversation(prisma, org.id, agent.id)));
      const rawSeq = rawConvs.map(() => 0);
      // A small pool of pre-generated batches per writer, cycled: generation cost stays out of the timing.
      const batches = Array.from({ length: 8 }, () => makeInputs(batch, random));
      let turn = 0;

      const subject: Side = {
        name: 'repository',
        async op(w) {
          const inputs = batches[turn++ % batches.length];
          const rows = await repo.append(org.id, repoConvs[w].id, inputs);
          return rows.length;
        },
      };
      const baseline: Side = {
        name: 'raw pg',
        async op(w) {
          const inputs = batches[turn++ % batches.length];
          const conv = rawConvs[w];
          const params: unknown[] = [];
          for (const m of inputs) {
            params.push(
              org.id, conv.id, ++rawSeq[w], m.role, m.content ?? '', m.messageType ?? 'text', m.toolName ?? null,
              m.toolArgs == null ? null : JSON.stringify(m.toolArgs), m.toolCallId ?? null, m.isStreaming ?? false,
              !(m.isStreaming ?? false), m.model ?? null, m.tokensUsed ?? null, m.clientId ?? null,
              JSON.stringify(m.metadata ?? {}),
            );
          }
          const res = await pool.query(rawInsertSql(inputs.length), params);
          return res.rowCount ?? 0;
        },
      };

      const r = await compare(baseline, subject, {
        rounds: o.rounds,
        sliceMs: o.sliceMs,
        warmupMs: o.warmupMs,
        concurrency,
        onRound: (i, b, s) => log(`  round ${i + 1}/${o.rounds}: raw ${fmtNum(b)} rows/s, repository ${fmtNum(s)} rows/s (${(s / b).toFixed(2)}×)`),
      });

      // Sanity: the repository kept its counters; the raw side's seqs are dense too.
      const check = await pool.query<{ ok: boolean }>(
        `select bool_and(c.last_seq = c.message_count and c.message_count = (select count(*) from messages m where m.conversation_id = c.id)) as ok
           from conversations c where c.id = any($1::uuid[])`,
        [repoConvs.map((c) => c.id)],
      );
      if (!check.rows[0]?.ok) throw new Error('repository conversations: last_seq/message_count do not match the rows');

      results.push({
        section: 'messages',
        case: label,
        unit: 'rows/s',
        baseline: r.baseline.rate,
        subject: r.subject.rate,
        ratio: r.ratio,
        goal: o.goal,
        met: r.ratio >= o.goal,
        roundRatios: r.roundRatios,
        details: {
          batch,
          concurrency,
          baseline: r.baseline,
          subject: r.subject,
        },
      });

      if (concurrency === 1) {
        // Split the gap: the repository's own statement sent through pg (no Prisma) vs the plain INSERT.
        log(`messages: diagnostic — the repository's SQL sent through pg, batch ${batch}`);
        const scratch = await makeConversation(prisma, org.id, agent.id);
        const templates: Prisma.Sql[] = [];
        for (const inputs of batches) {
          const sink: Prisma.Sql[] = [];
          await repo.append(org.id, scratch.id, inputs, recordingDb(prisma, sink));
          templates.push(sink[0]);
        }
        const viaPgConv = await makeConversation(prisma, org.id, agent.id);
        const rawConv2 = await makeConversation(prisma, org.id, agent.id);
        let seq2 = 0;
        let turn2 = 0;
        const repoSqlViaPg: Side = {
          name: 'repository SQL via pg',
          async op() {
            const t = templates[turn2++ % templates.length];
            const values = t.values.map((v) => (v === scratch.id ? viaPgConv.id : v));
            return (await pool.query(t.text, values)).rowCount ?? 0;
          },
        };
        const plain: Side = {
          name: 'raw pg',
          async op() {
            const inputs = batches[turn2++ % batches.length];
            const params: unknown[] = [];
            for (const m of inputs) {
              params.push(
                org.id, rawConv2.id, ++seq2, m.role, m.content ?? '', m.messageType ?? 'text', null, null, null, false, true,
                m.model ?? null, m.tokensUsed ?? null, null, JSON.stringify(m.metadata ?? {}),
              );
            }
            return (await pool.query(rawInsertSql(inputs.length), params)).rowCount ?? 0;
          },
        };
        const d = await compare(plain, repoSqlViaPg, { rounds: o.rounds, sliceMs: o.sliceMs, warmupMs: o.warmupMs, concurrency: 1 });
        results.push({
          section: 'diagnostics',
          case: `diagnostic: ${label}, repository's SQL via pg (no Prisma)`,
          unit: 'rows/s',
          baseline: d.baseline.rate,
          subject: d.subject.rate,
          ratio: d.ratio,
          goal: NaN,
          met: true,
          roundRatios: d.roundRatios,
          details: { batch, baseline: d.baseline, subject: d.subject, sql: templates[0].text.replace(/\s+/g, ' ').trim() },
        });
      }
    }
  }
  return results;
}
