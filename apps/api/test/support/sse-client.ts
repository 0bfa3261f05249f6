/** A minimal Server-Sent Events client over fetch, for tests: frames as { id, event, data }. */
export interface SseEvent {
  id?: string;
  event?: string;
  data: any;
}

export class SseClient {
  readonly events: SseEvent[] = [];
  status = 0;
  contentType = '';
  private readonly controller = new AbortController();
  private waiters: Array<() => void> = [];
  private done: Promise<void> = Promise.resolve();
  private ended = false;

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const client = new SseClient();
    const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: client.controller.signal });
    client.status = res.status;
    client.contentType = res.headers.get('content-type') ?? '';
    if (res.status !== 200 || !res.body) {
      await res.text().catch(() => undefined);
      return client;
    }
    client.done = client.read(res.body);
    return client;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let split: number;
        while ((split = buffer.indexOf('\n\n')) >= 0) {
          const frame = buffer.slice(0, split);
          buffer = buffer.slice(split + 2);
          const event: SseEvent = { data: undefined };
          const data: string[] = [];
          for (const line of frame.split('\n')) {
            if (line.startsWith(':') || !line) continue;
            const [field, ...rest] = line.split(':');
            const value = rest.join(':').replace(/^ /, '');
            if (field === 'id') event.id = value;
            else if (field === 'event') event.event = value;
            else if (field === 'data') data.push(value);
          }
          if (!data.length) continue;
          event.data = JSON.parse(data.join('\n'));
          this.events.push(event);
          this.waiters.splice(0).forEach((w) => w());
        }
      }
    } catch {
      // aborted by close()
    } finally {
      this.ended = true;
      this.waiters.splice(0).forEach((w) => w());
    }
  }

  /** Resolves once at least `count` events arrived; rejects after `timeoutMs`. */
  async waitFor(count: number, timeoutMs = 5000): Promise<SseEvent[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.events.length < count) {
      if (this.ended) throw new Error(`stream ended after ${this.events.length} of ${count} events`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`only ${this.events.length} of ${count} events within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.events.slice(0, count);
  }

  get isEnded(): boolean {
    return this.ended;
  }

  async close(): Promise<void> {
    this.controller.abort();
    await this.done;
  }
}
