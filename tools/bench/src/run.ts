/** The benchmark itself; main.ts starts it under tools/bench/tsconfig.json (decorator support). */
import 'reflect-metadata';
import { DEFAULT_URL, machineFacts, prepareDatabase, prismaService, rawPool, truncateAll } from './db';
import { runDiagnostics } from './diagnostics';
import { runMessageBench } from './messages';
import { comparisonTable, log, recallTable, writeJson, type Comparison, type RecallRow } from './report';
import { workspaceRoot } from '@agenthub/db';

interface Args {
  only: 'messages' | 'vectors' | null;
  rows: number;
  queries: number;
  quick: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { only: null, rows: 20_000, queries: 100, quick: false };
  let rowsGiven = false;
  let queriesGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => inline ?? argv[++i];
    switch (flag) {
      case '--only': {
        const v = value();
        if (v !== 'messages' && v !== 'vectors') throw new Error(`--only must be messages or vectors, got ${v}`);
        args.only = v;
        break;
      }
      case '--rows':
        args.rows = Number(value());
        rowsGiven = true;
        if (!Number.isInteger(args.rows) || args.rows < 1000) throw new Error('--rows must be an integer ≥ 1000');
        break;
      case '--queries':
        args.queries = Number(value());
        queriesGiven = true;
        if (!Number.isInteger(args.queries) || args.queries < 1) throw new Error('--queries must be a positive integer');
        break;
      case '--quick':
        args.quick = true;
        break;
      case '--help':
      case '-h':
        console.log('usage: tsx tools/bench/src/main.ts [--only messages|vectors] [--rows 20000] [--queries 100] [--quick]');
        process.exit(0);
      // eslint-disable-next-line no-fallthrough
      default:
        throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (args.quick) {
    if (!rowsGiven) args.rows = 5_000;
    if (!queriesGiven) args.queries = 20;
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const url = process.env.BENCH_DATABASE_URL?.trim() || DEFAULT_URL;
  const root = workspaceRoot(__dirname);
  const poolSize = Number(process.env.DATABASE_POOL_SIZE || 10);
  log(`bench: ${args.quick ? 'quick' : 'full'} run, ${args.only ?? 'messages + vectors'}`);

  await prepareDatabase(url);
  const pool = rawPool(url, poolSize);
  const prisma = prismaService(url);
  const comparisons: Comparison[] = [];
  const recall: RecallRow[] = [];
  let vectorInfo: Record<string, unknown> | undefined;
  try {
    await prisma.$connect();
    await truncateAll(pool);
    const facts = await machineFacts(pool, url, poolSize);
    log(`machine: ${facts.cpus} CPUs (${facts.cpuModel}), PostgreSQL ${facts.postgres}, pgvector ${facts.pgvector}`);

    const timing = args.quick
      ? { rounds: 2, sliceMs: 300, warmupMs: 300 }
      : { rounds: 6, sliceMs: 700, warmupMs: 800 };

    if (args.only !== 'vectors') {
      comparisons.push(
        ...(await runMessageBench(prisma, pool, { batchSizes: [1, 100], concurrencies: [1, 8], goal: 0.7, ...timing })),
      );
    }
    if (args.only !== 'messages') {
      const { runVectorBench } = await import('./vectors');
      const v = await runVectorBench(prisma, pool, {
        rows: args.rows,
        queries: args.queries,
        goalThroughput: 0.9,
        goalRecall: 0.95,
        ...timing,
      });
      comparisons.push(...v.comparisons);
      recall.push(...v.recall);
      vectorInfo = v.info;
    }
    comparisons.push(...(await runDiagnostics(prisma, pool, timing)));

    const out: string[] = [];
    out.push('', '## Repository vs raw pg (same run, same database; ratio = repository / raw, higher is better)', '');
    out.push(comparisonTable(comparisons));
    out.push('', 'baseline/subject: rate over all rounds; ratio: median of the per-round ratios (adjacent slices, alternating order) [min–max]; met? uses the median ratio');
    if (recall.length) {
      out.push('', `## HNSW vs exact (${vectorInfo?.description ?? ''})`, '');
      out.push(recallTable(recall));
    }
    out.push('', '## Machine', '');
    for (const [k, v] of Object.entries(facts)) out.push(`- ${k}: ${v}`);
    console.log(out.join('\n'));
    const file = writeJson(root, { startedAt: new Date().toISOString(), args, facts, comparisons, recall, vectors: vectorInfo });
    log(`results written to ${file}`);
  } finally {
    await prisma.$disconnect();
    await pool.end();
  }
}

export { main };
