// @agenthub/langgraph — LangGraph.js persistence in AgentHub.
export { AgentHubSaver, clientOf, type AgentHubConnection } from './saver';
export { AgentHubStore, type AgentHubPutOperation, type AgentHubStoreOptions } from './store';
