import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { Page } from '@agenthub/db';
import { UuidPipe } from '../common/http/uuid.pipe';
import { Idempotent } from '../common/idempotency/idempotency.interceptor';
import { ApiProblems, NoContent } from '../common/openapi/api-problems.decorator';
import { RawReadTransaction, RawTransaction, ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';
import {
  ConversationDto,
  ConversationPageDto,
  CreateConversationDto,
  ListConversationsQuery,
  UpdateConversationDto,
  type ConversationView,
} from './conversation.dto';
import { ConversationService } from './conversation.service';

@ApiTags('conversations')
@Controller('conversations')
export class ConversationController {
  constructor(private readonly conversations: ConversationService) {}

  @Post()
  @RawTransaction()
  @HttpCode(201)
  @Idempotent()
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 201, type: ConversationDto })
  create(@Body() body: CreateConversationDto): Promise<ConversationView> {
    return this.conversations.create(body);
  }

  @Get()
  @ReadTransaction()
  @ApiProblems()
  @ZodResponse({ status: 200, type: ConversationPageDto, description: 'newest activity first' })
  list(@Query() query: ListConversationsQuery): Promise<Page<ConversationView>> {
    return this.conversations.list(query);
  }

  @Get(':id')
  @RawReadTransaction()
  @ApiProblems(404)
  @ZodResponse({ status: 200, type: ConversationDto })
  get(@Param('id', UuidPipe) id: string): Promise<ConversationView> {
    return this.conversations.get(id);
  }

  @Patch(':id')
  @ApiProblems(403, 404, 413, 415)
  @ZodResponse({ status: 200, type: ConversationDto })
  update(@Param('id', UuidPipe) id: string, @Body() body: UpdateConversationDto): Promise<ConversationView> {
    return this.conversations.update(id, body);
  }

  @Delete(':id')
  @NoContent()
  @ApiProblems(403, 404)
  delete(@Param('id', UuidPipe) id: string): Promise<void> {
    return this.conversations.delete(id);
  }
}
