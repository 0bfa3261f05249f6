import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { RequestContext, type TenantScope } from './request-context';
import { TenantTransactions } from './tenant-transactions';

export const NO_TRANSACTION = 'agenthub:no-transaction';
/** For long-lived routes (SSE) that open short transactions of their own. */
export const NoTransaction = () => SetMetadata(NO_TRANSACTION, true);

export const RAW = 'agenthub:raw-transaction';
/**
 * For hot routes whose work is raw SQL only (message append and page, conversations, memories, search): the
 * request's transaction runs on a plain pg connection (PrismaService.rawTransaction) under the same row-level
 * security, without Prisma's per-request cost. A Prisma model call inside it throws.
 */
export const RawTransaction = (mode: 'read' | 'write' = 'write') => SetMetadata(RAW, mode);
/** `RawTransaction('read')`: read-only as well, and served by a read replica when one can (DATABASE_READ_URLS). */
export const RawReadTransaction = () => RawTransaction('read');

export const READ = 'agenthub:read-transaction';
/**
 * For read routes on Prisma (lists, gets, stats, search): the request's transaction is read-only — a write in it
 * fails — and runs on a read replica when one is healthy and has caught up with every write acknowledged before
 * the request arrived (DATABASE_READ_URLS), else on the primary.
 */
export const ReadTransaction = () => SetMetadata(READ, true);

/**
 * Every request of an organization key runs in one transaction under row-level security for that organization:
 * the service layer scopes every query itself, and PostgreSQL refuses rows of other organizations as a second
 * wall. The transaction commits before the response is sent, so a 2xx means the write is durable; an error rolls
 * everything back (nothing half-written). Idempotency records, audit entries and live events share it. A handler
 * whose last write commits with it (the one-message append, payment creation: queryRows `commit`) does nothing
 * after it but read, and such a transaction is never run again.
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
    const raw = this.reflector.getAllAndOverride<'read' | 'write' | undefined>(RAW, [execution.getHandler(), execution.getClass()]);
    const afterCommit: TenantScope['afterCommit'] = [];
    const work = async (tx: TenantScope['tx']) => {
      afterCommit.length = 0; // a retried transaction starts over
      const scope: TenantScope = { principal, requestId: String(request.id), tx, afterCommit };
      return this.context.run(scope, () => lastValueFrom(next.handle(), { defaultValue: undefined }));
    };
    const read = !raw && this.reflector.getAllAndOverride<boolean | undefined>(READ, [execution.getHandler(), execution.getClass()]);
    const run = async () => {
      const result = raw
        ? await this.tenants.raw(principal.organizationId, work, raw === 'read')
        : read
          ? await this.tenants.read(principal.organizationId, work)
          : await this.tenants.run(principal.organizationId, work);
      for (const fn of afterCommit) fn();
      return result;
    };
    return from(run());
  }
}
