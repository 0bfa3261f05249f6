import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import type { Reflector } from '@nestjs/core';
import { canonicalJson, sha256Hex, type IdempotencyClaim, type IdempotencyKeyRepository } from '@agenthub/db';
import { defer, lastValueFrom } from 'rxjs';
import type { RequestContext } from '../tenancy/request-context';
import { IdempotencyInterceptor, IdempotencyKeyClaim, IdempotentReplay } from './idempotency.interceptor';

const ORG = '00000000-0000-4000-8000-000000000001';
const TX = { tx: 'the request transaction' };
const hashOf = (params: unknown, body: unknown) => sha256Hex(canonicalJson({ params, body }));

/**
 * The interceptor over a stubbed key repository that keeps its rows in a Map (claim: first wins; complete: stores
 * the response; find: the row), a request with the given headers and body, and `recordedByHandler` as the route's
 * metadata.
 */
function setup(options: { headers?: Record<string, string | string[]>; body?: unknown; params?: unknown; recordedByHandler?: boolean } = {}) {
  const rows = new Map<string, { requestHash: string; responseBody?: unknown; status?: number }>();
  const calls: string[] = [];
  const keys = {
    claim: jest.fn(async (org: string, scope: string, key: string, requestHash: string, db: unknown) => {
      calls.push(`claim ${org} ${scope} ${key} ${db === TX ? 'in tx' : 'outside tx'}`);
      if (rows.has(key)) return false;
      rows.set(key, { requestHash });
      return true;
    }),
    complete: jest.fn(async (_org: string, _scope: string, key: string, status: number, body: unknown, db: unknown, opts?: { deferUntilCommit?: boolean }) => {
      calls.push(`complete ${key} ${status} ${db === TX ? 'in tx' : 'outside tx'}${opts?.deferUntilCommit ? ' with the commit' : ''}`);
      rows.set(key, { ...rows.get(key)!, status, responseBody: JSON.parse(JSON.stringify(body)) });
    }),
    find: jest.fn(async (_org: string, _scope: string, key: string) => rows.get(key) ?? null),
  };
  const context = {
    db: TX,
    organizationId: ORG,
    willWriteAfterHandler: jest.fn(() => calls.push('handler must not commit')),
  } as unknown as RequestContext;
  const reflector = { get: () => options.recordedByHandler } as unknown as Reflector;
  const sut = new IdempotencyInterceptor(context, keys as unknown as IdempotencyKeyRepository, reflector);
  const headersSent: Record<string, string> = {};
  const request = { method: 'POST', routeOptions: { url: '/api/v1/payments' }, headers: options.headers ?? {}, body: options.body ?? { amount: '1.00' }, params: options.params ?? {} };
  const reply = { header: (name: string, value: string) => (headersSent[name] = value) };
  const execution = {
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => reply }),
    getHandler: () => undefined,
  } as unknown as ExecutionContext;
  const intercept = (handler: () => Promise<unknown>) =>
    lastValueFrom(sut.intercept(execution, { handle: () => defer(handler) } as CallHandler), { defaultValue: undefined });
  return { rows, calls, keys, headersSent, request, execution, intercept };
}

/** The function Nest calls for `@IdempotencyKeyClaim()` (the documented way to test a param decorator). */
function claimDecoratorFactory(): (data: unknown, execution: ExecutionContext) => IdempotencyClaim | undefined {
  class Route {
    handler(@IdempotencyKeyClaim() claim: unknown) {
      return claim;
    }
  }
  const args = Reflect.getMetadata(ROUTE_ARGS_METADATA, Route, 'handler') as Record<string, { factory: (data: unknown, execution: ExecutionContext) => IdempotencyClaim | undefined }>;
  return Object.values(args)[0].factory;
}

