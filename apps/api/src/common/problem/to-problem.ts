import { HttpException } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { ZodValidationException } from 'nestjs-zod';
import type { ZodError, core } from 'zod';

type ZodIssue = core.$ZodIssue;
import { DomainError, isDatabaseUnavailable, sqlState } from '@agenthub/db';
import { problem, type Problem } from './problem';
import { ProblemException } from './problem.exception';

/** `['body', 'messages', 3, 'role']` → `body.messages.3.role` */
function zodErrors(error: ZodError, source: string): Problem['errors'] {
  return zodIssues(error.issues, [source]);
}

function zodIssues(issues: readonly ZodIssue[], prefix: Array<string | number | symbol>): NonNullable<Problem['errors']> {
  return issues.flatMap((issue) => {
    const at = [...prefix, ...issue.path];
    const path = at.map(String).filter(Boolean).join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: path ? `${path}.${key}` : key, message: 'unknown field' }));
    }
    // A union (an embedding: numbers or base64) whose value had the type of one branch: that branch's own
    // problems (`embedding.3: expected number`), not just "invalid input".
    if (issue.code === 'invalid_union') {
      const matched = issue.errors.filter((branch) => !branch.some((i) => i.code === 'invalid_type' && i.path.length === 0));
      if (matched.length === 1) return zodIssues(matched[0], at);
    }
    return [{ path: path || '(body)', message: issue.message }];
  });
}

/** Fastify's own errors (body parsing, limits) carry a code and a statusCode. */
const FASTIFY_DETAIL: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'the request body is larger than this server accepts',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'send JSON: Content-Type: application/json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the body is empty but Content-Type says JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'Content-Length does not match the body',
  FST_ERR_MAX_PARAM_LENGTH: 'a path segment of the URL is longer than this server accepts',
  FST_ERR_BAD_URL: 'the URL is not valid',
};

/**
 * Every error, whatever threw it, as a problem. Bad input is a 4xx, never a 5xx: domain errors of the data layer,
 * validation errors, Fastify's parser errors and PostgreSQL errors caused by the input (invalid text
 * representation, out-of-range numbers) are all mapped here; anything else is a 500 whose detail leaks nothing.
 */
export function toProblem(error: unknown): {
  problem: Problem;
  headers?: Record<string, string>;
  unexpected: boolean;
  /** for the log, not the client: why the database could not serve the request (a 503 logged without a stack) */
  cause?: string;
} {
  if (error instanceof ProblemException) return { problem: { ...error.problem }, headers: error.headers, unexpected: false };
  if (error instanceof ZodValidationException) {
    const zodError = error.getZodError() as ZodError;
    return {
      problem: problem(400, 'the request does not match the schema', { errors: zodErrors(zodError, '') }),
      unexpected: false,
    };
  }
  if (error instanceof DomainError) {
    const status = { not_found: 404, conflict: 409, invalid_input: 400, invalid_state: 409 }[error.code];
    return { problem: problem(status, error.message, { errors: [...error.details] }), unexpected: false };
  }
  if (error instanceof ThrottlerException) {
    return { problem: problem(429, 'rate limit exceeded for this key, retry later'), unexpected: false };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    const detail =
      typeof response === 'string'
        ? response
        : ((response as { message?: string | string[] }).message?.toString() ?? error.message);
    return { problem: problem(status, detail), unexpected: status >= 500 };
  }
  const e = error as { statusCode?: number; code?: string; message?: string; validation?: unknown };
  if (typeof e?.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const detail = (e.code && FASTIFY_DETAIL[e.code]) ?? (e instanceof SyntaxError ? 'the body is not valid JSON' : e.message ?? 'bad request');
    return { problem: problem(e.statusCode, detail), unexpected: false };
  }
  if (error instanceof SyntaxError) return { problem: problem(400, 'the body is not valid JSON'), unexpected: false };
  // PostgreSQL rejecting a value the validation let through is still the caller's input, not our failure.
  const state = sqlState(error);
  if (state && /^(22|23502|23514)/.test(state)) {
    return { problem: problem(400, 'a value is not acceptable to the database'), unexpected: false };
  }
  if (state === '40001' || state === '40P01' || state === '55P03') {
    return { problem: problem(503, 'the database is busy, retry the request'), headers: { 'retry-after': '1' }, unexpected: true };
  }
  // The primary gone (a failover under way, a restart): the request may or may not have been applied; retrying it
  // with the same Idempotency-Key or clientId lands it once.
  if (isDatabaseUnavailable(error)) {
    // Not a defect of the request or of the code: no stack, which per request would only flood the log during a
    // failover; the request line (503, at warn) and the cause (sendProblem, rate-limited) say what happened.
    return {
      problem: problem(503, 'the database is unavailable, retry the request'),
      headers: { 'retry-after': '1' },
      unexpected: false,
      cause: unavailableCause(error),
    };
  }
  return { problem: problem(500, 'an unexpected error occurred; the request id identifies it in the logs'), unexpected: true };
}

/**
 * What the log says of a database that could not serve a request: the error's code (the driver's SQLSTATE or errno
 * under Prisma, the adapter's kind, a SQLSTATE, errno or Prisma code) and the driver's message, else the last line of
 * the error's — enough to tell a pool whose connections are all busy ("timeout
 * exceeded when trying to connect") from a server that refuses connections (ECONNREFUSED, 53300 too many clients)
 * or one shutting down (57P01). Never sent to the client: it may name a host.
 */
export function unavailableCause(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: Record<string, unknown> } } };
  // Prisma's errors carry the driver's condition in meta (the SQLSTATE, or a kind such as ConnectionClosed, and the
  // driver's message), and a message that begins with an empty line and ends with what the engine said.
  const cause = e?.meta?.driverAdapterError?.cause;
  const text = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  const code = text(cause?.['originalCode']) ?? text(cause?.['kind']) ?? sqlState(error) ?? text(e?.code) ?? text(e?.name) ?? 'error';
  const lines = typeof e?.message === 'string' ? e.message.split('\n').map((l) => l.trim()).filter(Boolean) : [];
  const message = text(cause?.['originalMessage']) ?? lines.at(-1) ?? String(error);
  return `${code}: ${message.slice(0, 300)}`;
}
