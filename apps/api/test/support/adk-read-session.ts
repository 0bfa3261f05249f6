// A second process reading an ADK session back from AgentHub (adk.e2e-spec.ts): argv baseUrl apiKey appName userId sessionId.
import { AgentHubSessionService } from '@agenthub/adk';

async function main(): Promise<void> {
  const [baseUrl, apiKey, appName, userId, sessionId] = process.argv.slice(2);
  const sessions = new AgentHubSessionService({ baseUrl, apiKey });
  const session = await sessions.getSession({ appName, userId, sessionId });
  process.stdout.write(JSON.stringify(session ?? null));
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
