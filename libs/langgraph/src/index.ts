// @agenthub/langgraph — LangGraph.js persistence in AgentHub.
export { AgentHubSaver, clientOf, type AgentHubConnection } from './saver';
