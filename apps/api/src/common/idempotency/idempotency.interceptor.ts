import {
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  SetMetadata,
  UseInterceptors,
  applyDecorators,
  createParamDecorator,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { IdempotencyKeyRepository, canonicalJson, sha256Hex, type IdempotencyClaim } from '@agenthub/db';
import { ProblemException } from '../problem/problem.exception';
import { RequestContext } from '../tenancy/request-context';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
const RECORDED_BY_HANDLER = 'agenthub:idempotency-recorded-by-handler';
const CLAIM = Symbol('agenthub idempotency claim');

/**
 * Thrown by a handler that keeps the Idempotency-Key record itself (`Idempotent({ recordedByHandler: true })`) when
 * the key was used before by the same request: it wrote nothing, and the interceptor answers with `response`, the
 * first response, marked as replayed.
 */
export class IdempotentReplay extends Error {
  constructor(readonly response: unknown) {
    super('Idempotency-Key already used by the same request');
  }
}

/** The answer to a key used before with another request (409). */
export function idempotencyMismatch(): ProblemException {
  return new ProblemException(409, 'this Idempotency-Key was used with a different request', { slug: 'idempotency-mismatch' });
}

/**
 * `Idempotency-Key` on writes that create things (API.md, Conventions): the same key with the same request returns
 * the first response, with another request 409. The key row is inserted in the request's own transaction before
 * the work and completed with the response in it, so the key and the write commit together or not at all. A
 * concurrent request with the same key waits on the key's unique index until the first commits, then replays it.
 * A route whose own rows are the record (`recordedByHandler`: payment creation) writes no key row.
 */
@Injectable()
export class IdempotencyInterceptor implements NestInterceptor {
  constructor(
    private readonly context: RequestContext,
    private readonly keys: IdempotencyKeyRepository,
    private readonly reflector: Reflector,
  ) {}

  intercept(execution: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = execution.switchToHttp().getRequest<FastifyRequest>();
    const reply = execution.switchToHttp().getResponse<FastifyReply>();
    const header = request.headers['idempotency-key'];
    if (header === undefined) return next.handle();
    const key = Array.isArray(header) ? header[0] : header;
    if (!KEY_PATTERN.test(key)) {
      throw new ProblemException(400, 'Idempotency-Key must be 1 to 255 visible ASCII characters', {
        errors: [{ path: 'headers.idempotency-key', message: 'invalid' }],
      });
    }
    const recordedByHandler = this.reflector.get<boolean | undefined>(RECORDED_BY_HANDLER, execution.getHandler()) === true;
    const run = () => lastValueFrom(next.handle(), { defaultValue: undefined });
    return from(recordedByHandler ? this.recordedByHandler(request, reply, key, run) : this.once(request, reply, key, run));
  }

  private async once(request: FastifyRequest, reply: FastifyReply, key: string, run: () => Promise<unknown>): Promise<unknown> {
    const db = this.context.db;
    const organizationId = this.context.organizationId;
    const claim = claimOf(request, key);
    if (!(await this.keys.claim(organizationId, claim.scope, key, claim.requestHash, db))) return this.replay(reply, claim);
    // The key row is completed after the handler, in its transaction: the handler must not commit early.
    this.context.willWriteAfterHandler();
    const result = await run();
    // Stored as the client saw it (dates as ISO strings), so a replay is byte-for-byte the same body.
    await this.keys.complete(organizationId, claim.scope, key, 201, result, db);
    return result;
  }

  /**
   * The handler keeps the record in its own rows (payment creation: the payment row, unique per key, with the
   * request's hash), written by its one statement, so no key row is written or completed here: the handler gets
   * the claim (`@IdempotencyKeyClaim()`), and throws IdempotentReplay (answered here) or idempotencyMismatch().
   */
  private async recordedByHandler(request: FastifyRequest, reply: FastifyReply, key: string, run: () => Promise<unknown>): Promise<unknown> {
    (request as { [CLAIM]?: IdempotencyClaim })[CLAIM] = claimOf(request, key);
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof IdempotentReplay)) throw error;
      reply.header('idempotent-replayed', 'true');
      return error.response;
    }
  }

  /** The key was claimed by an earlier request (committed): its stored response, or 409 for another request. */
  private async replay(reply: FastifyReply, claim: IdempotencyClaim): Promise<unknown> {
    const stored = await this.keys.find(this.context.organizationId, claim.scope, claim.key, this.context.db);
    if (!stored || stored.requestHash !== claim.requestHash) {
      throw idempotencyMismatch();
    }
    reply.header('idempotent-replayed', 'true');
    return stored.responseBody;
  }
}

function claimOf(request: FastifyRequest, key: string): IdempotencyClaim {
  return {
    scope: `${request.method} ${request.routeOptions.url}`,
    key,
    requestHash: requestHashOf(request.params, request.body),
  };
}

/** What an Idempotency-Key's request hash covers: the route's parameters and the body (canonical JSON, SHA-256). */
export function requestHashOf(params: unknown, body: unknown): string {
  return sha256Hex(canonicalJson({ params: params ?? {}, body: body ?? null }));
}

/**
 * The request's Idempotency-Key claim (route, key, request hash) for a handler that keeps the record itself
 * (`Idempotent({ recordedByHandler: true })`); undefined without the header.
 */
export const IdempotencyKeyClaim = createParamDecorator(
  (_: unknown, execution: ExecutionContext): IdempotencyClaim | undefined =>
    (execution.switchToHttp().getRequest<FastifyRequest>() as { [CLAIM]?: IdempotencyClaim })[CLAIM],
);

/**
 * Marks a create route as honouring `Idempotency-Key`. `recordedByHandler`: the handler's own rows are the record
 * (`@IdempotencyKeyClaim()`, IdempotentReplay, idempotencyMismatch) instead of an idempotency_keys row.
 */
export const Idempotent = (options: { recordedByHandler?: boolean } = {}) =>
  applyDecorators(
    SetMetadata(RECORDED_BY_HANDLER, options.recordedByHandler === true),
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'retry-safe creation: the same key and body return the first response; another body gets 409',
    }),
  );
