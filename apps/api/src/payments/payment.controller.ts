import { Body, Controller, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import { ApiHeader, ApiTags } from '@nestjs/swagger';
import { ZodResponse } from 'nestjs-zod';
import type { IdempotencyClaim, Page } from '@agenthub/db';
import { UuidPipe } from '../common/http/uuid.pipe';
import { Idempotent, IdempotencyKeyClaim } from '../common/idempotency/idempotency.interceptor';
import { RawTransaction, ReadTransaction } from '../common/tenancy/tenant-transaction.interceptor';
import { ApiProblems } from '../common/openapi/api-problems.decorator';
import {
  CreatePaymentDto,
  FailPaymentDto,
  ListPaymentsQuery,
  PaymentDto,
  PaymentPageDto,
  RefundedPaymentDto,
  RefundPaymentDto,
  type PaymentView,
  type RefundedPaymentView,
} from './payment.dto';
import { PaymentService } from './payment.service';

@ApiTags('payments')
@Controller('payments')
export class PaymentController {
  constructor(private readonly payments: PaymentService) {}

  @Post()
  @RawTransaction()
  @HttpCode(201)
  @Idempotent({ recordedByHandler: true })
  @ApiHeader({ name: 'Idempotency-Key', required: true, description: 'required: one payment per key; a retry with the same body returns it' })
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 201, type: PaymentDto })
  create(@Body() body: CreatePaymentDto, @IdempotencyKeyClaim() claim?: IdempotencyClaim): Promise<PaymentView> {
    return this.payments.create(body, claim);
  }

  @Get()
  @ReadTransaction()
  @ApiProblems()
  @ZodResponse({ status: 200, type: PaymentPageDto })
  list(@Query() query: ListPaymentsQuery): Promise<Page<PaymentView>> {
    return this.payments.list(query);
  }

  @Get(':id')
  @ReadTransaction()
  @ApiProblems(404)
  @ZodResponse({ status: 200, type: PaymentDto })
  get(@Param('id', UuidPipe) id: string): Promise<PaymentView> {
    return this.payments.get(id);
  }

  @Post(':id/succeed')
  @HttpCode(200)
  @ApiProblems(403, 404, 409)
  @ZodResponse({ status: 200, type: PaymentDto, description: 'pending → succeeded; any other state is a 409' })
  succeed(@Param('id', UuidPipe) id: string): Promise<PaymentView> {
    return this.payments.succeed(id);
  }

  @Post(':id/fail')
  @HttpCode(200)
  @ApiProblems(403, 404, 409)
  @ZodResponse({ status: 200, type: PaymentDto, description: 'pending → failed; any other state is a 409' })
  fail(@Param('id', UuidPipe) id: string, @Body() body: FailPaymentDto): Promise<PaymentView> {
    return this.payments.fail(id, body.reason);
  }

  @Post(':id/refund')
  @HttpCode(200)
  @Idempotent()
  @ApiProblems(403, 404, 409, 413, 415)
  @ZodResponse({ status: 200, type: RefundedPaymentDto, description: 'refunds part or all of the remainder; more than the remainder is a 409' })
  refund(@Param('id', UuidPipe) id: string, @Body() body: RefundPaymentDto): Promise<RefundedPaymentView> {
    return this.payments.refund(id, body.amount, body.reason);
  }
}
