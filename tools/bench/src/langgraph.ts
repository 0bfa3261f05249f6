/**
 * LangGraph checkpointing through AgentHub vs LangGraph's own PostgreSQL saver on the same PostgreSQL (issue 14's
 * goal: ≥ 0.5×). One unit is one super-step as a graph run does it: `putWrites` of the step's task (its writes to
 * two channels), `put` of the step's checkpoint (the channels the step moved: a growing message list and a small
 * counter; a large document channel written once per thread and then carried by version), then `getTuple` of the
 * thread's latest checkpoint. Each worker runs its own
 * thread; both savers get the same checkpoints. Side by side in alternating slices (harness.ts).
 */
import pg from 'pg';
import { emptyCheckpoint, type Checkpoint, type BaseCheckpointSaver } from '@langchain/langgraph-checkpoint';
import { PostgresSaver } from '@langchain/langgraph-checkpoint-postgres';
// The saver under test, over HTTP, and its client (a benchmark, not a product: it measures the integration library).
/* eslint-disable @nx/enforce-module-boundaries */
import { AgentHubSaver } from '@agenthub/langgraph';
import { createAgentHubClient } from '@agenthub/client';
/* eslint-enable @nx/enforce-module-boundaries */
import { ApiChild } from './api';
import { compare, type CompareResult } from './harness';
import { prepareDatabase } from './db';
import { log, table } from './report';

const ADMIN_TOKEN = 'bench-admin-token-0123456789abcdef';
const BASELINE_SCHEMA = 'langgraph_bench_baseline';
export const LANGGRAPH_GOAL = 0.5;

export interface LangGraphBenchOptions {
  url: string;
  root: string;
  poolSize: number;
  concurrency: number;
  rounds: number;
  sliceMs: number;
  warmupMs: number;
}

export interface LangGraphBenchResult {
  case: string;
  unit: string;
  baseline: string;
  subject: string;
  comparison: CompareResult;
  goal: number;
  met: boolean;
}

/** One thread's run: each call is one super-step (put, then getTuple of the latest). */
function stepper(saver: BaseCheckpointSaver, threadPrefix: string) {
  const threads = new Map<number, { threadId: string; step: number; parent?: string; checkpoint: Checkpoint; messages: string[] }>();
  let generation = 0;
  return async (worker: number): Promise<number> => {
    let t = threads.get(worker);
    // A new thread every 50 steps, so checkpoints per thread stay what a conversation has.
    if (!t || t.step >= 50) {
      t = { threadId: `${threadPrefix}-${worker}-${generation++}`, step: 0, checkpoint: emptyCheckpoint(), messages: [] };
      threads.set(worker, t);
    }
    t.step++;
    t.messages.push(`message ${t.step}: ${'lorem ipsum dolor sit amet '.repeat(8)}`);
    const id = `${String(Date.now()).padStart(16, '0')}-${String(t.step).padStart(4, '0')}-${worker}`;
    const versions: Record<string, number> = { messages: t.step, counter: t.step };
    const values: Record<string, unknown> = { messages: [...t.messages], counter: t.step };
    if (t.step === 1) {
      versions['document'] = 1;
      values['document'] = 'x'.repeat(20_000);
    }
    const checkpoint: Checkpoint = {
      ...t.checkpoint,
      id,
      ts: new Date().toISOString(),
      channel_values: values,
      channel_versions: { ...t.checkpoint.channel_versions, ...versions },
      versions_seen: { agent: { messages: t.step - 1 } },
    };
    const config = { configurable: { thread_id: t.threadId, checkpoint_ns: '', ...(t.parent ? { checkpoint_id: t.parent } : {}) } };
    if (t.parent) await saver.putWrites(config, [['messages', t.messages.at(-1)], ['counter', t.step]], `task-${t.step}`);
    await saver.put(config, checkpoint, { source: 'loop', step: t.step, parents: {} }, versions);
    const latest = await saver.getTuple({ configurable: { thread_id: t.threadId, checkpoint_ns: '' } });
    if (latest?.checkpoint.id !== id) throw new Error(`getTuple returned ${latest?.checkpoint.id}, not ${id}`);
    t.parent = id;
    t.checkpoint = { ...checkpoint, channel_values: {} };
    return 1;
  };
}

export async function runLangGraphBench(o: LangGraphBenchOptions): Promise<LangGraphBenchResult> {
  await prepareDatabase(o.url);
  const pool = new pg.Pool({ connectionString: o.url, max: o.poolSize });
  let api: ApiChild | undefined;
  try {
    await pool.query(`DROP SCHEMA IF EXISTS ${BASELINE_SCHEMA} CASCADE`);
    await pool.query('TRUNCATE langgraph_threads CASCADE');
    const baseline = new PostgresSaver(pool, undefined, { schema: BASELINE_SCHEMA });
    await baseline.setup();
    log('starting the API (child process)');
    api = await ApiChild.start('api', o.root, { DATABASE_URL: o.url, DATABASE_POOL_SIZE: String(o.poolSize), AGENTHUB_ADMIN_TOKEN: ADMIN_TOKEN });
    const admin = createAgentHubClient({ baseUrl: api.baseUrl, apiKey: ADMIN_TOKEN });
    const { data } = await admin.POST('/api/v1/organizations', { body: { name: 'bench-langgraph', ownerEmail: 'owner@bench-langgraph.test' } });
    const subject = new AgentHubSaver({ baseUrl: api.baseUrl, apiKey: data!.apiKey.key });
    log(`super-steps (putWrites + put + getTuple), ${o.concurrency} threads at once`);
    const comparison = await compare(
      { name: 'PostgresSaver', op: stepper(baseline, 'pg') },
      { name: 'AgentHubSaver', op: stepper(subject, 'hub') },
      { rounds: o.rounds, sliceMs: o.sliceMs, warmupMs: o.warmupMs, concurrency: o.concurrency, onRound: (r, b, s) => log(`  round ${r + 1}: ${s.toFixed(0)} vs ${b.toFixed(0)} steps/s → ${(s / b).toFixed(2)}×`) },
    );
    return {
      case: 'checkpoint putWrites + put + getTuple per super-step',
      unit: 'steps/s',
      baseline: `@langchain/langgraph-checkpoint-postgres PostgresSaver (pg pool of ${o.poolSize})`,
      subject: 'AgentHubSaver over HTTP (one API process)',
      comparison,
      goal: LANGGRAPH_GOAL,
      met: comparison.ratio >= LANGGRAPH_GOAL,
    };
  } finally {
    await api?.stop();
    await pool.end();
  }
}

export function langGraphBenchReport(r: LangGraphBenchResult): string {
  const c = r.comparison;
  return [
    `## LangGraph checkpoints: ${r.case}`,
    '',
    table(
      ['side', r.unit, 'p50 ms', 'p95 ms'],
      [
        [r.baseline, c.baseline.rate.toFixed(0), c.baseline.p50.toFixed(1), c.baseline.p95.toFixed(1)],
        [r.subject, c.subject.rate.toFixed(0), c.subject.p50.toFixed(1), c.subject.p95.toFixed(1)],
      ],
    ),
    '',
    `ratio (median of rounds): ${c.ratio.toFixed(2)}× [rounds ${c.roundRatios.map((x) => x.toFixed(2)).join(', ')}] — goal ≥ ${r.goal}×: ${r.met ? 'met' : 'NOT met'}`,
  ].join('\n');
}
