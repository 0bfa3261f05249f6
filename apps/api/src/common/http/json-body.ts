import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { bodyLimitKind } from './body-limit';

/**
 * Bodies of bulk routes from this size on go to a parsing thread, chunk by chunk as they arrive. Measured reason:
 * a 1,000-memory batch with 1536-dimension embeddings as full-precision JSON numbers is ~31 MiB; on the main thread,
 * joining its chunks took ~100 ms, JSON.parse ~90 ms and checking its 1.5 million numbers against the schema as long
 * again, during which this process answered nothing else. On the thread, the embeddings also become base64 float32
 * (json-body.worker.cjs), so the main thread gets ~8 MiB of strings. Below the threshold the hop to the thread
 * (messages, clone back) costs more than it saves.
 */
export const WORKER_PARSE_THRESHOLD = 1024 * 1024;

type Done = (err: Error | null, body?: unknown) => void;

/**
 * JSON only (415 for anything else); an empty body is "no body" rather than a parse error; __proto__ and
 * constructor.prototype keys are refused (Fastify's default JSON parser); the route's body limit holds (413).
 * Large bodies of `@BodyLimit('bulk')` routes are parsed by `workers`.
 */
export function installJsonBodyParser(fastify: FastifyInstance, workers: JsonParseWorkers): void {
  fastify.removeContentTypeParser(['text/plain', 'application/json']);
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  const parser = (request: FastifyRequest, payload: Readable, done: Done) => readJsonBody(request, payload, workers, parseJson, done);
  fastify.addContentTypeParser('application/json', parser);
  fastify.addContentTypeParser(/^application\/[a-z0-9.+-]*\+json$/, parser);
}

/**
 * Fastify's own reading of a body (`parseAs`), with one difference: once a bulk route's body is known to be large
 * (its Content-Length, or what has arrived), its chunks go to a parsing thread as they come instead of being joined
 * and parsed here. Limit and Content-Length errors are Fastify's (413, 400), so they are answered the same way.
 */
function readJsonBody(
  request: FastifyRequest,
  payload: Readable,
  workers: JsonParseWorkers,
  parseJson: (request: FastifyRequest, body: string, done: Done) => void,
  done: Done,
): void {
  const limit = request.routeOptions.bodyLimit ?? Number.POSITIVE_INFINITY;
  const declared = Number(request.headers['content-length']);
  if (declared > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  const offThread = workers.size > 0 && bodyLimitKind(request) === 'bulk';
  let thread: BodyOnThread | null = offThread && declared >= WORKER_PARSE_THRESHOLD ? workers.open() : null;
  let chunks: Buffer[] = [];
  let received = 0;
  let finished = false;
  const detach = () => {
    finished = true;
    payload.off('data', onData);
    payload.off('end', onEnd);
    payload.off('error', onError);
  };
  const fail = (error: Error) => {
    if (finished) return;
    detach();
    thread?.abort();
    done(error);
  };
  const onData = (chunk: Buffer) => {
    received += chunk.length;
    // The rest of a refused body is read and discarded by the error response (answerWhileDraining).
    if (received > limit) return fail(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    if (thread) return thread.write(chunk);
    chunks.push(chunk);
    if (offThread && received >= WORKER_PARSE_THRESHOLD) {
      thread = workers.open();
      for (const c of chunks) thread.write(c);
      chunks = [];
    }
  };
  const onEnd = () => {
    if (!Number.isNaN(declared) && received !== declared) return fail(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
    detach();
    if (thread) {
      thread.end().then(
        (body) => done(null, body),
        () => done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY()),
      );
      return;
    }
    const text = Buffer.concat(chunks).toString();
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, done);
  };
  const onError = (error: Error & { statusCode?: number }) => {
    if (!(typeof error.statusCode === 'number' && error.statusCode >= 400)) error.statusCode = 400;
    fail(error);
  };
  payload.on('data', onData);
  payload.once('end', onEnd);
  payload.once('error', onError);
  payload.resume();
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

interface Thread {
  worker: Worker;
  /** bodies sent to this thread whose parse has not come back */
  pending: Map<number, Pending>;
}

/** A body on its way to a parsing thread. */
export interface BodyOnThread {
  write(chunk: Buffer): void;
  /** the parsed body (embeddings made base64), or a rejection for invalid JSON */
  end(): Promise<unknown>;
  abort(): void;
}

/**
 * A small pool of JSON parsing threads (json-body.worker.cjs), started on first use: one fewer than the cores, at
 * least one, at most four (API_JSON_PARSE_THREADS). A body goes to the thread with the fewest bodies in hand. A thread
 * that dies fails its bodies (400 for those requests) and is replaced on the next one.
 */
export class JsonParseWorkers {
  private readonly threads: Thread[] = [];
  private nextId = 0;
  private closed = false;

  /** `size` 0: none (installJsonBodyParser then parses every body on the main thread). */
  constructor(readonly size = Math.min(4, Math.max(1, os.availableParallelism() - 1))) {}

  open(): BodyOnThread {
    if (this.closed) throw new Error('JSON parse workers closed');
    const thread = this.pick();
    const id = this.nextId++;
    let result: Promise<unknown> | null = null;
    const settled = new Promise<unknown>((resolve, reject) => thread.pending.set(id, { resolve, reject }));
    settled.catch(() => undefined); // an aborted body's rejection is nobody's concern
    thread.worker.postMessage({ type: 'start', id });
    return {
      write(chunk) {
        // A copy the thread takes over: the socket's chunk may be a view of a larger buffer that must not move.
        const copy = new Uint8Array(chunk);
        thread.worker.postMessage({ type: 'chunk', id, chunk: copy }, [copy.buffer]);
      },
      end() {
        result ??= (thread.worker.postMessage({ type: 'end', id }), settled);
        return result;
      },
      abort() {
        if (!thread.pending.delete(id)) return;
        thread.worker.postMessage({ type: 'abort', id });
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }

  private pick(): Thread {
    if (this.threads.length < this.size && this.threads.every((t) => t.pending.size > 0)) return this.start();
    return this.threads.reduce((best, t) => (t.pending.size < best.pending.size ? t : best));
  }

  private start(): Thread {
    // No execArgv: the thread runs plain CommonJS and needs none of the parent's loaders (@swc-node/register).
    const worker = new Worker(path.join(__dirname, 'json-body.worker.cjs'), { execArgv: [] });
    worker.unref();
    const thread: Thread = { worker, pending: new Map() };
    worker.on('message', ({ id, ok, value }: { id: number; ok: boolean; value?: unknown }) => {
      const waiting = thread.pending.get(id);
      thread.pending.delete(id);
      if (ok) waiting?.resolve(value);
      else waiting?.reject(new SyntaxError('invalid JSON'));
    });
    const fail = (error: Error) => {
      const index = this.threads.indexOf(thread);
      if (index >= 0) this.threads.splice(index, 1);
      for (const waiting of thread.pending.values()) waiting.reject(error);
      thread.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`JSON parse worker exited with code ${code}`)));
    this.threads.push(thread);
    return thread;
  }
}
