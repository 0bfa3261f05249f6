import net from 'node:net';

/**
 * A TCP proxy in front of PostgreSQL whose traffic can be frozen: the connections stay open, but no byte moves in
 * either direction until `thaw` — what a network partition or a hung pooler looks like to both ends (no error,
 * no reset). Hand-written because it is twenty lines over node:net; no library stalls a live connection on demand.
 */
export class FreezableProxy {
  /** each direction of each connection: bytes read from `from` are written to `to` */
  private readonly pipes = new Set<{ from: net.Socket; to: net.Socket }>();
  private frozen = false;
  private readonly server: net.Server;
  port = 0;

  private constructor(target: { host: string; port: number }) {
    this.server = net.createServer((client) => this.connect(client, target));
  }

  static async start(target: { host: string; port: number }): Promise<FreezableProxy> {
    const proxy = new FreezableProxy(target);
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  private connect(client: net.Socket, target: { host: string; port: number }): void {
    const upstream = net.connect(target.port, target.host);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      const pipe = { from, to };
      this.pipes.add(pipe);
      if (!this.frozen) from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.pipes.delete(pipe);
        to.destroy();
      });
    }
  }

  /** `url` with its host and port replaced by this proxy's. */
  urlFor(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  /** Unpiped and paused (a pipe would resume a source whose destination drains). */
  freeze(): void {
    this.frozen = true;
    for (const { from, to } of this.pipes) {
      from.unpipe(to);
      from.pause();
    }
  }

  thaw(): void {
    this.frozen = false;
    for (const { from, to } of this.pipes) from.pipe(to);
  }

  async close(): Promise<void> {
    for (const { from } of this.pipes) from.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
