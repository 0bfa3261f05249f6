import type { LoggerService } from '@nestjs/common';

/**
 * Nest's start-up chatter: a line per module initialised, per controller and per mapped route (~90 lines around
 * the two that matter, the URL and the admin token). At debug level, where `LOG_LEVEL=debug` still shows it.
 */
const START_UP_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory', 'NestApplication']);

/** The application's logger with Nest's start-up lines moved down to debug; everything else passes through. */
export class FrameworkLogger implements LoggerService {
  constructor(private readonly inner: LoggerService & { debug(message: unknown, ...rest: unknown[]): void }) {}

  log(message: unknown, ...rest: unknown[]): void {
    const context = rest[rest.length - 1];
    if (typeof context === 'string' && START_UP_CONTEXTS.has(context)) this.inner.debug(message, ...rest);
    else this.inner.log(message, ...rest);
  }

  error(message: unknown, ...rest: unknown[]): void {
    this.inner.error(message, ...rest);
  }

  warn(message: unknown, ...rest: unknown[]): void {
    this.inner.warn(message, ...rest);
  }

  debug(message: unknown, ...rest: unknown[]): void {
    this.inner.debug(message, ...rest);
  }

  verbose(message: unknown, ...rest: unknown[]): void {
    this.inner.verbose?.(message, ...rest);
  }

  fatal(message: unknown, ...rest: unknown[]): void {
    (this.inner.fatal ?? this.inner.error).call(this.inner, message, ...rest);
  }
}
