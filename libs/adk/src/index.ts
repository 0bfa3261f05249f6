// @agenthub/adk — Google ADK sessions and memory stored in AgentHub.
export { clientOf, type AgentHubConnection } from '@agenthub/client';
export { AgentHubSessionService, toEvents } from './session-service';
export { AgentHubMemoryService, type AgentHubMemoryServiceOptions, type Embedder } from './memory-service';
export { CLIENT_ID_PREFIX, EVENT_KEY, eventIdOf, eventMessages, eventOf, type AdkEventLike, type MessageInput } from './mapping';
