import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { serveInExclusiveTurns } from './exclusive-turns';
import { lockHolder, pidAlive, tryPidLock } from './pid-lock';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * The embedded default: a real PostgreSQL (PGlite, compiled to WebAssembly, with pgvector) running inside this
 * process and served over the PostgreSQL wire protocol on loopback, so Prisma, `pg` and the Prisma CLI use it
 * through exactly the code path they use for a PostgreSQL server.
 *
 * One process owns a data directory at a time. The owner writes `embedded.json` (pid, port) into the directory;
 * another process for the same directory (the Prisma CLI, Studio, a second command) connects to that server
 * instead of opening the files twice.
 *
 * What it cannot do: it is a single PostgreSQL backend. Connections are multiplexed onto it, each holding it from
 * its first message until the backend is idle again (through Sync, a simple query, a whole transaction: see
 * exclusive-turns.ts), so there is one writer at a time and no parallel queries; prepared statement names and
 * session settings are shared by every connection; LISTEN/NOTIFY reaches only the same process. Use PostgreSQL
 * (DATABASE_URL) for production and for more than one replica.
 */
export const EMBEDDED_LIMITATIONS =
  'embedded mode runs one PostgreSQL backend in this process: one writer at a time, no parallel queries, ' +
  'one replica only; set DATABASE_URL to a PostgreSQL server for production';

export interface EmbeddedDatabase {
  url: string;
  dataDir: string;
  /** true when this process started the server; false when it connected to one another process owns */
  owner: boolean;
  close(): Promise<void>;
}

interface ServerInfo {
  pid: number;
  port: number;
}

const started = new Map<string, Promise<EmbeddedDatabase>>();

export function embeddedUrl(port: number): string {
  return `postgresql://postgres@127.0.0.1:${port}/postgres?sslmode=disable`;
}

export interface EmbeddedOptions {
  /**
   * false: the server does not by itself keep the process alive (for the Prisma CLI, which ends when its work is
   * done and does not call close()). Default true.
   */
  keepProcessAlive?: boolean;
}

/** Starts the embedded database for `dataDir`, or connects to the one already serving it. */
export function startEmbeddedDatabase(dataDir: string, options: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const dir = path.resolve(dataDir);
  let db = started.get(dir);
  if (!db) {
    db = openOrReuse(dir, options.keepProcessAlive ?? true);
    started.set(dir, db);
    db.catch(() => started.delete(dir));
  }
  return db;
}

async function openOrReuse(dir: string, keepProcessAlive: boolean): Promise<EmbeddedDatabase> {
  fs.mkdirSync(dir, { recursive: true });
  const infoFile = path.join(dir, 'embedded.json');
  const running = await runningServer(infoFile);
  if (running) {
    return { url: embeddedUrl(running.port), dataDir: dir, owner: false, close: async () => undefined };
  }
  const lockFile = path.join(dir, 'embedded.lock');
  const release = await acquireLock(lockFile);
  try {
    // Another process may have started while we waited for the lock.
    const raced = await runningServer(infoFile);
    if (raced) {
      return { url: embeddedUrl(raced.port), dataDir: dir, owner: false, close: async () => undefined };
    }
    const pglite = await PGlite.create(path.join(dir, 'pgdata'), { extensions: { vector } });
    const server = new PGLiteSocketServer({ db: pglite, host: '127.0.0.1', port: 0, maxConnections: 16 });
    serveInExclusiveTurns(server);
    await server.start();
    if (!keepProcessAlive) {
      // PGLiteSocketServer keeps its net.Server private; unref it and every accepted socket.
      const listener = (server as unknown as { server: net.Server | null }).server;
      listener?.unref();
      listener?.on('connection', (socket) => socket.unref());
    }
    const port = Number(server.getServerConn().split(':').pop());
    fs.writeFileSync(infoFile, JSON.stringify({ pid: process.pid, port } satisfies ServerInfo));
    let closed: Promise<void> | undefined;
    const close = () =>
      (closed ??= (async () => {
        started.delete(dir);
        try {
          if (readInfo(infoFile)?.pid === process.pid) fs.rmSync(infoFile, { force: true });
        } finally {
          await server.stop();
          await pglite.close();
        }
      })());
    return { url: embeddedUrl(port), dataDir: dir, owner: true, close };
  } finally {
    release();
  }
}

function readInfo(file: string): ServerInfo | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as ServerInfo;
  } catch {
    return null;
  }
}


function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

async function runningServer(infoFile: string): Promise<ServerInfo | null> {
  const info = readInfo(infoFile);
  if (!info) return null;
  if (info.pid !== process.pid && pidAlive(info.pid) && (await portOpen(info.port))) return info;
  return null;
}

/** Waits (up to 30 s) for the lock file of the data directory; a lock left by a dead process is taken over. */
async function acquireLock(file: string): Promise<() => void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const release = tryPidLock(file);
    if (release) return release;
    if (Date.now() > deadline) throw new Error(`embedded database ${file} is locked by process ${lockHolder(file)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
