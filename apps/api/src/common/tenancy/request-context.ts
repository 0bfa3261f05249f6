import { AsyncLocalStorage } from 'node:async_hooks';
import { Injectable } from '@nestjs/common';
import type { Db } from '@agenthub/db';
import type { KeyPrincipal } from '../auth/principal';
import { ProblemException } from '../problem/problem.exception';

export interface TenantScope {
  principal: KeyPrincipal;
  requestId: string;
  /** the request's transaction (row-level security for the caller's organization when it is on) */
  tx: Db;
  /** run after the transaction commits (local delivery of live events) */
  afterCommit: Array<() => void>;
  /** set when something writes in the transaction after the handler (an Idempotency-Key record to complete) */
  writesAfterHandler?: boolean;
}

/**
 * The tenant scope of the running request, carried by AsyncLocalStorage from the transaction interceptor to
 * the services, so that a service cannot reach the database outside its caller's organization by forgetting
 * to pass it along.
 */
@Injectable()
export class RequestContext {
  private readonly storage = new AsyncLocalStorage<TenantScope>();

  run<T>(scope: TenantScope, fn: () => Promise<T>): Promise<T> {
    return this.storage.run(scope, fn);
  }

  get scope(): TenantScope {
    const scope = this.storage.getStore();
    // A programming error (a tenant service called outside a tenant request), not the caller's.
    if (!scope) throw new ProblemException(500, 'no tenant scope for this request');
    return scope;
  }

  get organizationId(): string {
    return this.scope.principal.organizationId;
  }

  get db(): Db {
    return this.scope.tx;
  }

  /**
   * Whether the handler's last write may commit the transaction with it (PrismaService.queryRows' `commit`): no
   * interceptor writes after the handler in this request.
   */
  get lastWriteMayCommit(): boolean {
    return !this.scope.writesAfterHandler;
  }

  /** Called by an interceptor that will write in the request's transaction after the handler (see lastWriteMayCommit). */
  willWriteAfterHandler(): void {
    this.scope.writesAfterHandler = true;
  }

  afterCommit(fn: () => void): void {
    this.scope.afterCommit.push(fn);
  }
}
