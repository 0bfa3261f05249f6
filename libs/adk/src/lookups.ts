import type { AgentHubClient, components } from '@agenthub/client';

type Conversation = components['schemas']['ConversationDto_Output'];

/** The agent of an ADK app: the oldest active one with its name (as the ADK importer picks it), if any. */
export async function findAgentId(client: AgentHubClient, appName: string): Promise<string | undefined> {
  const { data } = await client.GET('/api/v1/agents', { params: { query: { name: appName, limit: 1 } } });
  return data!.data[0]?.id;
}

/** The AgentHub user of an ADK user id (its externalId), if any. */
export async function findUserId(client: AgentHubClient, externalId: string): Promise<string | undefined> {
  const { data } = await client.GET('/api/v1/users', { params: { query: { externalId, limit: 1 } } });
  return data!.data[0]?.id;
}

/** The conversation of an ADK session, if any (a deleted one is not found). */
export async function findConversation(client: AgentHubClient, agentId: string, userId: string, sessionId: string): Promise<Conversation | undefined> {
  const { data } = await client.GET('/api/v1/conversations', { params: { query: { agentId, userId, sessionId, limit: 1 } } });
  return data!.data[0];
}

/** An app's agent and a user's id together, or undefined when either does not exist. */
export async function findAppUser(client: AgentHubClient, appName: string, userId: string): Promise<{ agentId: string; userId: string } | undefined> {
  const [agentId, uid] = await Promise.all([findAgentId(client, appName), findUserId(client, userId)]);
  return agentId && uid ? { agentId, userId: uid } : undefined;
}
