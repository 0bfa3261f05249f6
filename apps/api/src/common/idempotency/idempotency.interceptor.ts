import { CallHandler, ExecutionContext, Injectable, NestInterceptor, UseInterceptors, applyDecorators } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { IdempotencyKeyRepository, canonicalJson, sha256Hex } from '@agenthub/db';
import { ProblemException } from '../problem/problem.exception';
import { RequestContext } from '../tenancy/request-context';

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

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
    return from(this.once(request, reply, key, () => lastValueFrom(next.handle(), { defaultValue: undefined })));
  }

  private async once(request: FastifyRequest, reply: FastifyReply, key: string, run: () => Promise<unknown>): Promise<unknown> {
    const db = this.context.db;
    const organizationId = this.context.organizationId;
    const scope = `${request.method} ${request.routeOptions.url}`;
    const requestHash = sha256Hex(canonicalJson({ params: request.params ?? {}, body: request.body ?? null }));
    if (!(await this.keys.claim(organizationId, scope, key, requestHash, db))) {
      const stored = await this.keys.find(organizationId, scope, key, db);
      if (!stored || stored.requestHash !== requestHash) {
        throw new ProblemException(409, 'this Idempotency-Key was used with a different request', { slug: 'idempotency-mismatch' });
      }
      reply.header('idempotent-replayed', 'true');
      return stored.responseBody;
    }
    const result = await run();
    // Stored as the client saw it (dates as ISO strings), so a replay is byte-for-byte the same body.
    await this.keys.complete(organizationId, scope, key, 201, result, db);
    return result;
  }
}

/** Marks a create route as honouring `Idempotency-Key`. */
export const Idempotent = () =>
  applyDecorators(
    UseInterceptors(IdempotencyInterceptor),
    ApiHeader({
      name: 'Idempotency-Key',
      required: false,
      description: 'retry-safe creation: the same key and body return the first response; another body gets 409',
    }),
  );
