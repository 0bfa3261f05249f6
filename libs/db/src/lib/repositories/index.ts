import { AgentRepository } from './agent.repository';
import { ApiKeyRepository } from './api-key.repository';
import { ConversationRepository } from './conversation.repository';
import { MessageRepository } from './message.repository';
import { OrganizationRepository } from './organization.repository';
import { UserRepository } from './user.repository';

export * from './agent.repository';
export * from './api-key.repository';
export * from './conversation.repository';
export * from './message.repository';
export * from './organization.repository';
export * from './user.repository';

/** Every repository, for DbModule's providers. */
export const REPOSITORIES = [
  OrganizationRepository,
  UserRepository,
  ApiKeyRepository,
  AgentRepository,
  ConversationRepository,
  MessageRepository,
] as const;
