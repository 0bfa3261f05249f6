import http from 'node:http';

export interface SseEvent {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * A minimal Server-Sent Events client over node:http. Written here because EventSource is not in Node 20 and
 * the tests need what a browser hides: the response status, when the server ends the stream, and exactly which
 * frames arrived (no automatic reconnect). Parses `id:`, `event:`, `data:` fields and comment lines per the
 * WHATWG event-stream rules that the API uses (LF line endings).
 */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly ended: Promise<'end' | 'error'>;
  private endedWith: 'end' | 'error' | null = null;
  private readonly waiters = new Set<() => void>();

  readonly status: number;
  readonly contentType: string;

  private constructor(
    private readonly request: http.ClientRequest,
    private readonly response: http.IncomingMessage,
  ) {
    this.status = response.statusCode ?? 0;
    this.contentType = String(response.headers['content-type'] ?? '');
    this.ended = new Promise((resolve) => {
      const done = (how: 'end' | 'error') => {
        if (this.endedWith) return;
        this.endedWith = how;
        resolve(how);
        this.notify();
      };
      response.on('end', () => done('end'));
      response.on('error', () => done('error'));
      response.on('close', () => done(response.complete ? 'end' : 'error'));
    });
    let buffer = '';
    let frame: { id?: string; event?: string; data: string[] } = { data: [] };
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line === '') {
          if (frame.data.length || frame.event) {
            this.events.push({ id: frame.id, event: frame.event ?? 'message', data: frame.data.join('\n') });
            this.notify();
          }
          frame = { data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
        else if (field === 'data') frame.data.push(value);
      }
    });
  }

  /** Opens the stream; resolves once the response headers arrived (the server has subscribed by then). */
  static connect(baseUrl: string, urlPath: string, key: string | null, lastEventId?: string): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (key) headers.authorization = `Bearer ${key}`;
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const request = http.get(baseUrl + urlPath, { headers, agent: false }, (response) => {
        resolve(new SseClient(request, response));
      });
      request.on('error', reject);
    });
  }

  get hasEnded(): boolean {
    return this.endedWith !== null;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /**
   * Resolves once `count` events in total have arrived, or with what has arrived when `deadlineMs` passes or the
   * stream ends: the caller asserts on the result, so a late event fails the test with the events it saw.
   */
  waitForCount(count: number, deadlineMs: number): Promise<SseEvent[]> {
    return new Promise((resolve) => {
      const check = () => {
        if (this.events.length >= count || this.endedWith) finish();
      };
      const finish = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve([...this.events]);
      };
      const timer = setTimeout(finish, deadlineMs);
      this.waiters.add(check);
      check();
    });
  }

  /** Closes the connection from the client side and waits until it is closed. */
  async close(): Promise<void> {
    if (!this.endedWith) {
      this.request.destroy();
      this.response.destroy();
    }
    await this.ended;
  }
}
