import type { CallHandler, ExecutionContext } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';
import type { Db } from '@agenthub/db';
import { defer, lastValueFrom } from 'rxjs';
import { NO_TRANSACTION, RAW, TenantTransactionInterceptor } from './tenant-transaction.interceptor';
import { RequestContext } from './request-context';
import type { TenantTransactions } from './tenant-transactions';

const ORG = '00000000-0000-4000-8000-000000000001';
const keyPrincipal = { kind: 'key', organizationId: ORG, keyId: 'k1', role: 'member', userId: null };

/**
 * The interceptor over stubbed collaborators: `tenants` records which transaction it was asked for and runs the
 * work `attempts` times (a retried transaction), each with its own transaction object; `metadata` is what the
 * route's decorators say.
 */
function setup(options: { principal?: unknown; metadata?: Record<string, unknown>; attempts?: number; fail?: Error } = {}) {
  const calls: Array<{ kind: 'run' | 'raw'; organizationId: string; readOnly?: boolean }> = [];
  const attempt = async <T>(fn: (tx: Db) => Promise<T>): Promise<T> => {
    let result!: T;
    for (let i = 1; i <= (options.attempts ?? 1); i++) result = await fn({ attempt: i } as unknown as Db);
    if (options.fail) throw options.fail;
    return result;
  };
  const tenants = {
    run: jest.fn((organizationId: string, fn: (tx: Db) => Promise<unknown>) => (calls.push({ kind: 'run', organizationId }), attempt(fn))),
    raw: jest.fn((organizationId: string, fn: (tx: Db) => Promise<unknown>, readOnly: boolean) => (calls.push({ kind: 'raw', organizationId, readOnly }), attempt(fn))),
  };
  const reflector = { getAllAndOverride: (key: string) => options.metadata?.[key] } as unknown as Reflector;
  const context = new RequestContext();
  const sut = new TenantTransactionInterceptor(tenants as unknown as TenantTransactions, context, reflector);
  const request = { principal: 'principal' in options ? options.principal : keyPrincipal, id: 'req-1' };
  const execution = { switchToHttp: () => ({ getRequest: () => request }), getHandler: () => undefined, getClass: () => undefined } as unknown as ExecutionContext;
  const intercept = (handler: () => Promise<unknown>) => lastValueFrom(sut.intercept(execution, { handle: () => defer(handler) } as CallHandler), { defaultValue: undefined });
  return { calls, context, intercept };
}

describe('TenantTransactionInterceptor', () => {
  it("runs an organization key's request in a transaction of its organization, the scope visible to the services", async () => {
    const { calls, context, intercept } = setup();
    const seen = await intercept(async () => ({ org: context.organizationId, tx: context.db, requestId: context.scope.requestId }));
    expect(calls).toEqual([{ kind: 'run', organizationId: ORG }]);
    expect(seen).toEqual({ org: ORG, tx: { attempt: 1 }, requestId: 'req-1' });
  });

  it('uses a plain pg transaction where the route says so, read-only for read routes', async () => {
    for (const [mode, readOnly] of [['write', false], ['read', true]] as const) {
      const { calls, intercept } = setup({ metadata: { [RAW]: mode } });
      await intercept(async () => 'ok');
      expect(calls).toEqual([{ kind: 'raw', organizationId: ORG, readOnly }]);
    }
  });

  it('opens no transaction for the admin token, for no principal, or for a route that opens its own', async () => {
    for (const options of [{ principal: { kind: 'admin' } }, { principal: undefined }, { metadata: { [NO_TRANSACTION]: true } }]) {
      const { calls, context, intercept } = setup(options);
      expect(await intercept(async () => 'answered')).toBe('answered');
      expect(calls).toEqual([]);
      // A service reaching for the tenant scope here is a programming error: a 500 problem, not the caller's data.
      expect(() => context.scope).toThrow(expect.objectContaining({ problem: expect.objectContaining({ status: 500, detail: 'no tenant scope for this request' }) }));
    }
  });

  it('runs the after-commit work once the transaction has committed, only that of the attempt that committed, in order', async () => {
    const { context, intercept } = setup({ attempts: 2 });
    const order: string[] = [];
    await intercept(async () => {
      const attempt = (context.db as unknown as { attempt: number }).attempt;
      context.afterCommit(() => order.push(`attempt ${attempt}: first`));
      context.afterCommit(() => order.push(`attempt ${attempt}: second`));
      order.push(`handler, attempt ${attempt}`);
    });
    expect(order).toEqual(['handler, attempt 1', 'handler, attempt 2', 'attempt 2: first', 'attempt 2: second']);
  });

  it('runs no after-commit work when the transaction fails, and lets the error through', async () => {
    const { context, intercept } = setup({ fail: new Error('serialization failure') });
    const after = jest.fn();
    await expect(intercept(async () => context.afterCommit(after))).rejects.toThrow('serialization failure');
    expect(after).not.toHaveBeenCalled();
  });
});
