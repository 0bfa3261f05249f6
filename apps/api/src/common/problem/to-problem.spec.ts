import { ForbiddenException, InternalServerErrorException } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import { ZodValidationException } from 'nestjs-zod';
import { z } from 'zod';
import { ConflictError, InvalidInputError, InvalidStateError, NotFoundError } from '@agenthub/db';
import { ProblemException } from './problem.exception';
import { toProblem } from './to-problem';

const TYPE = 'https://agenthub.dev/problems/';

/** A pg error as node-postgres throws it: a five-character SQLSTATE in `code`. */
const pgError = (code: string, message = 'db says no') => Object.assign(new Error(message), { code });

describe('toProblem: every error as one problem+json shape', () => {
  it('maps the data layer\'s domain errors to their 4xx, keeping the field problems', () => {
    expect(toProblem(new NotFoundError('conversation', 'c1'))).toEqual({
      problem: { type: `${TYPE}not-found`, title: 'Not found', status: 404, detail: 'conversation c1 not found' },
      unexpected: false,
    });
    const invalid = toProblem(new InvalidInputError('embeddings must have 4 dimensions', [{ path: 'embedding', message: 'must have 4' }]));
    expect(invalid.problem).toEqual({
      type: `${TYPE}invalid-request`,
      title: 'Invalid request',
      status: 400,
      detail: 'embeddings must have 4 dimensions',
      errors: [{ path: 'embedding', message: 'must have 4' }],
    });
    expect(toProblem(new ConflictError('taken')).problem.status).toBe(409);
    expect(toProblem(new InvalidStateError('refund of a pending payment')).problem).toMatchObject({ status: 409, type: `${TYPE}conflict` });
  });

  it('names every schema problem by its dotted path, unknown fields one by one', () => {
    const schema = z.strictObject({ messages: z.array(z.strictObject({ role: z.enum(['user', 'assistant']) })) });
    const parsed = schema.safeParse({ messages: [{ role: 'user' }, { role: 'robot', extra: 1 }] });
    const { problem, unexpected } = toProblem(new ZodValidationException(parsed.error!));
    expect(unexpected).toBe(false);
    expect(problem).toMatchObject({ status: 400, detail: 'the request does not match the schema' });
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        { path: 'messages.1.role', message: expect.any(String) },
        { path: 'messages.1.extra', message: 'unknown field' },
      ]),
    );
    expect(problem.errors).toHaveLength(2);
  });

  it("reports the branch of a union the value's type chose, not just 'invalid input'", () => {
    const embedding = z.union([z.array(z.number()), z.string()]);
    const parsed = z.object({ embedding }).safeParse({ embedding: [1, 'two', 3] });
    expect(toProblem(new ZodValidationException(parsed.error!)).problem.errors).toEqual([{ path: 'embedding.1', message: expect.any(String) }]);
  });

  it("turns Fastify's parser and limit errors into their 4xx with a readable detail", () => {
    const tooLarge = Object.assign(new Error('Request body is too large'), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
    expect(toProblem(tooLarge).problem).toMatchObject({ status: 413, type: `${TYPE}payload-too-large`, detail: 'the request body is larger than this server accepts' });
    const notJson = Object.assign(new SyntaxError('Unexpected token'), { statusCode: 400 });
    expect(toProblem(notJson).problem).toMatchObject({ status: 400, detail: 'the body is not valid JSON' });
    expect(toProblem(new SyntaxError('Unexpected end of JSON input')).problem).toMatchObject({ status: 400, detail: 'the body is not valid JSON' });
  });

  it('passes a ProblemException through as built, with its headers, and maps Nest and rate-limit exceptions', () => {
    const built = new ProblemException(428, 'send an Idempotency-Key', { errors: [{ path: 'headers.idempotency-key', message: 'required' }] });
    expect(toProblem(built).problem).toEqual(built.problem);
    expect(toProblem(new ForbiddenException('members only')).problem).toMatchObject({ status: 403, detail: 'members only' });
    expect(toProblem(new ThrottlerException()).problem).toMatchObject({ status: 429, type: `${TYPE}rate-limited` });
    expect(toProblem(new InternalServerErrorException('boom')).unexpected).toBe(true);
  });

  it('answers values PostgreSQL refuses with a 400, contention with a retryable 503, and anything else with a 500 that leaks nothing', () => {
    for (const code of ['22P02', '22003', '23502', '23514']) {
      expect(toProblem(pgError(code))).toMatchObject({ problem: { status: 400, detail: 'a value is not acceptable to the database' }, unexpected: false });
    }
    for (const code of ['40001', '40P01', '55P03']) {
      expect(toProblem(pgError(code))).toMatchObject({ problem: { status: 503 }, headers: { 'retry-after': '1' }, unexpected: true });
    }
    const secret = 'connection to 10.0.0.5 refused: password=hunter2';
    const unknown = toProblem(new Error(secret));
    expect(unknown).toMatchObject({ problem: { status: 500, type: `${TYPE}internal` }, unexpected: true });
    expect(JSON.stringify(unknown)).not.toContain('hunter2');
    expect(toProblem(pgError('23505')).problem.status).toBe(500); // a unique violation the code did not expect is a bug, not input
  });

  it('answers a database that cannot be reached (a failover, a restart) with a retryable 503 that names no host', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
    // What Prisma throws for a connection closed under an interactive transaction (the failover drill's 500 until
    // 2026-12-01): no SQLSTATE, the adapter's kind.
    const closed = Object.assign(new Error('Raw query failed. Code: `N/A`. Message: `Server has closed the connection.`'), {
      code: 'P2010',
      meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'ConnectionClosed' } } },
    });
    const cases = [pgError('57P01'), pgError('57P03'), pgError('08006'), refused, new Error('Connection terminated unexpectedly'), closed];
    for (const error of cases) {
      const mapped = toProblem(error);
      expect(mapped).toMatchObject({ problem: { status: 503, detail: 'the database is unavailable, retry the request' }, headers: { 'retry-after': '1' } });
      expect(JSON.stringify(mapped.problem)).not.toContain('10.0.0.5');
      expect(JSON.stringify(mapped.headers)).not.toContain('10.0.0.5');
    }
    // The log gets the cause the client does not: which of them it was.
    expect(toProblem(refused).cause).toBe('ECONNREFUSED: connect ECONNREFUSED 10.0.0.5:5432');
    expect(toProblem(pgError('57P01')).cause).toMatch(/^57P01: /);
    expect(toProblem(closed).cause).toBe('ConnectionClosed: Raw query failed. Code: `N/A`. Message: `Server has closed the connection.`');
    // As Prisma's client words an error of a model call: an empty first line, the engine's message last.
    const refusedByPrisma = Object.assign(new Error('\nInvalid `prisma.agent.create()` invocation:\n\n\nconnect ECONNREFUSED 10.0.0.5:5432'), {
      code: 'P2010',
      meta: { driverAdapterError: { name: 'DriverAdapterError', cause: { kind: 'DatabaseNotReachable', originalCode: 'ECONNREFUSED', originalMessage: 'connect ECONNREFUSED 10.0.0.5:5432' } } },
    });
    expect(toProblem(refusedByPrisma).cause).toBe('ECONNREFUSED: connect ECONNREFUSED 10.0.0.5:5432');
    expect(toProblem(Object.assign(new Error('\nInvalid `prisma.agent.create()` invocation:\n\n\nServer has closed the connection.'), { code: 'P1017' })).cause).toBe(
      'P1017: Server has closed the connection.',
    );
    expect(toProblem(new Error('timeout exceeded when trying to connect')).cause).toBe('Error: timeout exceeded when trying to connect');
    expect(toProblem(pgError('40001')).cause).toBeUndefined();
    // A write in a read-only transaction is a bug of the route (read routes are read-only by design), not an outage.
    expect(toProblem(pgError('25006')).problem.status).toBe(500);
    expect(toProblem(Object.assign(new Error('no such file'), { code: 'ENOENT' })).problem.status).toBe(500);
  });
});
