import type pg from 'pg';
import { toSql } from 'pgvector/utils';
import { compare, type Side } from './harness';
import { fmtNum, log, type Comparison, type RecallRow } from './report';
import { Prisma, type Db, type PrismaService, MemoryRepository, type MemorySearchFilter, type SearchStrategy, EMBEDDING_DIMENSIONS } from '@agenthub/db';
import { makeAgent, makeOrganization, seededRandom } from '@agenthub/db/testing';

export interface VectorBenchOptions {
  rows: number;
  queries: number;
  rounds: number;
  sliceMs: number;
  warmupMs: number;
  goalThroughput: number;
  goalRecall: number;
}

const DIM = EMBEDDING_DIMENSIONS;
const AGENTS = 100; // one agent = the 1%-selective filter
const CLUSTERS = 100;
const LATENT = 32;
const CENTROID_SPREAD = 1; // centroid components uniform in [-1, 1]: per-dimension variance 1/3
const LATENT_VARIANCE = 0.2; // per-dimension variance contributed by the 32 shared latent directions
const NOISE_SIGMA = 0.1; // isotropic noise (per-dimension variance 0.01)
const LOAD_BATCH = 500;
/** As in prisma/migrations/20261122000000_init/migration.sql. */
const MIGRATION_HNSW_INDEX = 'CREATE INDEX "memories_embedding_hnsw_idx" ON "memories" USING hnsw ("embedding" vector_cosine_ops)';

/**
 * Clustered, low-intrinsic-dimension synthetic embeddings, because real embeddings are not uniform noise
 * (uniform random 1536-d vectors are the worst case for any graph index):
 *   v = centroid[c] + Σ_j z_j·B_j·a + ε,  c ∈ 100 random centroids, z ∈ N(0,1)^32 over 32 shared directions B,
 *   ε ∈ N(0, 0.1²)^1536. Queries are fresh draws from the same model. Values are rounded to float4 (what
 *   pgvector stores) so the JavaScript copy equals the database's.
 */
class EmbeddingModel {
  private readonly random: () => number;
  private readonly centroids: Float32Array[];
  private readonly basis: Float32Array[];
  private readonly scale = Math.sqrt(LATENT_VARIANCE / LATENT);
  private spare: number | null = null;

  constructor(seed: number) {
    this.random = seededRandom(seed);
    this.centroids = Array.from({ length: CLUSTERS }, () =>
      Float32Array.from({ length: DIM }, () => (this.random() * 2 - 1) * CENTROID_SPREAD),
    );
    this.basis = Array.from({ length: LATENT }, () => Float32Array.from({ length: DIM }, () => this.gauss()));
  }

