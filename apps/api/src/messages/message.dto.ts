import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import { MESSAGE_LIMITS, MESSAGE_ROLES, MESSAGE_TYPES, type MessageRow } from '@agenthub/db';
import { isoDateTime, jsonObject, pageQuery, pageSchema, uuid } from '../common/http/schemas';

// Roles, types and limits: the data layer's definitions (MessageRepository checks the same ones).
export const messageRoleSchema = z.enum(MESSAGE_ROLES);
export const messageTypeSchema = z.enum(MESSAGE_TYPES);
const int32 = () => z.number().int().min(0).max(MESSAGE_LIMITS.integer);

/** A message input (API.md, Conversations and messages). */
export const messageInputSchema = z
  .strictObject({
    role: messageRoleSchema,
    content: z.string().max(MESSAGE_LIMITS.content).describe('may be empty, e.g. for a streaming message or a tool call'),
    messageType: messageTypeSchema.optional().describe('default text'),
    toolName: z.string().min(1).max(MESSAGE_LIMITS.name).nullable().optional(),
    toolArgs: jsonObject.nullable().optional(),
    toolCallId: z.string().min(1).max(MESSAGE_LIMITS.name).nullable().optional(),
    model: z.string().min(1).max(MESSAGE_LIMITS.name).nullable().optional(),
    tokensUsed: int32().nullable().optional(),
    metadata: jsonObject.optional(),
    clientId: z.string().min(1).max(MESSAGE_LIMITS.clientId).nullable().optional().describe('a repeated clientId returns the stored message'),
    isStreaming: z.boolean().optional().describe('true: starts incomplete; append chunks, then complete'),
  })
;
export type MessageInputBody = z.output<typeof messageInputSchema>;

export const messageBatchSchema = z.strictObject({
  messages: z.array(messageInputSchema).min(1).max(MESSAGE_LIMITS.perAppend),
});
/** For the OpenAPI document; requests are validated against the branch they are (see AppendMessagesPipe). */
export const appendMessagesSchema = z.union([messageInputSchema, messageBatchSchema]);
export type AppendMessagesBody = z.output<typeof appendMessagesSchema>;

export class ListMessagesQuery extends createZodDto(
  z.object({
    ...pageQuery,
    afterSeq: z.coerce.number().int().min(0).max(MESSAGE_LIMITS.integer).optional(),
    beforeSeq: z.coerce.number().int().min(0).max(MESSAGE_LIMITS.integer).optional(),
    order: z.enum(['asc', 'desc']).optional().describe('by seq; default asc'),
  }),
) {}

export class FindMessagesQuery extends createZodDto(
  z.object({
    clientId: z.string().min(1).max(MESSAGE_LIMITS.clientId).describe('exact clientId: the messages with it, one per conversation at most'),
    conversationId: uuid.optional().describe('only within this conversation'),
    limit: pageQuery.limit,
  }),
) {}

export const chunkSchema = z.strictObject({ delta: z.string().min(1).max(MESSAGE_LIMITS.content) });
export class ChunkDto extends createZodDto(chunkSchema) {}

export const completeSchema = z.strictObject({ tokensUsed: int32().nullable().optional() });
export class CompleteDto extends createZodDto(completeSchema) {}

export const messageSchema = z
  .object({
    id: uuid,
    conversationId: uuid,
    seq: z.number().int(),
    role: messageRoleSchema,
    content: z.string(),
    messageType: messageTypeSchema,
    toolName: z.string().nullable(),
    toolArgs: jsonObject.nullable(),
    toolCallId: z.string().nullable(),
    model: z.string().nullable(),
    tokensUsed: z.number().int().nullable(),
    metadata: jsonObject,
    clientId: z.string().nullable(),
    isStreaming: z.boolean(),
    isComplete: z.boolean(),
    createdAt: isoDateTime,
    updatedAt: isoDateTime,
  })
;
export type MessageView = z.input<typeof messageSchema>;
export class MessageDto extends createZodDto(messageSchema) {}
export class MessageListDto extends createZodDto(z.object({ data: z.array(messageSchema) })) {}
export class MessagePageDto extends createZodDto(pageSchema(messageSchema)) {}

/** Rows come from the repository's raw SQL, times already ISO 8601 strings (MessageRow). */
export function toMessageView(row: MessageRow): MessageView {
  return {
    id: row.id,
    conversationId: row.conversationId,
    seq: row.seq,
    role: row.role,
    content: row.content,
    messageType: row.messageType,
    toolName: row.toolName,
    toolArgs: row.toolArgs as Record<string, unknown> | null,
    toolCallId: row.toolCallId,
    model: row.model,
    tokensUsed: row.tokensUsed,
    metadata: row.metadata as Record<string, unknown>,
    clientId: row.clientId,
    isStreaming: row.isStreaming,
    isComplete: row.isComplete,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}
