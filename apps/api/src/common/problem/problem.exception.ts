import { HttpException } from '@nestjs/common';
import { problem, type Problem } from './problem';

/** An HTTP error raised by the API layer itself (auth, roles, preconditions), already in problem form. */
export class ProblemException extends HttpException {
  readonly headers?: Record<string, string>;

  constructor(
    status: number,
    detail: string,
    extra: Parameters<typeof problem>[2] & { headers?: Record<string, string> } = {},
  ) {
    super(problem(status, detail, extra), status);
    this.headers = extra.headers;
  }

  get problem(): Problem {
    return this.getResponse() as Problem;
  }
}