  /** Box–Muller on the seeded generator. */
  gauss(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = Math.max(this.random(), 1e-12);
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  sample(): Float32Array {
    const c = this.centroids[Math.floor(this.random() * CLUSTERS)];
    const out = new Float64Array(DIM);
    for (let i = 0; i < DIM; i++) out[i] = c[i] + NOISE_SIGMA * this.gauss();
    for (let j = 0; j < LATENT; j++) {
      const z = this.gauss() * this.scale;
      const b = this.basis[j];
      for (let i = 0; i < DIM; i++) out[i] += z * b[i];
    }
    return Float32Array.from(out);
  }
}

const vectorText = (v: Float32Array) => `[${Array.from(v).join(',')}]`;

function cosineTopK(data: Float32Array[], norms: Float64Array, ids: number[], q: Float32Array, k: number): number[] {
  let qn = 0;
  for (let i = 0; i < q.length; i++) qn += q[i] * q[i];
  qn = Math.sqrt(qn);
  const scored: Array<[number, number]> = [];
  for (const r of ids) {
    const v = data[r];
    let dot = 0;
    for (let i = 0; i < v.length; i++) dot += v[i] * q[i];
    scored.push([r, dot / (norms[r] * qn)]);
  }
  scored.sort((a, b) => b[1] - a[1]);
  return scored.slice(0, k).map((s) => s[0]);
}

/** A Db that records every raw query the repository issues (so the baseline runs the very same SQL). */
export function recordingDb(prisma: PrismaService, sink: Prisma.Sql[]): Db {
  return new Proxy(prisma, {
    get(target, prop, receiver) {
      if (prop === '$queryRaw') {
        return (query: Prisma.Sql | TemplateStringsArray, ...values: unknown[]) => {
          const sql = query instanceof Prisma.Sql ? query : Prisma.sql(query, ...values);
          sink.push(sql);
          return target.$queryRaw(sql);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  }) as unknown as Db;
}

interface SearchCase {
  label: string;
  strategy: SearchStrategy;
  filter: MemorySearchFilter;
}

export async function runVectorBench(
  prisma: PrismaService,
  pool: pg.Pool,
  o: VectorBenchOptions,
): Promise<{ comparisons: Comparison[]; recall: RecallRow[]; info: Record<string, unknown> }> {
  const repo = new MemoryRepository(prisma);
  const org = await makeOrganization(prisma, { name: 'bench vectors' });
  const agents: Array<{ id: string }> = [];
  for (let i = 0; i < AGENTS; i++) agents.push(await makeAgent(prisma, org.id, { name: `bench agent ${i}` }));
  const filterAgent = agents[0].id;

  // ---- data ---------------------------------------------------------------------------------------------
  const model = new EmbeddingModel(20_261_122);
  const assign = seededRandom(7);
  log(`vectors: generating ${o.rows.toLocaleString('en-US')} × ${DIM} clustered embeddings (${CLUSTERS} clusters, ${LATENT}-d latent)`);
  const data: Float32Array[] = [];
  const agentOf: number[] = [];
  for (let r = 0; r < o.rows; r++) {
    data.push(model.sample());
    agentOf.push(Math.floor(assign() * AGENTS));
  }
  const norms = Float64Array.from(data, (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0)));

  // The migration's definition; a previous run interrupted between drop and rebuild leaves it missing.
  const hnsw = (
    await pool.query<{ indexdef: string }>(
      `select indexdef from pg_indexes where schemaname = current_schema() and indexname = 'memories_embedding_hnsw_idx'`,
    )
  ).rows[0] ?? { indexdef: MIGRATION_HNSW_INDEX };
  // Bulk load without the index, then build it in one pass (much faster than 20k incremental graph inserts).
  await pool.query('drop index if exists memories_embedding_hnsw_idx');
  const loadStart = performance.now();
  const ids: string[] = new Array(o.rows);
  let loaded = 0;
  let nextBatch = 0;
  const batches = Math.ceil(o.rows / LOAD_BATCH);
  const loader = async () => {
    for (let b = nextBatch++; b < batches; b = nextBatch++) {
      const from = b * LOAD_BATCH;
      const to = Math.min(o.rows, from + LOAD_BATCH);
      const params: unknown[] = [];
      const tuples: string[] = [];
      for (let r = from; r < to; r++) {
        const p = params.length;
        params.push(agents[agentOf[r]].id, `synthetic memory ${r}`, vectorText(data[r]), r % 10 === 0 ? 'preference' : 'fact');
        tuples.push(`(gen_random_uuid(), $${p + 1}::uuid, $${p + 2}, $${p + 3}::vector, $${p + 4}, '{}', now(), now(), 'bench-synthetic')`);
      }
      const res = await pool.query<{ id: string; n: number }>(
        `with ins as (
           insert into memories (id, organization_id, agent_id, content, embedding, kind, metadata, created_at, updated_at, embedding_model)
           select v.id, '${org.id}'::uuid, v.agent_id, v.content, v.embedding, v.kind, v.metadata::jsonb, v.created_at, v.updated_at, v.model
             from (values ${tuples.join(', ')}) as v(id, agent_id, content, embedding, kind, metadata, created_at, updated_at, model)
           returning id, content)
         select id, substring(content from 18)::int as n from ins`,
        params,
      );
      for (const row of res.rows) ids[row.n] = row.id;
      loaded += to - from;
      if (b % 8 === 0 || loaded === o.rows) {
        const s = (performance.now() - loadStart) / 1000;
        log(`  loaded ${loaded.toLocaleString('en-US')}/${o.rows.toLocaleString('en-US')} rows (${fmtNum(loaded / s)} rows/s)`);
      }
    }
  };
  await Promise.all([loader(), loader()]);
  const loadSeconds = (performance.now() - loadStart) / 1000;

  log(`  building HNSW index: ${hnsw.indexdef}`);
  const buildStart = performance.now();
  const client = await pool.connect();
  try {
    await client.query(`set maintenance_work_mem = '1GB'`);
    await client.query(hnsw.indexdef);
  } finally {
    client.release();
  }
  const buildSeconds = (performance.now() - buildStart) / 1000;
  await pool.query('analyze memories');
  log(`  index built in ${buildSeconds.toFixed(1)} s; ANALYZE done`);

  const queries = Array.from({ length: Math.max(o.queries, 50) }, () => model.sample());
  const queryArrays = queries.map((q) => Array.from(q));
  const filteredRows = agentOf.flatMap((a, r) => (a === 0 ? [r] : []));
  const allRows = data.map((_, r) => r);
  log(`  filter: agent_id = agent 0 matches ${filteredRows.length} rows (${((100 * filteredRows.length) / o.rows).toFixed(2)}%)`);

  // ---- the SQL the repository issues, and the plan PostgreSQL picks for it -------------------------------
  const cases: SearchCase[] = [
    { label: "vector top-10, strategy 'ann', unfiltered", strategy: 'ann', filter: {} },
    { label: "vector top-10, strategy 'ann', 1% filter", strategy: 'ann', filter: { agentId: filterAgent } },
    { label: "vector top-10, strategy 'exact', 1% filter", strategy: 'exact', filter: { agentId: filterAgent } },
  ];
  const sqlOf = async (c: SearchCase) => {
    const sink: Prisma.Sql[] = [];
    await repo.search(org.id, { embedding: queryArrays[0], k: 10, mode: 'vector', strategy: c.strategy, filter: c.filter }, recordingDb(prisma, sink));
    if (sink.length !== 1) throw new Error(`expected one statement for ${c.label}, the repository issued ${sink.length}`);
    return sink[0];
  };
  const plans: Record<string, string> = {};
  const sqlTexts: Record<string, string> = {};
  for (const c of cases) {
    const sql = await sqlOf(c);
    sqlTexts[c.label] = sql.text.replace(/\s+/g, ' ').trim();
    const plan = (await pool.query<{ 'QUERY PLAN': string }>(`explain (costs off) ${sql.text}`, sql.values as unknown[])).rows
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    plans[c.label] = plan;
    log(`  plan for ${c.label}: ${plan.includes('hnsw') ? 'HNSW index scan' : 'no HNSW (exact scan)'}`);
  }

  // ---- 2. throughput: repository.search vs the same SQL via pg -----------------------------------------
  const comparisons: Comparison[] = [];
  for (const c of cases) {
    log(`vectors: ${c.label} — repository vs raw pg`);
    const template = await sqlOf(c);
    const vectorPositions = template.values.flatMap((v, i) => (v === (toSql(queryArrays[0]) as string) ? [i] : []));
    if (!vectorPositions.length) throw new Error('could not find the query vector among the statement parameters');
    const text = template.text;
    let qi = 0;
    const subject: Side = {
      name: 'repository',
      async op() {
        const q = queryArrays[qi++ % queryArrays.length];
        const rows = await repo.search(org.id, { embedding: q, k: 10, mode: 'vector', strategy: c.strategy, filter: c.filter });
        return rows.length === 10 ? 1 : Promise.reject(new Error(`repository returned ${rows.length} rows`));
      },
    };
    const baseline: Side = {
      name: 'raw pg',
      async op() {
        const q = queryArrays[qi++ % queryArrays.length];
        const values = [...template.values] as unknown[];
        const literal = toSql(q) as string;
        for (const i of vectorPositions) values[i] = literal;
        const res = await pool.query(text, values);
        return res.rowCount === 10 ? 1 : Promise.reject(new Error(`raw returned ${res.rowCount} rows`));
      },
    };
    const r = await compare(baseline, subject, {
      rounds: o.rounds,
      sliceMs: o.sliceMs,
      warmupMs: o.warmupMs,
      concurrency: 1,
      onRound: (i, b, s) => log(`  round ${i + 1}/${o.rounds}: raw ${fmtNum(b)} q/s, repository ${fmtNum(s)} q/s (${(s / b).toFixed(2)}×)`),
    });
    comparisons.push({
      section: 'vectors',
      case: c.label,
      unit: 'q/s',
      baseline: r.baseline.rate,
      subject: r.subject.rate,
      ratio: r.ratio,
      goal: o.goalThroughput,
      met: r.ratio >= o.goalThroughput,
      roundRatios: r.roundRatios,
      details: { strategy: c.strategy, filter: c.filter, baseline: r.baseline, subject: r.subject, sql: sqlTexts[c.label] },
    });
  }

  // ---- 3. recall@10 and latency: HNSW ('ann') vs exact, through the repository ---------------------------
  const recall: RecallRow[] = [];
  let exactVsJs: { checked: number; agreement: number } = { checked: 0, agreement: 0 };
  for (const [label, filter, rows] of [
    ['unfiltered', {}, allRows],
    ['1% filter (one agent of 100)', { agentId: filterAgent }, filteredRows],
  ] as Array<[string, MemorySearchFilter, number[]]>) {
    log(`vectors: recall@10, ${label}, ${queries.length} queries`);
    const timeOf = async (strategy: SearchStrategy, q: number[]) => {
      const t0 = process.hrtime.bigint();
      const hits = await repo.search(org.id, { embedding: q, k: 10, mode: 'vector', strategy, filter });
      return { ms: Number(process.hrtime.bigint() - t0) / 1e6, ids: hits.map((h) => h.id) };
    };
    // Warm-up both paths.
    for (let i = 0; i < 3; i++) {
      await timeOf('ann', queryArrays[i]);
      await timeOf('exact', queryArrays[i]);
    }
    let annMs = 0;
    let exactMs = 0;
    const recalls: number[] = [];
    for (let i = 0; i < queries.length; i++) {
      // Alternate which runs first, so cache effects favour neither.
      const first = i % 2 === 0 ? 'ann' : 'exact';
      const a = await timeOf(first, queryArrays[i]);
      const b = await timeOf(first === 'ann' ? 'exact' : 'ann', queryArrays[i]);
      const ann = first === 'ann' ? a : b;
      const exact = first === 'ann' ? b : a;
      annMs += ann.ms;
      exactMs += exact.ms;
      const truth = new Set(exact.ids);
      recalls.push(ann.ids.filter((id) => truth.has(id)).length / Math.max(1, Math.min(10, truth.size)));
      // Sanity check of the reference: the database's exact answer equals a JavaScript brute force.
      if (i < 10) {
        const js = cosineTopK(data, norms, rows, queries[i], 10).map((r) => ids[r]);
        exactVsJs = {
          checked: exactVsJs.checked + 1,
          agreement: exactVsJs.agreement + js.filter((id) => truth.has(id)).length / 10,
        };
      }
      if ((i + 1) % 25 === 0) log(`  ${i + 1}/${queries.length} queries`);
    }
    const mean = recalls.reduce((s, x) => s + x, 0) / recalls.length;
    recall.push({
      case: label,
      queries: queries.length,
      annMsPerQuery: annMs / queries.length,
      exactMsPerQuery: exactMs / queries.length,
      speedup: exactMs / annMs,
      recallAt10: mean,
      minRecall: Math.min(...recalls),
      goal: o.goalRecall,
      met: mean >= o.goalRecall,
    });
  }

  // The planner may answer a selective filter from the btree and sort (then 'ann' is exact, as the plan line
  // above says). To measure what HNSW itself returns under the filter (iterative scan), force it: with
  // enable_sort = off the only plan that avoids a Sort is the HNSW index scan. Raw pg, same SQL as 'ann'.
  {
    const annFiltered = await sqlOf(cases[1]);
    const vectorPositions = annFiltered.values.flatMap((v, i) => (v === (toSql(queryArrays[0]) as string) ? [i] : []));
    const client = await pool.connect();
    try {
      const run = async (q: number[], forced: boolean, explain = false) => {
        const values = [...annFiltered.values] as unknown[];
        for (const i of vectorPositions) values[i] = toSql(q) as string;
        await client.query('begin');
        try {
          if (forced) await client.query('set local enable_sort = off');
          const t0 = process.hrtime.bigint();
          const res = await client.query<{ id: string; 'QUERY PLAN'?: string }>(`${explain ? 'explain (costs off) ' : ''}${annFiltered.text}`, values);
          return { ms: Number(process.hrtime.bigint() - t0) / 1e6, rows: res.rows };
        } finally {
          await client.query('commit');
        }
      };
      const plan = (await run(queryArrays[0], true, true)).rows.map((r) => r['QUERY PLAN']).join('\n');
      plans['1% filter, HNSW forced (enable_sort = off)'] = plan;
      if (!plan.includes('hnsw')) {
        log('  could not force the HNSW plan under the filter; skipping that recall row');
      } else {
        log(`vectors: recall@10, 1% filter with the HNSW plan forced (raw pg, enable_sort = off), ${queries.length} queries`);
        for (let i = 0; i < 3; i++) await run(queryArrays[i], true);
        let annMs = 0;
        let exactMs = 0;
        const recalls: number[] = [];
        for (let i = 0; i < queries.length; i++) {
          const first = i % 2 === 0;
          const a = await run(queryArrays[i], first);
          const b = await run(queryArrays[i], !first);
          const ann = first ? a : b;
          const exact = first ? b : a; // the planner's own choice for this SQL: btree + sort, exact
          annMs += ann.ms;
          exactMs += exact.ms;
          const truth = new Set(exact.rows.map((r) => r.id));
          recalls.push(ann.rows.filter((r) => truth.has(r.id)).length / Math.max(1, Math.min(10, truth.size)));
        }
        const mean = recalls.reduce((x, y) => x + y, 0) / recalls.length;
        recall.push({
          case: '1% filter, HNSW plan forced (raw pg)',
          queries: queries.length,
          annMsPerQuery: annMs / queries.length,
          exactMsPerQuery: exactMs / queries.length,
          speedup: exactMs / annMs,
          recallAt10: mean,
          minRecall: Math.min(...recalls),
          goal: o.goalRecall,
          met: mean >= o.goalRecall,
        });
      }
    } finally {
      client.release();
    }
  }

  const jsAgreement = exactVsJs.agreement / Math.max(1, exactVsJs.checked);
  log(`  sanity: database exact top-10 vs JavaScript brute force agree on ${(100 * jsAgreement).toFixed(1)}% of ids (${exactVsJs.checked} queries per case)`);

  return {
    comparisons,
    recall,
    info: {
      description: `${o.rows.toLocaleString('en-US')} memories × ${DIM} d, synthetic CLUSTERED data: ${CLUSTERS} centroids + ${LATENT}-d latent + noise, not uniform random; 1% filter = one agent of ${AGENTS} (${filteredRows.length} rows); recall vs the repository's exact strategy`,
      rows: o.rows,
      dimensions: DIM,
      clusters: CLUSTERS,
      latentDimensions: LATENT,
      latentVariance: LATENT_VARIANCE,
      noiseSigma: NOISE_SIGMA,
      filterRows: filteredRows.length,
      loadSeconds,
      loadRowsPerSecond: o.rows / loadSeconds,
      indexBuildSeconds: buildSeconds,
      indexDefinition: hnsw.indexdef,
      exactVsJavaScriptAgreement: jsAgreement,
      plans,
      sql: sqlTexts,
    },
  };
}
