import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import type { UserRow } from '@agenthub/db';
import { isoDateTime, jsonObject, pageQuery, pageSchema, uuid } from '../common/http/schemas';

export const ROLES = ['owner', 'admin', 'member', 'viewer'] as const;
export const roleSchema = z.enum(ROLES);

const userFields = {
  email: z.email('must be an email address').max(320).nullable().optional(),
  externalId: z.string().trim().min(1).max(1000).nullable().optional(),
  name: z.string().max(1000).nullable().optional(),
  role: roleSchema.optional().describe('default member'),
  metadata: jsonObject.optional(),
};

export const createUserSchema = z
  .strictObject(userFields)
  .refine((u) => !!u.email || !!u.externalId, { message: 'email or externalId is required', path: ['email'] });
export class CreateUserDto extends createZodDto(createUserSchema) {}

export const updateUserSchema = z.strictObject(userFields);
export class UpdateUserDto extends createZodDto(updateUserSchema) {}

export class ListUsersQuery extends createZodDto(
  z.object({ ...pageQuery, externalId: z.string().trim().min(1).max(1000).optional().describe('only the user with this externalId (exact match)') }),
) {}

export const userSchema = z
  .object({
    id: uuid,
    email: z.string().nullable(),
    externalId: z.string().nullable(),
    name: z.string().nullable(),
    role: roleSchema,
    metadata: jsonObject,
    version: z.number().int().describe('goes up by one with every change; send it as If-Match to update only that version'),
    createdAt: isoDateTime,
    updatedAt: isoDateTime,
  })
;
export type UserView = z.input<typeof userSchema>;
export class UserDto extends createZodDto(userSchema) {}
export class UserPageDto extends createZodDto(pageSchema(userSchema)) {}

export function toUserView(row: UserRow): UserView {
  return {
    id: row.id,
    email: row.email,
    externalId: row.externalId,
    name: row.name,
    role: row.role,
    metadata: row.metadata as Record<string, unknown>,
    version: row.version,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
