// @agenthub/langgraph — LangGraph.js persistence in AgentHub.
export { clientOf, type AgentHubConnection } from '@agenthub/client';
export { AgentHubSaver } from './saver';
export { AgentHubStore, type AgentHubPutOperation, type AgentHubStoreOptions } from './store';
