import { Body, Controller, Get, HttpCode, Post, Query } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { Page } from '@agenthub/db';
import { AdminOnly } from '../common/auth/access.decorators';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import {
  CreateOrganizationDto,
  CreatedOrganizationDto,
  ListOrganizationsQuery,
  OrganizationDto,
  OrganizationPageDto,
  type OrganizationView,
} from './organization.dto';
import { OrganizationService } from './organization.service';
import { ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';

@ApiTags('organizations')
@Controller()
export class OrganizationController {
  constructor(private readonly organizations: OrganizationService) {}

  @Post('organizations')
  @HttpCode(201)
  @AdminOnly()
  @ApiProblems(403, 413, 415)
  @ZodResponse({ status: 201, type: CreatedOrganizationDto, description: 'the organization, its owner and the owner key (shown once)' })
  create(@Body() body: CreateOrganizationDto): Promise<CreatedOrganizationDto> {
    return this.organizations.create(body);
  }

  @Get('organizations')
  @AdminOnly()
  @ApiProblems(403)
  @ZodResponse({ status: 200, type: OrganizationPageDto })
  list(@Query() query: ListOrganizationsQuery): Promise<Page<OrganizationView>> {
    return this.organizations.list(query);
  }

  @Get('organization')
  @ReadTransaction()
  @ApiProblems(403)
  @ZodResponse({ status: 200, type: OrganizationDto })
  current(): Promise<OrganizationView> {
    return this.organizations.current();
  }
}
