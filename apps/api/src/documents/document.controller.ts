import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { Page } from '@agenthub/db';
import { BodyLimit } from '../common/http/body-limit';
import { UuidPipe } from '../common/http/uuid.pipe';
import { Idempotent } from '../common/idempotency/idempotency.interceptor';
import { ApiProblems, NoContent } from '../common/openapi/api-problems.decorator';
import { VectorSearchRoute } from '../embeddings/vector-search-route.decorator';
import {
  ChunkHitListDto,
  CreateDocumentDto,
  DocumentDto,
  DocumentPageDto,
  DocumentSearchDto,
  GetDocumentQuery,
  ListDocumentsQuery,
  UpdateDocumentDto,
  type ChunkHitView,
  type DocumentView,
} from './document.dto';
import { DocumentService } from './document.service';
import { ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';

@ApiTags('documents')
@Controller('documents')
export class DocumentController {
  constructor(private readonly documents: DocumentService) {}

  @Post()
  @BodyLimit('bulk')
  @HttpCode(201)
  @Idempotent()
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 201, type: DocumentDto })
  create(@Body() body: CreateDocumentDto): Promise<DocumentView> {
    return this.documents.create(body);
  }

  @VectorSearchRoute()
  @ZodResponse({ status: 200, type: ChunkHitListDto, description: 'matching chunks, best first, each with its document id and title' })
  search(@Body() body: DocumentSearchDto): Promise<{ data: ChunkHitView[] }> {
    return this.documents.search(body);
  }

  @Get()
  @ReadTransaction()
  @ApiProblems()
  @ZodResponse({ status: 200, type: DocumentPageDto })
  list(@Query() query: ListDocumentsQuery): Promise<Page<DocumentView>> {
    return this.documents.list(query);
  }

  @Get(':id')
  @ReadTransaction()
  @ApiProblems(404)
  @ZodResponse({ status: 200, type: DocumentDto })
  get(@Param('id', UuidPipe) id: string, @Query() query: GetDocumentQuery): Promise<DocumentView> {
    return this.documents.get(id, query.includeChunks);
  }

  @Patch(':id')
  @ApiProblems(403, 404, 413, 415)
  @ZodResponse({ status: 200, type: DocumentDto, description: 'the document with its new title and/or metadata' })
  update(@Param('id', UuidPipe) id: string, @Body() body: UpdateDocumentDto): Promise<DocumentView> {
    return this.documents.update(id, body);
  }

  @Delete(':id')
  @NoContent()
  @ApiProblems(403, 404)
  delete(@Param('id', UuidPipe) id: string): Promise<void> {
    return this.documents.delete(id);
  }
}
