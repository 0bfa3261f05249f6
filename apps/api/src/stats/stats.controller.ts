import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { OrganizationStats } from '@agenthub/db';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { StatsDto } from './stats.dto';
import { StatsService } from './stats.service';
import { ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';

@ApiTags('stats')
@Controller('stats')
export class StatsController {
  constructor(private readonly stats: StatsService) {}

  @Get()
  @ReadTransaction()
  @ApiProblems()
  @ZodResponse({ status: 200, type: StatsDto, description: "counts for the caller's organization" })
  get(): Promise<OrganizationStats> {
    return this.stats.get();
  }
}
