import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { RequestContext, type TenantScope } from './request-context';
import { TenantTransactions } from './tenant-transactions';

export const NO_TRANSACTION = 'agenthub:no-transaction';
/** For long-lived routes (SSE) that open short transactions of their own. */
export const NoTransaction = () => SetMetadata(NO_TRANSACTION, true);

export const RAW_READ = 'agenthub:raw-read';
/**
 * For hot read routes made only of raw SQL (vector search): the request's transaction is a read-only one on a
 * plain pg connection (PrismaService.rawReadTransaction), under the same row-level security, without Prisma's
 * per-request cost. A model call inside it throws.
 */
export const RawReadTransaction = () => SetMetadata(RAW_READ, true);

/**
 * Every request of an organization key runs in one transaction under row-level security for that organization:
 * the service layer scopes every query itself, and PostgreSQL refuses rows of other organizations as a second
 * wall. The transaction commits before the response is sent, so a 2xx means the write is durable; an error rolls
 * everything back (nothing half-written). Idempotency records, audit entries and live events share it.
 */
@Injectable()
export class TenantTransactionInterceptor implements NestInterceptor {
  constructor(
    private readonly tenants: TenantTransactions,
    private readonly context: RequestContext,
    private readonly reflector: Reflector,
  ) {}

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = execution.switchToHttp().getRequest<FastifyRequest>();
    const principal = request.principal;
    const skip = this.reflector.getAllAndOverride<boolean>(NO_TRANSACTION, [execution.getHandler(), execution.getClass()]);
    if (principal?.kind !== 'key' || skip) return next.handle();
    const afterCommit: TenantScope['afterCommit'] = [];
    if (this.reflector.getAllAndOverride<boolean>(RAW_READ, [execution.getHandler(), execution.getClass()])) {
      return from(
        this.tenants.read(principal.organizationId, (tx) =>
          this.context.run({ principal, requestId: String(request.id), tx, afterCommit }, () =>
            lastValueFrom(next.handle(), { defaultValue: undefined }),
          ),
        ),
      );
    }
    const run = async () => {
      const result = await this.tenants.run(principal.organizationId, async (tx) => {
        afterCommit.length = 0; // a retried transaction starts over
        const scope: TenantScope = { principal, requestId: String(request.id), tx, afterCommit };
        return this.context.run(scope, () => lastValueFrom(next.handle(), { defaultValue: undefined }));
      });
      for (const fn of afterCommit) fn();
      return result;
    };
    return from(run());
  }
}
