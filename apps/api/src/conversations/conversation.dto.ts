import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import type { ConversationRow } from '@agenthub/db';
import { isoDateTime, jsonObject, pageQuery, pageSchema, uuid } from '../common/http/schemas';
import { messageInputSchema, messageSchema } from '../messages/message.dto';

export const createConversationSchema = z.strictObject({
  agentId: uuid,
  userId: uuid.nullable().optional(),
  sessionId: z.string().min(1).max(1000).nullable().optional(),
  title: z.string().max(1000).nullable().optional(),
  metadata: jsonObject.optional(),
  initialMessage: messageInputSchema.optional().describe('appended as seq 1 in the same transaction'),
});
export class CreateConversationDto extends createZodDto(createConversationSchema) {}

export const updateConversationSchema = z.strictObject({
  title: z.string().max(1000).nullable().optional(),
  status: z.enum(['active', 'archived']).optional(),
  metadata: jsonObject.optional(),
});
export class UpdateConversationDto extends createZodDto(updateConversationSchema) {}

export class ListConversationsQuery extends createZodDto(
  z.object({
    ...pageQuery,
    agentId: uuid.optional(),
    userId: uuid.optional(),
    sessionId: z.string().min(1).max(1000).optional().describe('only conversations with this sessionId (exact match)'),
    status: z.enum(['active', 'archived']).optional(),
  }),
) {}

export const conversationSchema = z
  .object({
    id: uuid,
    agentId: uuid,
    userId: uuid.nullable(),
    sessionId: z.string().nullable(),
    title: z.string().nullable(),
    status: z.enum(['active', 'archived']),
    messageCount: z.number().int(),
    lastMessageAt: isoDateTime.nullable(),
    metadata: jsonObject,
    createdAt: isoDateTime,
    updatedAt: isoDateTime,
  })
;
export type ConversationView = z.input<typeof conversationSchema> & { initialMessage?: z.input<typeof messageSchema> };
export class ConversationDto extends createZodDto(
  conversationSchema.extend({ initialMessage: messageSchema.optional().describe('when one was given') }),
) {}
export class ConversationPageDto extends createZodDto(pageSchema(conversationSchema)) {}

export function toConversationView(row: ConversationRow): ConversationView {
  return {
    id: row.id,
    agentId: row.agentId,
    userId: row.userId,
    sessionId: row.sessionId,
    title: row.title,
    status: row.status as 'active' | 'archived',
    messageCount: row.messageCount,
    lastMessageAt: row.lastMessageAt?.toISOString() ?? null,
    metadata: row.metadata as Record<string, unknown>,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
