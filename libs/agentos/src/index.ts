// @agenthub/agentos — AgentOS (@framers/agentos) conversations, messages and memory stored in AgentHub.
export { AgentHubStorageAdapter, type AgentHubStorageAdapterOptions } from './storage-adapter';
export { AgentHubConversationMemory, type AgentHubConversationMemoryOptions } from './conversation-memory';
export { AgentHubMemoryArchive, ARCHIVE_DOCUMENT_KIND, type AgentHubMemoryArchiveOptions, type ArchiveAccess, type ArchiveRecord } from './archive';
export { AgentHubMemoryBackend, toTrace, type AgentHubMemoryBackendOptions, type Embedder } from './memory-backend';
