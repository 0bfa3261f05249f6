/**
 * On-demand benchmark of LangGraph checkpointing through AgentHub (not a test): AgentHubSaver over HTTP vs
 * LangGraph's PostgresSaver on the same PostgreSQL, side by side. See tools/bench/src/langgraph.ts.
 *
 *   npx tsx tools/bench/src/langgraph.main.ts [--quick] [--concurrency 8]
 *
 * Database: BENCH_LANGGRAPH_DATABASE_URL, default postgresql://postgres@127.0.0.1:5432/agenthub_bench_langgraph
 * (its own: the bench empties it).
 */
import { parseOptions, runUnderBenchTsconfig } from './entry';

function parseArgs(argv: string[]) {
  return parseOptions(argv, { '--concurrency': 'concurrency' }, 'usage: tsx tools/bench/src/langgraph.main.ts [--quick] [--concurrency 8]');
}

export async function main(): Promise<void> {
  const { runLangGraphBench, langGraphBenchReport } = await import('./langgraph');
  const { log, writeJson } = await import('./report');
  const { workspaceRoot } = await import('./db');
  const args = parseArgs(process.argv.slice(2));
  const root = workspaceRoot(__dirname);
  const timing = args.quick ? { rounds: 3, sliceMs: 2000, warmupMs: 1000 } : { rounds: 6, sliceMs: 4000, warmupMs: 2000 };
  log(`langgraph bench: ${args.quick ? 'quick' : 'full'} run`);
  const result = await runLangGraphBench({
    url: process.env.BENCH_LANGGRAPH_DATABASE_URL?.trim() || 'postgresql://postgres@127.0.0.1:5432/agenthub_bench_langgraph',
    root,
    poolSize: Number(process.env.DATABASE_POOL_SIZE || 10),
    concurrency: args.concurrency ?? 8,
    ...timing,
  });
  console.log(langGraphBenchReport(result));
  const file = writeJson(root, { startedAt: new Date().toISOString(), args, ...result }, 'langgraph');
  log(`results written to ${file}`);
}

if (require.main === module) runUnderBenchTsconfig(__filename, main);
