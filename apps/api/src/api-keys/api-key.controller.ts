import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { Page } from '@agenthub/db';
import { MinRole } from '../common/auth/access.decorators';
import { UuidPipe } from '../common/http/uuid.pipe';
import { Idempotent } from '../common/idempotency/idempotency.interceptor';
import { ApiProblems, NoContent } from '../common/openapi/api-problems.decorator';
import {
  ApiKeyPageDto,
  CreateApiKeyDto,
  CreatedApiKeyDto,
  ListApiKeysQuery,
  type ApiKeyView,
  type CreatedApiKeyView,
} from './api-key.dto';
import { ApiKeyService } from './api-key.service';
import { ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';

@ApiTags('api-keys')
@Controller('api-keys')
@MinRole('admin')
export class ApiKeyController {
  constructor(private readonly apiKeys: ApiKeyService) {}

  @Post()
  @HttpCode(201)
  @Idempotent()
  @ApiProblems(403, 404, 413, 415)
  @ZodResponse({ status: 201, type: CreatedApiKeyDto, description: 'the key; `key` is shown this once' })
  create(@Body() body: CreateApiKeyDto): Promise<CreatedApiKeyView> {
    return this.apiKeys.create(body);
  }

  @Get()
  @ReadTransaction()
  @ApiProblems(403)
  @ZodResponse({ status: 200, type: ApiKeyPageDto })
  list(@Query() query: ListApiKeysQuery): Promise<Page<ApiKeyView>> {
    return this.apiKeys.list(query);
  }

  @Delete(':id')
  @NoContent()
  @ApiProblems(403, 404)
  revoke(@Param('id', UuidPipe) id: string): Promise<void> {
    return this.apiKeys.revoke(id);
  }
}
