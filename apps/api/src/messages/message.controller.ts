import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiBody, ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import { z } from 'zod';
import type { Page } from '@agenthub/db';
import { UuidPipe } from '../common/http/uuid.pipe';
import { Idempotent } from '../common/idempotency/idempotency.interceptor';
import { ApiProblems, NoContent } from '../common/openapi/api-problems.decorator';
import { RawReadTransaction, RawTransaction } from '../common/tenancy/tenant-transaction.interceptor';
import {
  appendMessagesSchema,
  ChunkDto,
  CompleteDto,
  FindMessagesQuery,
  ListMessagesQuery,
  MessageDto,
  MessageListDto,
  MessagePageDto,
  type AppendMessagesBody,
  type MessageView,
} from './message.dto';
import { MessageService } from './message.service';
import { AppendMessagesPipe } from './append-messages.pipe';

@ApiTags('messages')
@Controller()
export class MessageController {
  constructor(private readonly messages: MessageService) {}

  @Post('conversations/:id/messages')
  @RawTransaction()
  @HttpCode(201)
  @Idempotent()
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 201, type: MessageListDto, description: 'the messages in request order, each with its seq' })
  @ApiBody({
    description: 'one message input, or { messages: [...] } with up to 1000',
    schema: z.toJSONSchema(appendMessagesSchema, { target: 'openapi-3.0', unrepresentable: 'any' }) as object,
  })
  async append(
    @Param('id', UuidPipe) conversationId: string,
    @Body(AppendMessagesPipe) body: AppendMessagesBody,
  ): Promise<{ data: MessageView[] }> {
    return { data: await this.messages.append(conversationId, 'messages' in body ? body.messages : [body], { lastWrite: true }) };
  }

  @Get('conversations/:id/messages')
  @RawReadTransaction()
  @ApiProblems(404)
  @ZodResponse({ status: 200, type: MessagePageDto })
  list(@Param('id', UuidPipe) conversationId: string, @Query() query: ListMessagesQuery): Promise<Page<MessageView>> {
    return this.messages.list(conversationId, query);
  }

  @Get('messages')
  @RawReadTransaction()
  @ApiProblems()
  @ZodResponse({ status: 200, type: MessagePageDto, description: 'the messages with this clientId, oldest first; nextCursor is always null' })
  findByClientId(@Query() query: FindMessagesQuery): Promise<Page<MessageView>> {
    return this.messages.findByClientId(query);
  }

  @Delete('messages/:id')
  @NoContent()
  @ApiProblems(403, 404)
  delete(@Param('id', UuidPipe) id: string): Promise<void> {
    return this.messages.delete(id);
  }

  @Get('messages/:id')
  @RawReadTransaction()
  @ApiProblems(404)
  @ZodResponse({ status: 200, type: MessageDto })
  get(@Param('id', UuidPipe) id: string): Promise<MessageView> {
    return this.messages.get(id);
  }

  @Post('messages/:id/chunks')
  @HttpCode(200)
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 200, type: MessageDto, description: 'the message with the delta appended' })
  chunk(@Param('id', UuidPipe) id: string, @Body() body: ChunkDto): Promise<MessageView> {
    return this.messages.appendChunk(id, body.delta);
  }

  @Post('messages/:id/complete')
  @HttpCode(200)
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 200, type: MessageDto, description: 'the completed message' })
  complete(@Param('id', UuidPipe) id: string, @Body() body: CompleteDto): Promise<MessageView> {
    return this.messages.complete(id, body?.tokensUsed);
  }
}
