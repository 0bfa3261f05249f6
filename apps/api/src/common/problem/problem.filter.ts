import { ArgumentsHost, Catch, ExceptionFilter, Logger } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { answerWhileDraining, bodyStillArriving } from '../http/body-limit';
import { PROBLEM_CONTENT_TYPE } from './problem';
import { toProblem } from './to-problem';

/** The one exception filter: every error leaves as application/problem+json. */
@Catch()
export class ProblemFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    sendProblem(request, reply, error, this.logger);
  }
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown, logger: Pick<Logger, 'error' | 'warn'>): void {
  const { problem, headers, unexpected, cause } = toProblem(error);
  if (unexpected) logger.error({ err: error, requestId: request.id }, 'request failed');
  else if (cause) unavailable.note(cause, String(request.id), logger);
  problem.requestId = String(request.id);
  if (reply.sent) return;
  // Refused before its body was read (413, 415): answer now, let the client finish sending, then close.
  if (bodyStillArriving(request)) {
    answerWhileDraining(request, reply, problem.status, { ...headers, 'content-type': PROBLEM_CONTENT_TYPE }, JSON.stringify(problem));
    return;
  }
  for (const [k, v] of Object.entries(headers ?? {})) reply.header(k, v);
  reply.status(problem.status).header('content-type', PROBLEM_CONTENT_TYPE).send(problem);
}

/**
 * The causes of 503s for a database that could not serve a request, in the log: each cause at once the first time,
 * then at most once per `windowMs`, with how many requests it also failed since (a pool exhausted under load, or
 * a failover, fails hundreds a second: a line each would flood the log, none would leave the operator guessing).
 */
export class UnavailableLog {
  private readonly causes = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly windowMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  note(cause: string, requestId: string, logger: Pick<Logger, 'warn'>): void {
    const t = this.now();
    const seen = this.causes.get(cause);
    if (seen && t - seen.at < this.windowMs) {
      seen.suppressed++;
      return;
    }
    const suppressed = seen?.suppressed ?? 0;
    // Bounded: at most MAX_CAUSES remembered, the one logged longest ago forgotten first (Map order is insertion
    // order, and a cause logged again is inserted again).
    this.causes.delete(cause);
    if (this.causes.size >= MAX_CAUSES) this.causes.delete(this.causes.keys().next().value!);
    this.causes.set(cause, { at: t, suppressed: 0 });
    logger.warn(
      { cause, requestId, alsoFailedSinceLastLine: suppressed },
      `the database could not serve the request (503): ${cause}${suppressed ? ` (and ${suppressed} more requests since the last such line)` : ''}`,
    );
  }
}

const MAX_CAUSES = 100;
const unavailable = new UnavailableLog();
