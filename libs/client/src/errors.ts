/** One problem+json error of the API (API.md): `errors[]` says which fields, for 400s. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: Array<{ path: string; message: string }>;
}

/**
 * A non-2xx answer of the API, as a typed error: the problem+json body's fields, the HTTP status, and the
 * request id the API logged it under (x-request-id). A body that is not problem+json keeps its text in `detail`.
 */
export class AgentHubError extends Error implements Problem {
  override readonly name = 'AgentHubError';
  readonly type: string;
  readonly title: string;
  readonly detail?: string;
  readonly errors: Array<{ path: string; message: string }>;

  constructor(
    readonly status: number,
    problem: Partial<Problem>,
    readonly requestId: string | null = null,
  ) {
    super(`${status} ${problem.title ?? 'error'}${problem.detail ? `: ${problem.detail}` : ''}`);
    this.type = problem.type ?? 'about:blank';
    this.title = problem.title ?? `HTTP ${status}`;
    this.detail = problem.detail;
    this.errors = problem.errors ?? [];
  }

  /** The error for a response that is not 2xx (reads its body). */
  static async from(response: Response): Promise<AgentHubError> {
    const requestId = response.headers.get('x-request-id');
    const text = await response.text().catch(() => '');
    let problem: Partial<Problem> = { detail: text || undefined };
    if (/json/.test(response.headers.get('content-type') ?? '')) {
      try {
        problem = JSON.parse(text) as Partial<Problem>;
      } catch {
        // not JSON after all: keep the text
      }
    }
    return new AgentHubError(response.status, problem, requestId);
  }
}

/**
 * Whether `error` is the API's answer with this status (`isStatus(e, 404)`: not found), the one spelling of that
 * check for every integration (a network error or a bug is not an answer and is rethrown by callers).
 */
export function isStatus(error: unknown, status: number): error is AgentHubError {
  return error instanceof AgentHubError && error.status === status;
}
