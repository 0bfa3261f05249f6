import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import pg from 'pg';
import { workspaceRoot } from '../migrations';
import { ExclusiveTurnQueue } from './exclusive-turns';

// The embedded server runs in a child process (PGlite's WebAssembly cannot load in Jest's VM sandbox); the clients
// here talk to it over the wire, as the API's pool and Prisma do.
async function startEmbedded(dir: string): Promise<{ url: string; child: ChildProcess }> {
  const script = `
    const { startEmbeddedDatabase } = require('./libs/db/src/lib/connection/embedded-database');
    (async () => {
      const db = await startEmbeddedDatabase(${JSON.stringify(dir)});
      console.log(db.url);
      process.stdin.resume();
      process.stdin.on('end', async () => { await db.close(); process.exit(0); });
    })();`;
  const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], {
    cwd: workspaceRoot(),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    readline.createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`embedded server exited with ${code}`)));
  });
  return { url, child };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const random = (below: number) => Math.floor(Math.random() * below);

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Wire-protocol messages written by hand, so a test decides exactly which bytes go out in which write. */
const wire = {
  message(type: string, ...parts: Buffer[]): Buffer {
    const body = Buffer.concat(parts);
    const head = Buffer.alloc(5);
    head.write(type, 0, 'latin1');
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  },
  cstring: (s: string) => Buffer.from(`${s}\0`),
  int16(n: number): Buffer {
    const b = Buffer.alloc(2);
    b.writeInt16BE(n);
    return b;
  },
  int32(n: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeInt32BE(n);
    return b;
  },
  startup(): Buffer {
    const body = Buffer.concat([wire.int32(196608), wire.cstring('user'), wire.cstring('postgres'), wire.cstring('database'), wire.cstring('postgres'), Buffer.from([0])]);
    return Buffer.concat([wire.int32(body.length + 4), body]);
  },
  query: (text: string) => wire.message('Q', wire.cstring(text)),
  parse: (text: string) => wire.message('P', wire.cstring(''), wire.cstring(text), wire.int16(0)),
  bind: (values: string[]) =>
    wire.message(
      'B',
      wire.cstring(''),
      wire.cstring(''),
      wire.int16(0),
      wire.int16(values.length),
      ...values.flatMap((v) => [wire.int32(Buffer.byteLength(v)), Buffer.from(v)]),
      wire.int16(0),
    ),
  execute: () => wire.message('E', wire.cstring(''), wire.int32(0)),
  sync: () => wire.message('S'),
};

interface Reply {
  /** text of each DataRow's first column */
  rows: string[];
  errors: string[];
  /** ReadyForQuery status */
  status: string;
}

