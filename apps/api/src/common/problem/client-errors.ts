import { randomUUID } from 'node:crypto';
import { maxHeaderSize, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { Logger } from '@nestjs/common';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { problem, PROBLEM_CONTENT_TYPE } from './problem';
import { sendProblem } from './problem.filter';

const logger = new Logger('http');

/** Node's HTTP parser errors (`clientError`) as problem statuses; anything else is a 400. */
const PARSER_ERRORS: Record<string, [status: number, detail: string]> = {
  HPE_HEADER_OVERFLOW: [431, 'the request headers are larger than this server accepts'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'the chunk extensions of the body are larger than this server accepts'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'the request did not arrive in time'],
  ERR_HTTP_HEADERS_TIMEOUT: [408, 'the request headers did not arrive in time'],
};

/** How long a connection answered from `clientError` stays open for the client to read the answer. */
const CLOSE_AFTER_MS = 2_000;
const answered = new WeakSet<Socket>();

/**
 * Fastify's `clientErrorHandler`: what Node's HTTP server answers by itself before any route runs (headers too
 * large, a request line too long, malformed HTTP, a request that never finished) goes out as problem+json like every
 * other error, instead of Fastify's plain `application/json`. A request line that alone is longer than half of the
 * header limit (`maxHeaderSize`, 16 KiB) is a 414 (URI too long); other header overflows are 431.
 *
 * The connection is half-closed after the answer and closed once the client closes its side (at most 2 s later):
 * closing at once, with the rest of the request unread, can reset the connection before the client reads the answer.
 */
export function clientErrorHandler(error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  // The parser reports the same broken request again for every later chunk; it has been answered.
  if (answered.has(socket)) return;
  answered.add(socket);
  let [status, detail] = PARSER_ERRORS[error.code ?? ''] ?? [400, 'the request is not valid HTTP'];
  if (status === 431 && requestLineTooLong(error.rawPacket)) [status, detail] = [414, 'the URL is longer than this server accepts'];
  const requestId = randomUUID();
  logger.debug?.({ err: error, requestId, status }, 'client error');
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    const body = JSON.stringify({ ...problem(status, detail), requestId });
    socket.end(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
        `Content-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
        `X-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n${body}`,
    );
  } else {
    socket.end();
  }
  const timer = setTimeout(() => socket.destroy(), CLOSE_AFTER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
}

/** The bytes Node's parser was reading when the header limit was hit start with a request line this long. */
function requestLineTooLong(packet: unknown): boolean {
  // Node hands over the chunk it was parsing as a Buffer (Fastify's type says otherwise).
  if (!Buffer.isBuffer(packet) || !/^[A-Z]+ /.test(packet.subarray(0, 16).toString('latin1'))) return false;
  const end = packet.indexOf('\r\n');
  const length = end < 0 ? packet.length : end;
  return length >= maxHeaderSize / 2;
}

/**
 * Fastify's `frameworkErrors`: errors of its router (a path parameter longer than `maxParamLength`: 414; a URL
 * that cannot be decoded: 400) as problem+json.
 */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  sendProblem(request, reply, error, logger);
}
