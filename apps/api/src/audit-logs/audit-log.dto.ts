import { createZodDto } from '../common/http/zod-dto';
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
  checked: z.number().int().describe('entries checked before verification stopped: sealed + pending'),
  sealed: z.number().int().describe('entries of the hash chain checked (hash, link to the previous entry, chain head)'),
  pending: z
    .number()
    .int()
    .describe('entries not sealed into the chain yet (normally sealed within ms of their commit), checked by their MAC'),
  oldestPendingSeconds: z.number().nullable().describe('age of the oldest pending entry; null when none is pending'),
  brokenAt: z
    .object({
      seq: z.number().int().optional().describe('the entry\'s position in the chain (sealed entries)'),
      id: z.string().optional().describe('the entry\'s id (an entry that is not in the chain: pending, or after its head)'),
      reason: z.string(),
    })
    .optional()
    .describe('the first entry that does not verify'),
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