/** A connection that sends the bytes it is given, when it is told to, and reads replies up to ReadyForQuery. */
class RawConnection {
  private buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (data) => {
      this.buffer = Buffer.concat([this.buffer, data]);
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static async open(url: string): Promise<RawConnection> {
    const socket = net.connect({ host: '127.0.0.1', port: Number(new URL(url).port) });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const connection = new RawConnection(socket);
    connection.send(wire.startup());
    await connection.reply();
    return connection;
  }

  send(...messages: Buffer[]): void {
    this.socket.write(Buffer.concat(messages));
  }

  /** The next message of `type` (skipping others): resolves once it has arrived. */
  async next(type: string): Promise<Buffer> {
    for (;;) {
      while (this.buffer.length >= 5 && this.buffer.length >= 1 + this.buffer.readInt32BE(1)) {
        const length = 1 + this.buffer.readInt32BE(1);
        const message = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        if (String.fromCharCode(message[0]) === type) return message;
        this.seen.push(message);
      }
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private seen: Buffer[] = [];

  /** Everything up to and including the next ReadyForQuery. */
  async reply(): Promise<Reply> {
    const ready = await this.next('Z');
    const messages = this.seen;
    this.seen = [];
    const rows: string[] = [];
    const errors: string[] = [];
    for (const m of messages) {
      const type = String.fromCharCode(m[0]);
      if (type === 'D') {
        const length = m.readInt32BE(7);
        rows.push(length < 0 ? 'NULL' : m.subarray(11, 11 + length).toString());
      }
      if (type === 'E') errors.push(errorMessage(m));
    }
    return { rows, errors, status: String.fromCharCode(ready[5]) };
  }

  close(): void {
    this.socket.destroy();
  }
}

function errorMessage(message: Buffer): string {
  for (let i = 5; i < message.length && message[i] !== 0; ) {
    const end = message.indexOf(0, i + 1);
    if (String.fromCharCode(message[i]) === 'M') return message.subarray(i + 1, end).toString();
    i = end + 1;
  }
  return 'error';
}

describe(ExclusiveTurnQueue.name, () => {
  let dir: string;
  let server: { url: string; child: ChildProcess };
  const clients: pg.Client[] = [];
  const raws: RawConnection[] = [];

  const client = async () => {
    const c = new pg.Client({ connectionString: server.url });
    c.on('error', () => undefined); // a stray reply fails the query that gets it; the test reports that
    await c.connect();
    clients.push(c);
    return c;
  };
  const raw = async () => {
    const r = await RawConnection.open(server.url);
    raws.push(r);
    return r;
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-turns-'));
    server = await startEmbedded(dir);
    const c = await client();
    await c.query('create table turns (id serial primary key, worker int not null, round int not null)');
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
    raws.splice(0).forEach((r) => r.close());
  });
  afterAll(async () => {
    if (server) {
      await new Promise((resolve) => (server.child.once('exit', resolve), server.child.stdin!.end()));
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("runs a connection's Parse … Sync with no other connection's messages in between, however the client splits them", async () => {
    const sut = await raw();
    const other = await client();
    sut.send(wire.parse('select $1::text as v'));
    await sut.next('1'); // ParseComplete: the statement is on the backend, Sync still to come

    let otherAnswered = false;
    const lone = other.query({ text: 'select $1::int + 1 as n', values: [1] }).finally(() => (otherAnswered = true));
    lone.catch(() => undefined);
    await sleep(50); // the other connection's whole query has had time to run, if it may
    sut.send(wire.bind(['mine']));
    await sleep(20);
    expect(otherAnswered).toBe(false);
    sut.send(wire.execute(), wire.sync());

    expect(await within(10_000, 'the split query', sut.reply())).toEqual({ rows: ['mine'], errors: [], status: 'I' });
    expect((await within(10_000, 'the lone query', lone)).rows).toEqual([{ n: 2 }]);
  });

  it('holds the backend for a connection through its transaction while lone, transactional and named statements of other connections interleave', async () => {
    const workers = await Promise.all([client(), client(), client(), client()]);
    const splitter = await raw();
    const rounds = 40;
    const failures: string[] = [];
    let committed = 0;

    const transaction = async (c: pg.Client, worker: number, round: number) => {
      // One simple-query message opening the transaction and reading in it, as RawSession sends it.
      const [, counted] = (await c.query('BEGIN; SELECT count(*)::int AS n FROM turns')) as unknown as pg.QueryResult[];
      await sleep(random(3));
      await c.query({ text: 'insert into turns (worker, round) values ($1, $2)', values: [worker, round] });
      await sleep(random(3));
      const { rows } = await c.query({ text: 'select count(*)::int as n from turns where worker = $1 and round = $2', values: [worker, round] });
      if (rows[0].n !== 1) throw new Error(`own insert not visible: ${JSON.stringify(rows)}`);
      await c.query('COMMIT');
      committed++;
      if (typeof counted.rows[0].n !== 'number') throw new Error('count in BEGIN message lost');
    };
    const lone = async (c: pg.Client, worker: number, round: number) => {
      const { rows } = await c.query({ text: 'select $1::int as worker, $2::int as round', values: [worker, round] });
      if (rows[0]?.worker !== worker || rows[0]?.round !== round) throw new Error(`lone query answered ${JSON.stringify(rows)}`);
    };
    const named = async (c: pg.Client, worker: number, round: number) => {
      // Named statements, prepared once per connection and then only bound: names are per connection here, as
      // the backend's statement names are shared by every connection of the embedded database.
      const { rows } = await c.query({ name: `turn_${worker}_${round % 3}`, text: `select $1::int * ${round % 3} + ${worker} as v`, values: [round] });
      if (rows[0]?.v !== round * (round % 3) + worker) throw new Error(`named statement answered ${JSON.stringify(rows)}`);
    };
    const split = async (round: number) => {
      splitter.send(wire.parse(`select $1::text || '-${round}' as v`));
      await sleep(random(3));
      splitter.send(wire.bind(['split']), wire.execute());
      await sleep(random(3));
      splitter.send(wire.sync());
      const reply = await splitter.reply();
      if (reply.errors.length || reply.rows[0] !== `split-${round}`) throw new Error(`split query answered ${JSON.stringify(reply)}`);
    };

    const work = async (worker: number) => {
      for (let round = 0; round < rounds; round++) {
        await sleep(random(3));
        const kind = (worker + round) % 3;
        const c = workers[worker];
        try {
          await within(10_000, `worker ${worker} round ${round}`, kind === 0 ? transaction(c, worker, round) : kind === 1 ? lone(c, worker, round) : named(c, worker, round));
        } catch (error) {
          failures.push(`worker ${worker} kind ${kind}: ${(error as Error).message}`);
          if (/no answer/.test((error as Error).message)) return;
          await within(10_000, 'rollback', c.query('ROLLBACK')).catch(() => undefined);
        }
      }
    };
    const splitting = async () => {
      for (let round = 0; round < rounds; round++) {
        await sleep(random(3));
        try {
          await within(10_000, `split round ${round}`, split(round));
        } catch (error) {
          failures.push(`split: ${(error as Error).message}`);
          return;
        }
      }
    };
    await Promise.all([...workers.map((_, w) => work(w)), splitting()]);

    expect(failures).toEqual([]);
    const { rows } = await workers[0].query('select count(*)::int as n from turns');
    expect(rows[0].n).toBe(committed);
  });

  it('gives the backend back when a connection goes away in the middle of its turn, rolling back its transaction', async () => {
    const other = await client();
    const parsing = await raw();
    parsing.send(wire.parse('select 1'));
    await parsing.next('1');
    parsing.close();
    expect((await within(10_000, 'query after a half-sent one', other.query({ text: 'select $1::int as n', values: [7] }))).rows).toEqual([{ n: 7 }]);

    const inTransaction = await raw();
    inTransaction.send(wire.query('BEGIN; INSERT INTO turns (worker, round) VALUES (-1, -1)'));
    expect((await inTransaction.reply()).status).toBe('T');
    const waiting = other.query({ text: 'select count(*)::int as n from turns where worker = $1', values: [-1] });
    await sleep(50);
    inTransaction.close();
    expect((await within(10_000, 'query after an abandoned transaction', waiting)).rows).toEqual([{ n: 0 }]);
  });
});
