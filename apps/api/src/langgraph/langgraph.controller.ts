import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { Page } from '@agenthub/db';
import { MinRole } from '../common/auth/access.decorators';
import { BodyLimit } from '../common/http/body-limit';
import { ApiProblems, NoContent } from '../common/openapi/api-problems.decorator';
import { RawReadTransaction, RawTransaction } from '../common/tenancy/tenant-transaction.interceptor';
import {
  CheckpointPageDto,
  CheckpointParams,
  ListCheckpointsQuery,
  PutCheckpointDto,
  PutCheckpointResultDto,
  PutWritesDto,
  SearchCheckpointsDto,
  StoreBatchDto,
  StoreBatchResultDto,
  type StoreItemView,
  ThreadParams,
  WritesParams,
  type CheckpointTupleView,
} from './langgraph.dto';
import { LangGraphService } from './langgraph.service';

/**
 * LangGraph persistence (@agenthub/langgraph): threads, their checkpoints with the values of their channels, and
 * pending writes. PUTs are idempotent (the same checkpoint again replaces its checkpoint and metadata; a channel
 * value already stored at a version is kept; a write already stored is kept, except at LangGraph's negative indexes).
 */
@ApiTags('langgraph')
@Controller('langgraph')
export class LangGraphController {
  constructor(private readonly service: LangGraphService) {}

  @Put('threads/:threadId/checkpoints/:checkpointId')
  @RawTransaction()
  @HttpCode(200)
  @BodyLimit('bulk')
  @ApiProblems(403, 413, 415)
  @ZodResponse({ status: 200, type: PutCheckpointResultDto, description: 'stored (the thread is created with its first checkpoint)' })
  put(@Param() params: CheckpointParams, @Body() body: PutCheckpointDto): Promise<{ threadId: string; checkpointNs: string; checkpointId: string }> {
    return this.service.put(params.threadId, params.checkpointId, body);
  }

  @Put('threads/:threadId/checkpoints/:checkpointId/writes/:taskId')
  @RawTransaction()
  @NoContent('stored')
  @BodyLimit('bulk')
  @ApiProblems(403, 413, 415)
  putWrites(@Param() params: WritesParams, @Body() body: PutWritesDto): Promise<void> {
    return this.service.putWrites(params.threadId, params.checkpointId, params.taskId, body);
  }

  @Get('threads/:threadId/checkpoints')
  @RawReadTransaction()
  @ApiProblems()
  @ZodResponse({ status: 200, type: CheckpointPageDto, description: "the thread's checkpoints, newest first, with their channel values and pending writes" })
  list(@Param() params: ThreadParams, @Query() query: ListCheckpointsQuery): Promise<Page<CheckpointTupleView>> {
    return this.service.list({ ...query, threadId: params.threadId });
  }

  @Post('checkpoints/search')
  @RawReadTransaction()
  @MinRole('viewer') // a read, in a POST for its JSON filter
  @HttpCode(200)
  @ApiProblems(413, 415)
  @ZodResponse({ status: 200, type: CheckpointPageDto, description: 'checkpoints of any thread, newest first, filtered by their metadata' })
  search(@Body() body: SearchCheckpointsDto): Promise<Page<CheckpointTupleView>> {
    return this.service.list(body);
  }

  @Delete('threads/:threadId')
  @RawTransaction()
  @NoContent('the thread, its checkpoints, channel values and writes are gone')
  @ApiProblems(403, 404)
  deleteThread(@Param() params: ThreadParams): Promise<void> {
    return this.service.deleteThread(params.threadId);
  }

  @Post('store/batch')
  @RawTransaction()
  @HttpCode(200)
  @BodyLimit('bulk')
  @ApiProblems(403, 413, 415)
  @ZodResponse({ status: 200, type: StoreBatchResultDto, description: "the results of a LangGraph store's batch: get, search, put (null value: delete) and listNamespaces, in order, in one transaction" })
  storeBatch(@Body() body: StoreBatchDto): Promise<{ results: Array<{ item?: StoreItemView | null; items?: StoreItemView[]; namespaces?: string[][] }> }> {
    return this.service.storeBatch(body.operations);
  }
}
