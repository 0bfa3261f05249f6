import type { PGlite } from '@electric-sql/pglite';
import type { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/**
 * Workaround for electric-sql/pglite#1046 (open; a fix is proposed in electric-sql/pglite#977, not released in
 * pglite-socket 0.2.17, the newest version as of this writing): the socket server multiplexes its connections
 * onto PGlite's one backend by feeding it one wire message at a time from a queue shared by all connections, and
 * keeps the backend for one connection only while `db.isInTransaction()`. Between a connection's Parse and its
 * Sync the backend is not in a transaction block, so another connection's messages ran in between: its Parse
 * replaced the unnamed statement (the first connection's values were bound to the other's statement, and rows
 * went to the wrong connection), its simple query dropped it ("unnamed prepared statement does not exist",
 * 'portal "" does not exist'), its error put the backend into "skip until Sync" and swallowed the first
 * connection's messages (both hung). A throw out of PGlite also left that queue's `processing` flag set, which
 * stopped every connection.
 *
 * This queue gives the backend to one connection for a whole turn: from the first message it runs for that
 * connection until PGlite answers it with ReadyForQuery 'I' (idle) — the end of a simple query or a Sync outside
 * a transaction; ReadyForQuery 'T' or 'E' (in a transaction, or a failed one) keeps it until the transaction
 * ends. The turn follows what the backend answers, not how a client splits its messages over TCP chunks, so
 * pipelined and piecemeal clients are served alike. While the holder has nothing queued (its client is idle in a
 * transaction) the other connections wait: a transaction holds the one backend.
 */
export class ExclusiveTurnQueue {
  private queue: Job[] = [];
  private draining = false;
  /** the connection whose turn it is; null when the backend is idle and the next queued message may start one */
  private holder: number | null = null;
  /** the connection whose message PGlite is running now */
  private running: number | null = null;

  constructor(private readonly db: PGlite) {}

  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ handlerId, message, onData, resolve, reject });
      void this.drain();
    });
  }

  getQueueLength(): number {
    return this.queue.length;
  }

  clearQueueForHandler(handlerId: number): void {
    this.queue = this.queue.filter((job) => {
      // A second detach of the same connection must not drop the first one's end of its turn.
      if (job.handlerId !== handlerId || job.message === null) return true;
      job.reject(new Error('Handler disconnected'));
      return false;
    });
  }

  /** Called when a connection goes away: if it was in the middle of a turn, the turn is ended for it. */
  clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.holder !== handlerId && this.running !== handlerId) return Promise.resolve();
    return new Promise((resolve) => {
      this.queue.push({ handlerId, message: null, onData: () => undefined, resolve: () => resolve(), reject: () => resolve() });
      void this.drain();
    });
  }

  private next(): Job | undefined {
    const i = this.holder === null ? 0 : this.queue.findIndex((job) => job.handlerId === this.holder);
    return i < 0 ? undefined : this.queue.splice(i, 1)[0];
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      for (let job = this.next(); job; job = this.next()) {
        this.running = job.handlerId;
        try {
          job.resolve(job.message ? await this.run(job.handlerId, job.message, job.onData) : await this.endTurn(job.handlerId));
        } catch (error) {
          job.reject(error as Error);
        } finally {
          this.running = null;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async run(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    const reply = new ReplyState();
    let size = 0;
    try {
      await this.db.runExclusive(() =>
        this.db.execProtocolRawStream(message, {
          onRawData: (data) => {
            size += data.length;
            reply.follow(data);
            onData(data);
          },
        }),
      );
    } catch (error) {
      // The backend's state is unknown; the handler closes the connection on this error and its endTurn resets it.
      this.holder = handlerId;
      throw error;
    }
    if (reply.state === 'idle') this.holder = null;
    else if (reply.state === 'busy') this.holder = handlerId;
    return size;
  }

  /** The holder left mid-turn: end its extended-protocol sequence and its transaction for the next connection. */
  private async endTurn(handlerId: number): Promise<number> {
    if (this.holder !== handlerId) return 0;
    try {
      // Nothing to end when the server is shutting down (its connections are dropped before PGlite closes).
      if (!this.db.ready) return 0;
      // Through the stream call with a sink: a plain execProtocolRaw would hand its output to the stream
      // callback of the last execProtocolRawStream, that is, to some connection's socket.
      await this.db.runExclusive(() => this.db.execProtocolRawStream(SYNC, { onRawData: () => undefined }));
      if (this.db.isInTransaction()) await this.db.exec('ROLLBACK');
    } catch (error) {
      process.emitWarning(`embedded database: could not end the turn of a closed connection: ${String(error)}`);
    } finally {
      this.holder = null;
    }
    return 0;
  }
}

/** Serves the connections of `server` in whole turns (see ExclusiveTurnQueue); call before `start()`. */
export function serveInExclusiveTurns(server: PGLiteSocketServer): void {
  // The server keeps its queue private and hands it to each connection's handler as it accepts the connection.
  const internals = server as unknown as { queryQueue?: { enqueue?: unknown } };
  if (typeof internals.queryQueue?.enqueue !== 'function') {
    throw new Error('@electric-sql/pglite-socket no longer has the queryQueue ExclusiveTurnQueue replaces: see exclusive-turns.ts');
  }
  internals.queryQueue = new ExclusiveTurnQueue(server.db);
}

interface Job {
  handlerId: number;
  /** null: end the turn of a connection that went away */
  message: Uint8Array | null;
  onData: (data: Uint8Array) => void;
  resolve: (size: number) => void;
  reject: (error: Error) => void;
}

const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);
const READY_FOR_QUERY = 0x5a; // 'Z'
const IDLE = 0x49; // 'I'
/** NoticeResponse, NotificationResponse, ParameterStatus: the protocol allows them at any time, even after 'Z'. */
const ASYNCHRONOUS = new Set([0x4e, 0x41, 0x53]);

/**
 * Reads the backend's reply to one call, however it is split into chunks, down to its last message that is not
 * asynchronous: ReadyForQuery 'I' makes the state `idle`; any other message (ParseComplete, an error waiting for
 * Sync, ReadyForQuery 'T' or 'E') `busy`; a reply with no such message leaves it `unchanged`.
 */
class ReplyState {
  state: 'unchanged' | 'idle' | 'busy' = 'unchanged';
  /** the message header read so far: type, length and, for ReadyForQuery, its status byte */
  private header: number[] = [];
  /** bytes of the current message's body still to pass over */
  private skip = 0;

  follow(data: Uint8Array): void {
    for (let i = 0; i < data.length; ) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const header = this.header;
      header.push(data[i++]);
      const type = header[0];
      if (header.length < (type === READY_FOR_QUERY ? 6 : 5)) continue;
      const length = ((header[1] << 24) | (header[2] << 16) | (header[3] << 8) | header[4]) >>> 0;
      this.skip = length - (header.length - 1);
      if (type === READY_FOR_QUERY) this.state = header[5] === IDLE ? 'idle' : 'busy';
      else if (!ASYNCHRONOUS.has(type)) this.state = 'busy';
      this.header = [];
    }
  }
}
