// A second process resuming an interrupted graph from AgentHub (graph.test.ts): argv baseUrl apiKey threadId.
import { Command } from '@langchain/langgraph';
import { AgentHubSaver } from '../src';
import { reviewGraph } from './graph';

async function main(): Promise<void> {
  const [baseUrl, apiKey, threadId] = process.argv.slice(2);
  const graph = reviewGraph(new AgentHubSaver({ baseUrl, apiKey }));
  const config = { configurable: { thread_id: threadId } };
  const before = await graph.getState(config);
  const result = await graph.invoke(new Command({ resume: { approve: true } }), config);
  process.stdout.write(JSON.stringify({ next: before.next, steps: result.steps, approved: result.approved, messages: result.messages.map((m: { content: unknown }) => m.content) }));
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