describe('IdempotencyInterceptor', () => {
  it('leaves a request without Idempotency-Key alone', async () => {
    const { keys, intercept } = setup();
    expect(await intercept(async () => 'created')).toBe('created');
    expect(keys.claim).not.toHaveBeenCalled();
  });

  it('refuses a key that is not 1 to 255 visible ASCII characters with a 400, running nothing', async () => {
    for (const key of ['', 'with space', 'x'.repeat(256), 'ünï']) {
      const { keys, intercept } = setup({ headers: { 'idempotency-key': key } });
      const handler = jest.fn(async () => 'created');
      expect(() => intercept(handler)).toThrow(expect.objectContaining({ problem: expect.objectContaining({ status: 400, errors: [{ path: 'headers.idempotency-key', message: 'invalid' }] }) }));
      expect(handler).not.toHaveBeenCalled();
      expect(keys.claim).not.toHaveBeenCalled();
    }
  });

  it('claims the key before the work and stores the response, both in the request transaction, which the work must not commit', async () => {
    const { calls, rows, intercept } = setup({ headers: { 'idempotency-key': 'k-1' }, body: { amount: '1.00', at: new Date('2026-11-30T12:00:00Z') } });
    expect(await intercept(async () => ({ id: 'p1', createdAt: new Date('2026-11-30T12:00:00Z') }))).toEqual({ id: 'p1', createdAt: new Date('2026-11-30T12:00:00Z') });
    expect(calls).toEqual(['claim ' + ORG + ' POST /api/v1/payments k-1 in tx', 'handler must not commit', 'complete k-1 201 in tx']);
    // Stored as the client saw it: the date as its ISO string.
    expect(rows.get('k-1')!.responseBody).toEqual({ id: 'p1', createdAt: '2026-11-30T12:00:00.000Z' });
  });

  it('replays the stored response for the same request, marked as replayed, without running the work again', async () => {
    const first = setup({ headers: { 'idempotency-key': 'k-2' } });
    await first.intercept(async () => ({ id: 'p1' }));
    // The same key store, a second request with the same body.
    const handler = jest.fn(async () => ({ id: 'p2' }));
    const { keys, execution } = first;
    const sut = new IdempotencyInterceptor({ db: TX, organizationId: ORG } as unknown as RequestContext, keys as unknown as IdempotencyKeyRepository, { get: () => false } as unknown as Reflector);
    const replayed = await lastValueFrom(sut.intercept(execution, { handle: () => defer(handler) } as CallHandler));
    expect(replayed).toEqual({ id: 'p1' });
    expect(handler).not.toHaveBeenCalled();
    expect(first.headersSent['idempotent-replayed']).toBe('true');
  });

  it('answers 409 when the key was used with another request, running nothing', async () => {
    const { rows, intercept } = setup({ headers: { 'idempotency-key': 'k-3' }, body: { amount: '2.00' } });
    rows.set('k-3', { requestHash: hashOf({}, { amount: '1.00' }), responseBody: { id: 'p1' }, status: 201 });
    const handler = jest.fn(async () => 'created');
    await expect(intercept(handler)).rejects.toMatchObject({ problem: { status: 409, type: 'https://agenthub.dev/problems/idempotency-mismatch' } });
    expect(handler).not.toHaveBeenCalled();
  });

  describe('recorded by the handler (payment creation)', () => {
    it('hands the claim to the handler and writes no key row of its own', async () => {
      const { calls, execution, intercept, rows } = setup({ headers: { 'idempotency-key': 'k-4' }, recordedByHandler: true });
      const factory = claimDecoratorFactory();
      expect(factory(undefined, execution)).toBeUndefined(); // before the interceptor ran
      let claim: IdempotencyClaim | undefined;
      expect(
        await intercept(async () => {
          claim = factory(undefined, execution); // what @IdempotencyKeyClaim() gives the handler
          return { id: 'p1' };
        }),
      ).toEqual({ id: 'p1' });
      expect(claim).toEqual({ scope: 'POST /api/v1/payments', key: 'k-4', requestHash: hashOf({}, { amount: '1.00' }) });
      expect(calls).toEqual([]);
      expect(rows.size).toBe(0);
    });

    it('answers with the response the handler replays, marked as replayed, and lets other errors through', async () => {
      const taken = setup({ headers: { 'idempotency-key': 'k-5' }, recordedByHandler: true });
      expect(await taken.intercept(async () => Promise.reject(new IdempotentReplay({ id: 'p0' })))).toEqual({ id: 'p0' });
      expect(taken.headersSent['idempotent-replayed']).toBe('true');

      const failing = setup({ headers: { 'idempotency-key': 'k-6' }, recordedByHandler: true });
      await expect(failing.intercept(async () => Promise.reject(new Error('payment refused')))).rejects.toThrow('payment refused');
      expect(failing.headersSent['idempotent-replayed']).toBeUndefined();
      expect(failing.keys.claim).not.toHaveBeenCalled();
      expect(failing.keys.complete).not.toHaveBeenCalled();
    });
  });
});
