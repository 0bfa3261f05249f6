import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import type { ApiKeyRow } from '@agenthub/db';
import { isoDateTime, pageQuery, pageSchema, uuid } from '../common/http/schemas';
import { roleSchema } from '../users/user.dto';

export const createApiKeySchema = z.strictObject({
  name: z.string().trim().min(1, 'required').max(1000),
  role: roleSchema,
  userId: uuid.nullable().optional().describe('the user the key acts for'),
});
export class CreateApiKeyDto extends createZodDto(createApiKeySchema) {}
export class ListApiKeysQuery extends createZodDto(z.object(pageQuery)) {}

export const apiKeySchema = z
  .object({
    id: uuid,
    name: z.string(),
    role: roleSchema,
    prefix: z.string().describe('the first characters of the key, to recognise it'),
    userId: uuid.nullable(),
    lastUsedAt: isoDateTime.nullable(),
    revokedAt: isoDateTime.nullable(),
    createdAt: isoDateTime,
  })
;
export type ApiKeyView = z.input<typeof apiKeySchema>;
export const createdApiKeySchema = apiKeySchema.extend({ key: z.string().describe('the secret: shown once, stored hashed') });
export type CreatedApiKeyView = z.input<typeof createdApiKeySchema>;

export class ApiKeyDto extends createZodDto(apiKeySchema) {}
export class CreatedApiKeyDto extends createZodDto(createdApiKeySchema) {}
export class ApiKeyPageDto extends createZodDto(pageSchema(apiKeySchema)) {}

export function toApiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    role: row.role,
    prefix: row.prefix,
    userId: row.userId,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    revokedAt: row.revokedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
  };
}
