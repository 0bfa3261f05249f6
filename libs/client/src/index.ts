// @agenthub/client — the typed client for the AgentHub HTTP API.
export { clientOf, createAgentHubClient, retryingFetch, takesIdempotencyKey, type AgentHubClient, type AgentHubClientOptions, type AgentHubConnection } from './client';
export { AgentHubDirectory } from './directory';
export { retryAfterMs, sleep } from './timing';
export { decodeEmbedding, encodeEmbedding, serializeBody } from './embeddings';
export { AgentHubError, isStatus, type Problem } from './errors';
export { subscribeEvents, type LiveEvent, type SubscribeOptions } from './events';
export { paginate, type PageOf } from './paginate';
export type { components, operations, paths } from './generated/openapi';
