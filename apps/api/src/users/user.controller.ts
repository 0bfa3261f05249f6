import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { Page } from '@agenthub/db';
import { MinRole } from '../common/auth/access.decorators';
import { IfMatchVersion } from '../common/http/if-match';
import { UuidPipe } from '../common/http/uuid.pipe';
import { Idempotent } from '../common/idempotency/idempotency.interceptor';
import { ApiProblems, NoContent } from '../common/openapi/api-problems.decorator';
import { CreateUserDto, ListUsersQuery, UpdateUserDto, UserDto, UserPageDto, type UserView } from './user.dto';
import { UserService } from './user.service';
import { ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';

@ApiTags('users')
@Controller('users')
export class UserController {
  constructor(private readonly users: UserService) {}

  @Post()
  @HttpCode(201)
  @MinRole('admin')
  @Idempotent()
  @ApiProblems(403, 409, 413, 415)
  @ZodResponse({ status: 201, type: UserDto })
  create(@Body() body: CreateUserDto): Promise<UserView> {
    return this.users.create(body);
  }

  @Get()
  @ReadTransaction()
  @ApiProblems(403)
  @ZodResponse({ status: 200, type: UserPageDto })
  list(@Query() query: ListUsersQuery): Promise<Page<UserView>> {
    return this.users.list(query);
  }

  @Get(':id')
  @ReadTransaction()
  @ApiProblems(403, 404)
  @ZodResponse({ status: 200, type: UserDto })
  get(@Param('id', UuidPipe) id: string): Promise<UserView> {
    return this.users.get(id);
  }

  @Patch(':id')
  @MinRole('admin')
  @ApiHeader({ name: 'If-Match', required: false, description: 'the version you read; a stale one gets 409' })
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 200, type: UserDto })
  update(@Param('id', UuidPipe) id: string, @Body() body: UpdateUserDto, @IfMatchVersion() version?: number): Promise<UserView> {
    return this.users.update(id, body, version);
  }

  @Delete(':id')
  @NoContent()
  @MinRole('admin')
  @ApiProblems(403, 404)
  delete(@Param('id', UuidPipe) id: string): Promise<void> {
    return this.users.delete(id);
  }
}
