import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { Page } from '@agenthub/db';
import { IfMatchVersion } from '../common/http/if-match';
import { UuidPipe } from '../common/http/uuid.pipe';
import { Idempotent } from '../common/idempotency/idempotency.interceptor';
import { ApiProblems, NoContent } from '../common/openapi/api-problems.decorator';
import { AgentDto, AgentPageDto, CreateAgentDto, ListAgentsQuery, UpdateAgentDto, type AgentView } from './agent.dto';
import { AgentService } from './agent.service';
import { ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';

@ApiTags('agents')
@Controller('agents')
export class AgentController {
  constructor(private readonly agents: AgentService) {}

  @Post()
  @HttpCode(201)
  @Idempotent()
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 201, type: AgentDto })
  create(@Body() body: CreateAgentDto): Promise<AgentView> {
    return this.agents.create(body);
  }

  @Get()
  @ReadTransaction()
  @ApiProblems()
  @ZodResponse({ status: 200, type: AgentPageDto })
  list(@Query() query: ListAgentsQuery): Promise<Page<AgentView>> {
    return this.agents.list(query);
  }

  @Get(':id')
  @ReadTransaction()
  @ApiProblems(404)
  @ZodResponse({ status: 200, type: AgentDto })
  get(@Param('id', UuidPipe) id: string): Promise<AgentView> {
    return this.agents.get(id);
  }

  @Patch(':id')
  @ApiHeader({ name: 'If-Match', required: false, description: 'the version you read; a stale one gets 409' })
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 200, type: AgentDto })
  update(@Param('id', UuidPipe) id: string, @Body() body: UpdateAgentDto, @IfMatchVersion() version?: number): Promise<AgentView> {
    return this.agents.update(id, body, version);
  }

  @Delete(':id')
  @NoContent()
  @ApiProblems(403, 404)
  delete(@Param('id', UuidPipe) id: string): Promise<void> {
    return this.agents.softDelete(id);
  }
}
