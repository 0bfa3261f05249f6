import { AgentHubDirectory, type AgentHubClient, type components } from '@agenthub/client';

type Conversation = components['schemas']['ConversationDto_Output'];

/** The conversation of an ADK session, if any (a deleted one is not found). */
export async function findConversation(client: AgentHubClient, agentId: string, userId: string, sessionId: string): Promise<Conversation | undefined> {
  const { data } = await client.GET('/api/v1/conversations', { params: { query: { agentId, userId, sessionId, limit: 1 } } });
  return data!.data[0];
}

/** An app's agent and a user's id together, or undefined when either does not exist. */
export async function findAppUser(client: AgentHubClient, appName: string, userId: string): Promise<{ agentId: string; userId: string } | undefined> {
  const directory = new AgentHubDirectory(client, 'adk-app');
  const [agentId, uid] = await Promise.all([directory.findAgentId(appName), directory.findUserId(userId)]);
  return agentId && uid ? { agentId, userId: uid } : undefined;
}
