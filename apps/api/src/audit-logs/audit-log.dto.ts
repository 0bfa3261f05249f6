import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';
import type { AuditEntry } from '@agenthub/db';
import { isoDateTime, pageQuery, pageSchema } from '../common/http/schemas';

export class ListAuditLogsQuery extends createZodDto(
  z.object({
    ...pageQuery,
    entityType: z.string().min(1).max(255).optional().describe('agent, user, api_key, conversation, message, memory, document, payment'),
    entityId: z.string().min(1).max(255).optional(),
  }),
) {}

export const auditEntrySchema = z.object({
  id: z.string(),
  at: isoDateTime,
  actor: z.string().describe('key:<keyId> role:<role> [user:<userId>]'),
  action: z.string().describe('<entity>.<verb>, e.g. agent.update'),
  entityType: z.string(),
  entityId: z.string().nullable(),
  before: z.unknown().describe('the entity before the change (null on create)'),
  after: z.unknown().describe('the entity after the change (null on delete)'),
  requestId: z.string().nullable().describe('the x-request-id of the request that made the change'),
});
export type AuditEntryView = z.input<typeof auditEntrySchema>;
export class AuditEntryPageDto extends createZodDto(pageSchema(auditEntrySchema)) {}

export const auditVerificationSchema = z.object({
  ok: z.boolean(),
  checked: z.number().int().describe('entries whose hash and link were checked'),
  brokenAt: z.object({ seq: z.number().int(), reason: z.string() }).optional().describe('the first entry that does not verify'),
});
export type AuditVerificationView = z.input<typeof auditVerificationSchema>;
export class AuditVerificationDto extends createZodDto(auditVerificationSchema) {}

export function toAuditEntryView(entry: AuditEntry): AuditEntryView {
  return {
    id: entry.id,
    at: entry.at.toISOString(),
    actor: entry.actor,
    action: entry.action,
    entityType: entry.entityType,
    entityId: entry.entityId,
    before: entry.before,
    after: entry.after,
    requestId: entry.requestId,
  };
}
