import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';
import type { AgentRow } from '@agenthub/db';
import { booleanQuery, isoDateTime, jsonObject, pageQuery, pageSchema, uuid } from '../common/http/schemas';

export const agentTypeSchema = z.enum(['regular', 'sequential', 'parallel', 'loop']);

const agentFields = {
  name: z.string().trim().min(1, 'required').max(1000),
  description: z.string().max(100_000).nullable().optional(),
  type: agentTypeSchema.optional().describe('default regular'),
  persona: jsonObject.optional(),
  config: jsonObject.optional(),
  tools: z.array(z.string().min(1).max(1000)).max(1000).optional(),
  subAgentIds: z.array(uuid).max(1000).optional(),
  planner: z.string().max(1000).nullable().optional(),
  metadata: jsonObject.optional(),
};

export const createAgentSchema = z.strictObject(agentFields);
export class CreateAgentDto extends createZodDto(createAgentSchema) {}

export const updateAgentSchema = z.strictObject({
  ...agentFields,
  name: agentFields.name.optional(),
  isActive: z.boolean().optional().describe('false deactivates (like DELETE), true reactivates'),
});
export class UpdateAgentDto extends createZodDto(updateAgentSchema) {}

export class ListAgentsQuery extends createZodDto(
  z.object({
    ...pageQuery,
    includeInactive: booleanQuery.optional().describe('include deactivated agents'),
    name: z.string().trim().min(1).max(1000).optional().describe('only agents with exactly this name (names are not unique)'),
  }),
) {}

export const agentSchema = z
  .object({
    id: uuid,
    name: z.string(),
    description: z.string().nullable(),
    type: agentTypeSchema,
    persona: jsonObject,
    config: jsonObject,
    tools: z.array(z.string()),
    subAgentIds: z.array(uuid),
    planner: z.string().nullable(),
    metadata: jsonObject,
    version: z.number().int(),
    isActive: z.boolean(),
    usageCount: z.number().int(),
    lastUsedAt: isoDateTime.nullable(),
    createdAt: isoDateTime,
    updatedAt: isoDateTime,
  })
;
export type AgentView = z.input<typeof agentSchema>;
export class AgentDto extends createZodDto(agentSchema) {}
export class AgentPageDto extends createZodDto(pageSchema(agentSchema)) {}

export function toAgentView(row: AgentRow): AgentView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    type: row.type,
    persona: row.persona as Record<string, unknown>,
    config: row.config as Record<string, unknown>,
    tools: row.tools,
    subAgentIds: row.subAgentIds,
    planner: row.planner,
    metadata: row.metadata as Record<string, unknown>,
    version: row.version,
    isActive: row.isActive,
    usageCount: row.usageCount,
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
