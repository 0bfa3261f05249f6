import { Controller, Get, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import { MessageHitListDto, SearchMessagesQuery, type MessageHitView } from './search.dto';
import { SearchService } from './search.service';
import { ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';

@ApiTags('search')
@Controller('search')
export class SearchController {
  constructor(private readonly search: SearchService) {}

  @Get('messages')
  @ReadTransaction()
  @ApiProblems()
  @ZodResponse({ status: 200, type: MessageHitListDto, description: 'ranked best first, each with a highlighted snippet' })
  messages(@Query() query: SearchMessagesQuery): Promise<{ data: MessageHitView[] }> {
    return this.search.messagesFullText(query);
  }
}
