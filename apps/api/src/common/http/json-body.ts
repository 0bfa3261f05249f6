import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { bodyLimitKind } from './body-limit';

/**
 * Bodies of bulk routes from this size on are parsed on a worker thread. Measured reason: a 1,000-memory batch with
 * 1536-dimension embeddings as full-precision JSON numbers is ~33 MiB; JSON.parse of it takes ~90 ms and checking its
 * 1.5 million numbers against the schema as long again, during which this process answers nothing else. On the
 * worker, the embeddings also become base64 float32 (json-body.worker.cjs), so the main thread handles ~8 MiB of
 * strings instead. Below the threshold the hop to the thread (copy, message, clone back) costs more than it saves.
 */
export const WORKER_PARSE_THRESHOLD = 1024 * 1024;

/**
 * JSON only (415 for anything else), an empty body is "no body" rather than a parse error, and __proto__ /
 * constructor.prototype keys are refused (Fastify's default JSON parser). Large bodies of `@BodyLimit('bulk')`
 * routes are parsed by `workers`.
 */
export function installJsonBodyParser(fastify: FastifyInstance, workers: JsonParseWorkers): void {
  fastify.removeContentTypeParser(['text/plain', 'application/json']);
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  const parser = (request: FastifyRequest, body: Buffer, done: (err: Error | null, body?: unknown) => void) => {
    if (body.length >= WORKER_PARSE_THRESHOLD && bodyLimitKind(request) === 'bulk') {
      workers.parse(body).then(
        (value) => done(null, value),
        () => done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY()),
      );
      return;
    }
    const text = body.toString();
    if (text.trim() === '') return done(null, undefined);
    parseJson(request, text, done);
  };
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, parser);
  fastify.addContentTypeParser(/^application\/[a-z0-9.+-]*\+json$/, { parseAs: 'buffer' }, parser);
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/**
 * A small pool of JSON parsing threads (json-body.worker.cjs), started on first use: one fewer than the cores, at
 * least one, at most four. A request goes to the thread with the fewest parses waiting. A thread that dies fails its
 * parses (400 for those requests) and is replaced on the next one.
 */
export class JsonParseWorkers {
  private readonly threads: Array<{ worker: Worker; pending: Map<number, Pending> }> = [];
  private nextId = 0;
  private closed = false;

  constructor(private readonly size = Math.min(4, Math.max(1, os.availableParallelism() - 1))) {}

  parse(body: Buffer): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error('JSON parse workers closed'));
    const thread = this.pick();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      thread.pending.set(id, { resolve, reject });
      // Moved, not copied, when the body owns its memory (Buffer.concat of a large body does).
      const owned = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
      const message = { id, body: owned ? body.buffer : body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) };
      thread.worker.postMessage(message, [message.body as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.splice(0).map((t) => t.worker.terminate()));
  }

  private pick(): { worker: Worker; pending: Map<number, Pending> } {
    if (this.threads.length < this.size && this.threads.every((t) => t.pending.size > 0)) return this.start();
    return this.threads.reduce((best, t) => (t.pending.size < best.pending.size ? t : best));
  }

  private start(): { worker: Worker; pending: Map<number, Pending> } {
    // No execArgv: the thread runs plain CommonJS and needs none of the parent's loaders (@swc-node/register).
    const worker = new Worker(path.join(__dirname, 'json-body.worker.cjs'), { execArgv: [] });
    worker.unref();
    const thread = { worker, pending: new Map<number, Pending>() };
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
