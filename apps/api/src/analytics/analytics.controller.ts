import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { AcceptedDto, IngestEventsDto, UsageDto, UsageQueryDto, type UsageView } from './analytics.dto';
import { AnalyticsService } from './analytics.service';

@ApiTags('analytics')
@Controller()
export class AnalyticsController {
  constructor(private readonly analytics: AnalyticsService) {}

  @Post('events')
  @HttpCode(202)
  @ApiProblems(403, 404, 413, 415)
  @ZodResponse({ status: 202, type: AcceptedDto, description: 'stored, all or nothing' })
  ingest(@Body() body: IngestEventsDto): Promise<{ accepted: number }> {
    return this.analytics.ingest(body);
  }

  @Get('analytics/usage')
  @ApiProblems()
  @ZodResponse({ status: 200, type: UsageDto, description: 'per UTC bucket and agent, only buckets with activity' })
  usage(@Query() query: UsageQueryDto): Promise<{ data: UsageView[] }> {
    return this.analytics.usage(query);
  }
}
