import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { RequestMethod } from '@nestjs/common';
import type { Params } from 'nestjs-pino';
import type { ApiConfig } from '../../config/api-config';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A client's X-Request-Id when it is sane, else a new UUID; the raw request keeps it for the logger. */
export function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
  (req as { id?: unknown }).id = id;
  return id;
}

/**
 * `LOG_FORMAT=auto` (the default): short human-readable lines when a person watches the terminal (stdout is a TTY,
 * outside production, and pino-pretty is installed: it is a development dependency), else JSON lines for a log
 * collector. `json` / `pretty` choose explicitly (`pretty` falls back to JSON, saying so, without pino-pretty).
 */
export function resolveLogFormat(config: Pick<ApiConfig, 'LOG_FORMAT' | 'production'>, tty = process.stdout.isTTY === true): 'json' | 'pretty' {
  if (config.LOG_FORMAT === 'json') return 'json';
  if (config.LOG_FORMAT === 'auto' && (!tty || config.production)) return 'json';
  if (prettyInstalled()) return 'pretty';
  if (config.LOG_FORMAT === 'pretty') process.stderr.write('agenthub api: LOG_FORMAT=pretty needs pino-pretty (a development dependency): logging JSON\n');
  return 'json';
}

function prettyInstalled(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * Logs (pino): one line per request plus whatever the services log, each carrying the request id (`req.id` /
 * `reqId`); JSON, or one short line each on a terminal (resolveLogFormat). Credentials never reach a line: the
 * Authorization header is redacted and bodies are not logged.
 */
export function loggerParams(config: ApiConfig, format = resolveLogFormat(config)): Params {
  const pretty =
    format === 'pretty'
      ? {
          transport: {
            target: 'pino-pretty',
            options: {
              colorize: process.stdout.isTTY === true,
              singleLine: true,
              translateTime: 'SYS:HH:MM:ss.l',
              ignore: 'pid,hostname,req,res,responseTime,requestId,context',
              messageFormat: '{if context}[{context}] {end}{msg}',
            },
          },
          customSuccessMessage: (req: IncomingMessage, res: { statusCode: number }, ms: number) => `${req.method} ${req.url} → ${res.statusCode} (${Math.round(ms)} ms)`,
          customErrorMessage: (req: IncomingMessage, res: { statusCode: number }, error: Error) => `${req.method} ${req.url} → ${res.statusCode}: ${error.message}`,
        }
      : {};
  return {
    forRoutes: [{ path: '{*path}', method: RequestMethod.ALL }],
    pinoHttp: {
      ...pretty,
      level: config.LOG_LEVEL,
      genReqId: (req) => ((req as { id?: unknown }).id as string | undefined) ?? requestId(req),
      customAttributeKeys: { reqId: 'requestId' },
      // The request serializer is the one way a request reaches a line, and it copies two headers only: the
      // Authorization header's presence as '[redacted]' and the user agent. Censored here rather than by pino's
      // `redact` paths, which cost ~4 % of the API's CPU under the page load (perf) to overwrite the value this
      // serializer had just copied in.
      serializers: {
        req: (req: { id: string; method: string; url: string; headers: Record<string, unknown> }) => ({
          id: req.id,
          method: req.method,
          url: req.url,
          headers: { authorization: req.headers.authorization === undefined ? undefined : '[redacted]', 'user-agent': req.headers['user-agent'] },
        }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      // 503 is the API asking clients to retry (the database unreachable during a failover, shutting down): an
      // operational state, at warn, so that an outage with a readiness probe every few ms does not flood the errors.
      customLogLevel: (_req, res, error) =>
        res.statusCode === 503 ? 'warn' : error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      quietReqLogger: false,
    },
  };
}
