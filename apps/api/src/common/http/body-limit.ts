import { applyDecorators } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import { ApiExtension } from '@nestjs/swagger';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { OpenAPIObject } from '@nestjs/swagger';
import { MAX_MEMORY_BATCH } from '@agenthub/db';
import type { ApiConfig } from '../../config/api-config';

/**
 * Body limits sized to the route. Every route takes API_BODY_LIMIT_BYTES unless it says otherwise:
 * - `bulk` (memory batch, document with chunks): MAX_MEMORY_BATCH items, each with an embedding written as JSON
 *   numbers at full precision plus 16 KiB of text and metadata (API_BULK_BODY_LIMIT_BYTES overrides it);
 * - `search` (memory and document search): one embedding at full precision plus 64 KiB (query, filter).
 */
export type BodyLimitKind = 'bulk' | 'search';

/**
 * Bytes of one embedding value written as a JSON number at full precision, with its separator: the longest
 * shortest-round-trip form of a double in (-1, 1) is 25 characters (`-0.0000012345678901234567`), plus `, ` as
 * Python's json.dumps writes it and a byte to spare.
 */
export const FULL_PRECISION_NUMBER_BYTES = 28;
const KIB = 1024;
const MIB = 1024 * KIB;
const roundUpToMiB = (bytes: number) => Math.ceil(bytes / MIB) * MIB;

export function bodyLimits(config: ApiConfig): Record<BodyLimitKind | 'default', number> {
  const embedding = config.EMBEDDING_DIMENSIONS * FULL_PRECISION_NUMBER_BYTES;
  return {
    default: config.API_BODY_LIMIT_BYTES,
    search: roundUpToMiB(embedding + 64 * KIB),
    bulk: config.API_BULK_BODY_LIMIT_BYTES ?? roundUpToMiB(MAX_MEMORY_BATCH * (embedding + 16 * KIB)),
  };
}

const KIND = 'agenthubBodyLimit';
const OPENAPI_MARK = 'x-agenthub-body-limit';

/** The route's body limit (see BodyLimitKind); it is written into the OpenAPI document as `x-body-limit-bytes`. */
export const BodyLimit = (kind: BodyLimitKind) => applyDecorators(RouteConfig({ [KIND]: kind }), ApiExtension(OPENAPI_MARK, kind));

export function bodyLimitKind(request: FastifyRequest): BodyLimitKind | undefined {
  return (request.routeOptions.config as { [KIND]?: BodyLimitKind } | undefined)?.[KIND];
}

/** Gives every route marked with @BodyLimit its limit as Fastify's own per-route `bodyLimit`. */
export function installBodyLimits(fastify: FastifyInstance, config: ApiConfig): void {
  const limits = bodyLimits(config);
  fastify.addHook('onRoute', (route: RouteOptions) => {
    const kind = (route.config as { [KIND]?: BodyLimitKind } | undefined)?.[KIND];
    if (kind) route.bodyLimit = limits[kind];
  });
}

/** `x-body-limit-bytes` on every operation of the OpenAPI document, in place of the decorator's mark. */
export function documentBodyLimits(document: OpenAPIObject, config: ApiConfig): void {
  const limits = bodyLimits(config);
  for (const item of Object.values(document.paths)) {
    for (const method of ['post', 'put', 'patch'] as const) {
      const operation = item[method] as (Record<string, unknown> & { responses?: Record<string, { description?: string }> }) | undefined;
      if (!operation) continue;
      const kind = operation[OPENAPI_MARK] as BodyLimitKind | undefined;
      delete operation[OPENAPI_MARK];
      const bytes = limits[kind ?? 'default'];
      operation['x-body-limit-bytes'] = bytes;
      const tooLarge = operation.responses?.['413'];
      if (tooLarge) tooLarge.description = `body larger than ${bytes} bytes (${(bytes / MIB).toFixed(1)} MiB)`;
    }
  }
}

/**
 * How much of a refused body the server still reads (and discards) so that the client can finish sending and read
 * the answer: Node's fetch (undici) and Python's requests fail with EPIPE/ECONNRESET, without showing the response,
 * when the server closes while they are still writing. Beyond this the connection is closed.
 */
export function drainLimit(request: FastifyRequest): number {
  return Math.max(4 * (request.routeOptions.bodyLimit ?? 0), 64 * MIB);
}

/** The client is still sending the body of this request (or has declared one that has not all arrived). */
export function bodyStillArriving(request: FastifyRequest): boolean {
  const raw = request.raw;
  if (raw.complete) return false;
  const length = Number(raw.headers['content-length'] ?? 0);
  return length > 0 || raw.headers['transfer-encoding'] !== undefined;
}

/**
 * Answers an error while the request body is still arriving (413, 415): the whole response goes out at once, with
 * `Connection: close`, but the connection stays open, reading and discarding the rest of the body up to
 * `drainLimit`, so a client that reads only after sending (requests, fetch) gets the answer instead of a broken
 * pipe. The response ends, and Node closes the connection, once the body has been read; a body declared or found
 * larger than the drain limit closes it at once.
 */
export function answerWhileDraining(request: FastifyRequest, reply: FastifyReply, status: number, headers: Record<string, string>, body: string): void {
  const req = request.raw;
  const res = reply.raw;
  reply.hijack();
  res.writeHead(status, {
    ...headers,
    'content-length': Buffer.byteLength(body),
    'x-request-id': String(request.id),
    connection: 'close',
  });
  res.write(body);
  const limit = drainLimit(request);
  if (Number(req.headers['content-length'] ?? 0) > limit) {
    res.end();
    return;
  }
  let discarded = 0;
  const done = (destroy: boolean) => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    res.end();
    if (destroy) req.socket.destroy();
  };
  const onData = (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limit) done(true);
  };
  const onEnd = () => done(false);
  const onError = () => done(true);
  req.on('data', onData);
  req.once('end', onEnd);
  req.once('error', onError);
  req.resume();
}
