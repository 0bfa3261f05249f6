import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import { MAX_INGEST_BATCH, type UsageRow } from '@agenthub/db';
import { isoDateTime, jsonObject, uuid } from '../common/http/schemas';

export const ingestEventsSchema = z.strictObject({
  events: z
    .array(
      z.strictObject({
        type: z.string().min(1, 'required').max(100),
        agentId: uuid.nullable().optional(),
        conversationId: uuid.nullable().optional(),
        userId: uuid.nullable().optional(),
        data: jsonObject.nullable().optional(),
        occurredAt: isoDateTime.nullable().optional().describe('default: when it was received'),
      }),
    )
    .min(1, 'must hold at least one event')
    .max(MAX_INGEST_BATCH, `at most ${MAX_INGEST_BATCH} events`),
});
export type IngestEventsBody = z.infer<typeof ingestEventsSchema>;
export class IngestEventsDto extends createZodDto(ingestEventsSchema) {}
export class AcceptedDto extends createZodDto(z.object({ accepted: z.number().int() })) {}

export class UsageQueryDto extends createZodDto(
  z.object({
    from: isoDateTime.optional().describe('inclusive; default: `to` minus 7 days'),
    to: isoDateTime.optional().describe('exclusive; default: now'),
    interval: z.enum(['day', 'hour']).optional().describe('UTC buckets, default day'),
    agentId: uuid.optional(),
  }),
) {}

export const usageRowSchema = z.object({
  bucket: isoDateTime.describe('start of the UTC day or hour'),
  agentId: uuid.nullable().describe('null: events recorded without an agent'),
  conversations: z.number().int(),
  messages: z.number().int(),
  tokens: z.number().int(),
  events: z.number().int(),
});
export type UsageView = z.input<typeof usageRowSchema>;
export class UsageDto extends createZodDto(z.object({ data: z.array(usageRowSchema) })) {}

export function toUsageView(row: UsageRow): UsageView {
  return { ...row, bucket: row.bucket.toISOString() };
}
