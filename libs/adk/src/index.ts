// @agenthub/adk — Google ADK sessions and memory stored in AgentHub.
export { AgentHubSessionService, clientOf, toEvents, type AgentHubConnection } from './session-service';
export { AgentHubMemoryService, type AgentHubMemoryServiceOptions, type Embedder } from './memory-service';
export { CLIENT_ID_PREFIX, EVENT_KEY, eventIdOf, eventMessages, eventOf, type AdkEventLike, type MessageInput } from './mapping';
