import { applyDecorators, HttpCode } from '@nestjs/common';
import { ApiBearerAuth, ApiResponse } from '@nestjs/swagger';

const DESCRIPTIONS: Record<number, string> = {
  400: 'invalid input (problem+json with errors[])',
  401: 'no key, or an invalid or revoked key',
  403: 'the key\'s role is too low for this route',
  404: 'not found (also: another organization\'s id)',
  409: 'conflict: state, version or idempotency mismatch',
  413: 'body larger than the route accepts (x-body-limit-bytes); the answer comes after the body has been read',
  414: 'URL (or one of its path segments) too long',
  415: 'body is not JSON',
  429: 'rate limited (Retry-After)',
  431: 'request headers too large (16 KiB in all)',
};

const problemRef = { $ref: '#/components/schemas/Problem' };

/** Documents the problem+json errors a route can answer with (every route gets 400, 401, 414, 429 and 431). */
export function ApiProblems(...statuses: number[]): MethodDecorator & ClassDecorator {
  const all = [...new Set([400, 401, 414, 429, 431, ...statuses])].sort();
  return applyDecorators(
    ApiBearerAuth(),
    ...all.map((status) =>
      ApiResponse({
        status,
        description: DESCRIPTIONS[status] ?? 'error',
        content: { 'application/problem+json': { schema: problemRef } },
      }),
    ),
  );
}

/** A route that answers 204 with no body (the deletes), documented as such so every route has its success status. */
export function NoContent(description = 'done; no body'): MethodDecorator {
  return applyDecorators(HttpCode(204), ApiResponse({ status: 204, description }));
}
