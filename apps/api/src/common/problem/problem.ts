import { HttpStatus } from '@nestjs/common';

/** RFC 9457 problem details, the one error shape of the API (../shared/API.md, Conventions). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: Array<{ path: string; message: string }>;
  /** the request id, to find the log lines of a failed request */
  requestId?: string;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
const TYPE_BASE = 'https://agenthub.dev/problems/';

const TITLES: Record<number, [slug: string, title: string]> = {
  400: ['invalid-request', 'Invalid request'],
  401: ['unauthorized', 'Missing or invalid credentials'],
  403: ['forbidden', 'Not allowed for this key'],
  404: ['not-found', 'Not found'],
  405: ['method-not-allowed', 'Method not allowed'],
  406: ['not-acceptable', 'Not acceptable'],
  408: ['request-timeout', 'Request timeout'],
  409: ['conflict', 'Conflict'],
  411: ['length-required', 'Length required'],
  413: ['payload-too-large', 'Request body too large'],
  414: ['uri-too-long', 'URI too long'],
  415: ['unsupported-media-type', 'Unsupported media type'],
  422: ['unprocessable', 'Unprocessable request'],
  428: ['precondition-required', 'Precondition required'],
  429: ['rate-limited', 'Too many requests'],
  431: ['header-fields-too-large', 'Request header fields too large'],
  500: ['internal', 'Internal server error'],
  503: ['unavailable', 'Service unavailable'],
};

export function problem(
  status: number,
  detail: string,
  extra: { errors?: Problem['errors']; slug?: string; title?: string } = {},
): Problem {
  const [slug, title] = TITLES[status] ?? [
    status >= 500 ? 'internal' : 'invalid-request',
    HttpStatus[status]?.toString().replace(/_/g, ' ').toLowerCase() ?? 'Error',
  ];
  const body: Problem = { type: TYPE_BASE + (extra.slug ?? slug), title: extra.title ?? title, status, detail };
  if (extra.errors?.length) body.errors = extra.errors;
  return body;
}
