// A second process continuing an AgentOS agent's conversation from AgentHub (agent.test.ts):
// argv baseUrl apiKey llmBaseUrl conversationId userId question
import { agent } from '@framers/agentos';
import { AgentHubConversationMemory } from '../src';

async function main(): Promise<void> {
  const [baseUrl, apiKey, llmBaseUrl, conversationId, userId, question] = process.argv.slice(2);
  const memory = new AgentHubConversationMemory({ baseUrl, apiKey }, { conversationId, userId, agentId: 'concierge' });
  const before = await memory.history();
  const bot = agent({ provider: 'openai', model: 'fake-model', apiKey: 'sk-test', baseUrl: llmBaseUrl, instructions: 'Be brief.', memoryProvider: memory });
  const reply = await bot.session(conversationId).send(question);
  await memory.flush();
  process.stdout.write(JSON.stringify({ before, reply: reply.text, after: await memory.history() }));
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
