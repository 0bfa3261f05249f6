import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { createZodDto, ZodResponse } from 'nestjs-zod';
import { z } from 'zod';
import { StatsRepository, type OrganizationStats } from '@agenthub/db';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { RequestContext } from '../common/tenancy/request-context';

export const statsSchema = z
  .object({
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
  })
;
export class StatsDto extends createZodDto(statsSchema) {}

@Injectable()
export class StatsService {
  constructor(
    private readonly stats: StatsRepository,
    private readonly context: RequestContext,
  ) {}

  get(): Promise<OrganizationStats> {
    return this.stats.forOrganization(this.context.organizationId, this.context.db);
  }
}

@ApiTags('stats')
@Controller('stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  @Get()
  @ApiProblems()
  @ZodResponse({ type: StatsDto, description: "counts for the caller's organization" })
  get(): Promise<OrganizationStats> {
    return this.stats.get();
  }
}

@Module({ controllers: [StatsController], providers: [StatsService] })
export class StatsModule {}
