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

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: unknown, logger: Pick<Logger, 'error'>): void {
  const { problem, headers, unexpected } = toProblem(error);
  if (unexpected) logger.error({ err: error, requestId: request.id }, 'request failed');
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
