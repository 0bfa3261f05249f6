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
const CLAIMED_BY_HANDLER = 'agenthub:idempotency-claimed-by-handler';
const CLAIM = Symbol('agenthub idempotency claim');

/**
 * Thrown by a handler that claims the key in its own statement (`Idempotent({ claimedByHandler: true })`) when
 * the key was already claimed: it wrote nothing, and the interceptor replays the stored response.
 */
export class IdempotencyKeyTaken extends Error {
  constructor() {
    super('Idempotency-Key already claimed');
  }
}

/**
 * `Idempotency-Key` on writes that create things (API.md, Conventions): the same key with the same request returns
 * the first response, with another request 409. The key row is inserted in the request's own transaction before
 * the work and completed with the response in it, so the key and the write commit together or not at all. A
 * concurrent request with the same key waits on the key's unique index until the first commits, then replays it.
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
    const claimedByHandler = this.reflector.get<boolean | undefined>(CLAIMED_BY_HANDLER, execution.getHandler()) === true;
    const run = () => lastValueFrom(next.handle(), { defaultValue: undefined });
    return from(claimedByHandler ? this.claimedByHandler(request, reply, key, run) : this.once(request, reply, key, run));
  }

  private async once(request: FastifyRequest, reply: FastifyReply, key: string, run: () => Promise<unknown>): Promise<unknown> {
    const db = this.context.db;
    const organizationId = this.context.organizationId;
    const claim = claimOf(request, key);
    if (!(await this.keys.claim(organizationId, claim.scope, key, claim.requestHash, db))) return this.replay(reply, claim);
    const result = await run();
    // Stored as the client saw it (dates as ISO strings), so a replay is byte-for-byte the same body.
    await this.keys.complete(organizationId, claim.scope, key, 201, result, db);
    return result;
  }

  /**
   * The handler's own statement claims the key (one round trip fewer: payment creation inserts the key row and
   * the payment together); the response is stored with the COMMIT.
   */
  private async claimedByHandler(request: FastifyRequest, reply: FastifyReply, key: string, run: () => Promise<unknown>): Promise<unknown> {
    const claim = claimOf(request, key);
    (request as { [CLAIM]?: IdempotencyClaim })[CLAIM] = claim;
    let result: unknown;
    try {
      result = await run();
    } catch (error) {
      if (error instanceof IdempotencyKeyTaken) return this.replay(reply, claim);
      throw error;
    }
    await this.keys.complete(this.context.organizationId, claim.scope, key, 201, result, this.context.db, { deferUntilCommit: true });
    return result;
  }

  /** The key was claimed by an earlier request (committed): its stored response, or 409 for another request. */
  private async replay(reply: FastifyReply, claim: IdempotencyClaim): Promise<unknown> {
    const stored = await this.keys.find(this.context.organizationId, claim.scope, claim.key, this.context.db);
    if (!stored || stored.requestHash !== claim.requestHash) {
      throw new ProblemException(409, 'this Idempotency-Key was used with a different request', { slug: 'idempotency-mismatch' });
    }
    reply.header('idempotent-replayed', 'true');
    return stored.responseBody;
  }
}

function claimOf(request: FastifyRequest, key: string): IdempotencyClaim {
  return {
    scope: `${request.method} ${request.routeOptions.url}`,
    key,
    requestHash: sha256Hex(canonicalJson({ params: request.params ?? {}, body: request.body ?? null })),
  };
}

/**
 * The request's Idempotency-Key claim for a handler that makes it itself (`Idempotent({ claimedByHandler: true })`);
 * undefined without the header. The handler claims it with IdempotencyKeyRepository's record in its own statement
 * and throws IdempotencyKeyTaken when it was taken.
 */
export const IdempotencyKeyClaim = createParamDecorator(
  (_: unknown, execution: ExecutionContext): IdempotencyClaim | undefined =>
    (execution.switchToHttp().getRequest<FastifyRequest>() as { [CLAIM]?: IdempotencyClaim })[CLAIM],
);

/**
 * Marks a create route as honouring `Idempotency-Key`. `claimedByHandler`: the handler takes the claim
 * (`@IdempotencyKeyClaim()`) and inserts the key row in its own statement instead of the interceptor doing it first.
 */
export const Idempotent = (options: { claimedByHandler?: boolean } = {}) =>
  applyDecorators(
    SetMetadata(CLAIMED_BY_HANDLER, options.claimedByHandler === true),
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'retry-safe creation: the same key and body return the first response; another body gets 409',
    }),
  );
