import { AgentRepository } from './agent.repository';
import { AnalyticsRepository } from './analytics.repository';
import { AuditLogRepository } from './audit-log.repository';
import { BackupRepository } from './backup.repository';
import { DocumentRepository } from './document.repository';
import { IdempotencyKeyRepository } from './idempotency-key.repository';
import { ImportRunRepository } from './import-run.repository';
import { MemoryRepository } from './memory.repository';
import { PaymentRepository } from './payment.repository';
import { ApiKeyRepository } from './api-key.repository';
import { ConversationRepository } from './conversation.repository';
import { ConversationEventRepository } from './conversation-event.repository';
import { MessageRepository } from './message.repository';
import { OrganizationRepository } from './organization.repository';
import { UserRepository } from './user.repository';
import { StatsRepository } from './stats.repository';
import { LangGraphRepository } from './langgraph.repository';
import { LangGraphStoreRepository } from './langgraph-store.repository';

export * from './agent.repository';
export * from './analytics.repository';
export * from './audit-log.repository';
export * from './backup.repository';
export * from './document.repository';
export * from './idempotency-key.repository';
export * from './import-run.repository';
export * from './memory.repository';
export * from './payment.repository';
export * from './api-key.repository';
export * from './conversation.repository';
export * from './conversation-event.repository';
export * from './message.repository';
export * from './organization.repository';
export * from './user.repository';
export * from './stats.repository';
export * from './langgraph.repository';
export * from './langgraph-store.repository';

/** Every repository, for DbModule's providers. */
export const REPOSITORIES = [
  OrganizationRepository,
  UserRepository,
  ApiKeyRepository,
  AgentRepository,
  ConversationRepository,
  ConversationEventRepository,
  MessageRepository,
  MemoryRepository,
  DocumentRepository,
  PaymentRepository,
  AnalyticsRepository,
  AuditLogRepository,
  IdempotencyKeyRepository,
  BackupRepository,
  ImportRunRepository,
  StatsRepository,
  LangGraphRepository,
  LangGraphStoreRepository,
] as const;
