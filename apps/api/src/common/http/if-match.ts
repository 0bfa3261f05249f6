import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ProblemException } from '../problem/problem.exception';

/**
 * `If-Match: <version>` (also `"3"` or `W/"3"`, as ETags are written) → the version number, or undefined when
 * the header is absent. Anything else is a 400.
 */
export const IfMatchVersion = createParamDecorator((_: unknown, context: ExecutionContext): number | undefined => {
  const header = context.switchToHttp().getRequest<FastifyRequest>().headers['if-match'];
  if (header === undefined) return undefined;
  const match = /^\s*(?:W\/)?"?(\d{1,9})"?\s*$/.exec(String(header));
  if (!match) {
    throw new ProblemException(400, 'If-Match must be the version number to update', {
      errors: [{ path: 'headers.if-match', message: 'expected a version number' }],
    });
  }
  return Number(match[1]);
});
