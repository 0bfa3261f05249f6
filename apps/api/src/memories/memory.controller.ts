import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { Page } from '@agenthub/db';
import { BodyLimit } from '../common/http/body-limit';
import { UuidPipe } from '../common/http/uuid.pipe';
import { Idempotent } from '../common/idempotency/idempotency.interceptor';
import { RawTransaction, ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';
import { ApiProblems, NoContent } from '../common/openapi/api-problems.decorator';
import { VectorSearchRoute } from '../embeddings/vector-search-route.decorator';
import {
  CreateMemoryBatchDto,
  CreateMemoryDto,
  EmbeddingFormatQuery,
  ListMemoriesQuery,
  MemoryDto,
  MemoryHitListDto,
  MemoryListDto,
  MemoryPageDto,
  MemorySearchDto,
  UpdateMemoryDto,
  type MemoryHitView,
  type MemoryView,
} from './memory.dto';
import { MemoryService } from './memory.service';

@ApiTags('memories')
@Controller('memories')
export class MemoryController {
  constructor(private readonly memories: MemoryService) {}

  @Post()
  @RawTransaction()
  @HttpCode(201)
  @Idempotent()
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 201, type: MemoryDto })
  create(@Body() body: CreateMemoryDto, @Query() query: EmbeddingFormatQuery): Promise<MemoryView> {
    return this.memories.create(body, query.embeddingFormat);
  }

  @Post('batch')
  @BodyLimit('bulk')
  @RawTransaction()
  @HttpCode(201)
  @Idempotent()
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 201, type: MemoryListDto, description: 'the new memories in request order, without embeddings' })
  async createMany(@Body() body: CreateMemoryBatchDto): Promise<{ data: MemoryView[] }> {
    return { data: await this.memories.createMany(body.memories) };
  }

  @VectorSearchRoute()
  @ZodResponse({ status: 200, type: MemoryHitListDto, description: 'best first; expired memories never appear' })
  search(@Body() body: MemorySearchDto): Promise<{ data: MemoryHitView[] }> {
    return this.memories.search(body);
  }

  @Get()
  @ReadTransaction()
  @ApiProblems()
  @ZodResponse({ status: 200, type: MemoryPageDto })
  list(@Query() query: ListMemoriesQuery): Promise<Page<MemoryView>> {
    return this.memories.list(query);
  }

  @Get(':id')
  @ReadTransaction()
  @ApiProblems(404)
  @ZodResponse({ status: 200, type: MemoryDto })
  get(@Param('id', UuidPipe) id: string, @Query() query: EmbeddingFormatQuery): Promise<MemoryView> {
    return this.memories.get(id, query.embeddingFormat);
  }

  @Patch(':id')
  @ApiProblems(403, 404, 413, 415)
  @ZodResponse({ status: 200, type: MemoryDto })
  update(@Param('id', UuidPipe) id: string, @Body() body: UpdateMemoryDto, @Query() query: EmbeddingFormatQuery): Promise<MemoryView> {
    return this.memories.update(id, body, query.embeddingFormat);
  }

  @Delete(':id')
  @NoContent()
  @ApiProblems(403, 404)
  delete(@Param('id', UuidPipe) id: string): Promise<void> {
    return this.memories.delete(id);
  }
}
