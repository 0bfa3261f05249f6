import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import type { OrganizationRow } from '@agenthub/db';
import { isoDateTime, pageQuery, pageSchema, uuid } from '../common/http/schemas';
import { userSchema } from '../users/user.dto';

export const createOrganizationSchema = z.strictObject({
  name: z.string().trim().min(1, 'required').max(1000),
  ownerEmail: z.email('must be an email address').max(320),
});
export class CreateOrganizationDto extends createZodDto(createOrganizationSchema) {}

export class ListOrganizationsQuery extends createZodDto(z.object(pageQuery)) {}

export const organizationSchema = z.object({ id: uuid, name: z.string(), createdAt: isoDateTime });
export type OrganizationView = z.input<typeof organizationSchema>;

export const createdOrganizationSchema = z.object({
  organization: organizationSchema,
  user: userSchema,
  apiKey: z.object({ id: uuid, key: z.string(), role: z.literal('owner') }),
});
export class CreatedOrganizationDto extends createZodDto(createdOrganizationSchema) {}
export class OrganizationDto extends createZodDto(organizationSchema) {}
export class OrganizationPageDto extends createZodDto(pageSchema(organizationSchema)) {}

export function toOrganizationView(row: OrganizationRow): OrganizationView {
  return { id: row.id, name: row.name, createdAt: row.createdAt.toISOString() };
}
