import { createZodDto } from '../common/http/zod-dto';
import { z } from 'zod';

export const statsSchema = z.object({
  agents: z.number().int(),
  activeAgents: z.number().int(),
  conversations: z.number().int().describe('not deleted'),
  messages: z.number().int().describe('in conversations that are not deleted'),
  memories: z.number().int().describe('not expired'),
  documents: z.number().int(),
  payments: z.object({
    count: z.number().int(),
    volume: z.record(z.string(), z.string()).describe('captured minus refunded, per currency, decimal strings'),
  }),
});
export class StatsDto extends createZodDto(statsSchema) {}
