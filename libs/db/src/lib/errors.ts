/**
 * Domain errors of the data layer. Repositories throw these (never HTTP exceptions); the API maps them to
 * problem+json. Another organization's id is reported exactly like a missing one: existence is not leaked.
 */
export type DomainErrorCode = 'not_found' | 'conflict' | 'invalid_input' | 'invalid_state';

export abstract class DomainError extends Error {
  abstract readonly code: DomainErrorCode;
  /**
   * The error aborted the caller's transaction because of a concurrent writer (a unique value taken in the
   * meantime); running the whole transaction again will see that writer's row. `PrismaService.transaction` does.
   */
  retryTransaction = false;
  constructor(
    message: string,
    /** Field-level problems, `path` in dotted form (`embedding`, `messages.3.role`). */
    readonly details: ReadonlyArray<{ path: string; message: string }> = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'not_found';
  constructor(readonly entity: string, readonly id?: string) {
    super(id ? `${entity} ${id} not found` : `${entity} not found`);
  }
}

/** A unique value already taken, a stale version, an idempotency key reused with another body. */
export class ConflictError extends DomainError {
  readonly code = 'conflict';
}

/** Input that can never succeed: wrong embedding dimension, invalid money, unknown currency. */
export class InvalidInputError extends DomainError {
  readonly code = 'invalid_input';
}

/** A transition the entity's state does not allow (refund of a pending payment, chunk after completion). */
export class InvalidStateError extends DomainError {
  readonly code = 'invalid_state';
}

interface PgLikeError {
  code?: string;
  meta?: Record<string, unknown>;
  cause?: { originalCode?: string; originalMessage?: string; kind?: string; constraint?: unknown };
  message?: string;
}

/** The SQLSTATE of an error coming from PostgreSQL through Prisma, the pg adapter, or pg itself. */
export function sqlState(error: unknown): string | undefined {
  const e = error as PgLikeError & { meta?: { driverAdapterError?: { cause?: { originalCode?: string } } } };
  return (
    e?.cause?.originalCode ??
    (e?.meta?.driverAdapterError as { cause?: { originalCode?: string } } | undefined)?.cause?.originalCode ??
    (typeof e?.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined)
  );
}

export function isUniqueViolation(error: unknown): boolean {
  const e = error as PgLikeError;
  return e?.code === 'P2002' || sqlState(error) === '23505';
}

export function isForeignKeyViolation(error: unknown): boolean {
  const e = error as PgLikeError;
  return e?.code === 'P2003' || sqlState(error) === '23503';
}

export function isRecordNotFound(error: unknown): boolean {
  return (error as PgLikeError)?.code === 'P2025';
}

/** Serialization failures and deadlocks: safe to retry the whole transaction. */
export function isRetryableTransactionError(error: unknown): boolean {
  if (error instanceof DomainError && error.retryTransaction) return true;
  const state = sqlState(error);
  return state === '40001' || state === '40P01' || (error as PgLikeError)?.code === 'P2034';
}

/**
 * The database cannot be reached or cannot take the statement right now, through no fault of the request: the
 * server is shutting down or starting (57P01–57P03), refuses more connections (53300), the connection was lost or
 * refused (class 08, a socket error, pg's "Connection terminated", a pool that could not connect in time, no listed
 * host qualifying after a failover: multi-host.ts), or a silent connection (a query timeout). The API answers these
 * with 503 and Retry-After; a read replica hands the read to the primary. A write whose outcome the client did not
 * see is retried safely with its Idempotency-Key or clientId. (25006, a write in a read-only transaction, is not
 * here: read routes are read-only by design, so it is a bug to report, not a condition to retry.)
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  const state = sqlState(error);
  if (state && (state === '53300' || state.startsWith('57P') || state.startsWith('08'))) return true;
  const e = error as PgLikeError & { name?: string };
  if (typeof e?.code === 'string' && (NETWORK_ERRORS.has(e.code) || PRISMA_UNREACHABLE.has(e.code))) return true;
  if (e?.name === 'MultiHostConnectError') return true;
  // Prisma's driver adapter names the condition instead of a SQLSTATE (`Server has closed the connection.`: P2010
  // with meta.driverAdapterError.cause.kind ConnectionClosed; found by the failover drill as a 500).
  const kind = (e?.meta?.driverAdapterError as { cause?: { kind?: string } } | undefined)?.cause?.kind ?? e?.cause?.kind;
  if (kind && ADAPTER_UNREACHABLE.has(kind)) return true;
  const message = e?.message ?? '';
  return /Connection terminated|timeout exceeded when trying to connect|connection timeout|Client has encountered a connection error|Connection ended|Query read timeout|not queryable/i.test(message);
}

/** Socket errors of a lost or refused connection (not every Node error code: ENOENT is no outage). */
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENOTFOUND', 'EAI_AGAIN']);
/** The driver adapter's kinds of an unreachable or lost database. */
const ADAPTER_UNREACHABLE = new Set(['ConnectionClosed', 'DatabaseNotReachable', 'SocketTimeout', 'TooManyConnections']);
/** Prisma's "can't reach the server", "timed out", "operations timed out", "closed the connection". */
const PRISMA_UNREACHABLE = new Set(['P1001', 'P1002', 'P1008', 'P1017']);
