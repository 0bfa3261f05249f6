import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import { createPostgresJSExecutor } from '@prisma/studio-core/data/postgresjs';
import type { DatabaseMode } from '@agenthub/db';
import { handleBffRequest, type StudioExecutor } from './studio-bff';
import { ensureUiBundle } from './ui-bundle';

/**
 * AgentHub Studio: Prisma's embeddable Studio (@prisma/studio-core) served by a small HTTP server of ours. The page
 * is bundled from node_modules (ui-bundle.ts) and runs its SQL through this server (studio-bff.ts) over the
 * `postgres` driver: no Prisma engine, no download, nothing reached but the database and the browser on this host.
 *
 * Whoever reaches the port can read and change the whole database, so it listens on 127.0.0.1 unless told
 * otherwise, and, on loopback, answers only requests addressed to a loopback name (a page on another site that
 * rebinds its DNS name to 127.0.0.1 is refused) and runs SQL only for same-origin JSON posts (a form or a script
 * on another site cannot send one).
 */
export interface StudioServerOptions {
  /** postgres:// URL; never logged or shown */
  databaseUrl: string;
  /** 'embedded': one connection, the embedded database serves all of them from one backend anyway */
  mode: DatabaseMode;
  /** what the page title and log lines say about the database; must carry no credentials (describeDatabase) */
  description?: string;
  /** default 127.0.0.1 */
  host?: string;
  /** default 5555 (Prisma Studio's); 0 picks a free one */
  port?: number;
  log?: (line: string) => void;
  /** where the built UI is cached (default node_modules/.cache/agenthub-studio) */
  cacheRoot?: string;
}

export interface StudioServer {
  /** the address to open, e.g. http://127.0.0.1:5555/ */
  url: string;
  /** tables in the `public` schema when the server started (0: the migrations have not been applied) */
  tables: number;
  close(): Promise<void>;
}

export const DEFAULT_STUDIO_HOST = '127.0.0.1';
export const DEFAULT_STUDIO_PORT = 5555;
const MAX_BODY_BYTES = 16 * 1024 * 1024;

// The page loads its script and styles from this server and talks only to it; nothing else is allowed, so no
// part of Studio can call out (its telemetry is switched off besides, see ui/studio.client.ts). Studio sets
// inline styles, hence 'unsafe-inline' for styles only.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

export async function startStudioServer(options: StudioServerOptions): Promise<StudioServer> {
  const host = options.host ?? DEFAULT_STUDIO_HOST;
  const log = options.log ?? (() => undefined);
  const bundle = await ensureUiBundle({ cacheRoot: options.cacheRoot, log });
  const assetPrefix = `/assets/${path.basename(bundle.dir)}/`;

  const sql = postgres(driverUrl(options.databaseUrl), {
    max: options.mode === 'embedded' ? 1 : 4,
    // Unnamed statements only: on the embedded database every connection shares one backend, where named ones
    // of different connections collide; for an administrator's tool, saving a parse is worth nothing.
    prepare: false,
    idle_timeout: 60,
    connect_timeout: 10,
    connection: { application_name: 'agenthub-studio' },
    // NOTICE messages would otherwise be printed to stdout.
    onnotice: () => undefined,
  });
  let tables: number;
  try {
    // In a transaction for the reason handleBffRequest gives; it also proves the database answers before the URL
    // is printed.
    const [row] = await sql.begin(
      (tx) => tx`select count(*)::int as n from information_schema.tables
                 where table_schema = 'public' and table_type = 'BASE TABLE'`,
    );
    tables = (row as { n: number }).n;
  } catch (error) {
    await sql.end({ timeout: 1 });
    throw new Error(`Studio cannot query the database: ${(error as Error).message}`);
  }
  const executor = createPostgresJSExecutor(sql);
  if (!executor.executeTransaction || !executor.lintSql) throw new Error('@prisma/studio-core: executor incomplete');
  const studioExecutor = executor as StudioExecutor;

  const page = Buffer.from(renderPage(assetPrefix, options.description));
  let allowedHosts: Set<string> | null = null;

  const server = http.createServer((req, res) => {
    void route(req, res).catch((error: unknown) => {
      log(`request failed: ${(error as Error).message}`);
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  });

  async function route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (allowedHosts && !allowedHosts.has((req.headers.host ?? '').toLowerCase())) {
      return send(res, 403, 'text/plain; charset=utf-8', 'Studio answers only to a loopback address\n');
    }
    const pathname = new URL(req.url ?? '/', 'http://studio').pathname;
    if (pathname === '/api/query') {
      if (req.method !== 'POST') return send(res, 405, 'text/plain; charset=utf-8', 'POST only\n', { allow: 'POST' });
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`) {
        return send(res, 403, 'text/plain; charset=utf-8', 'cross-origin request refused\n');
      }
      if (!/^application\/json(;|$)/i.test(req.headers['content-type'] ?? '')) {
        return send(res, 415, 'text/plain; charset=utf-8', 'application/json expected\n');
      }
      const body = await readBody(req);
      if (body === null) return send(res, 413, 'text/plain; charset=utf-8', 'request too large\n');
      let payload: unknown;
      try {
        payload = JSON.parse(body.toString('utf8'));
      } catch {
        return send(res, 400, 'application/json', JSON.stringify({ error: 'invalid JSON' }));
      }
      const reply = await handleBffRequest(studioExecutor, payload);
      return send(res, reply.status, 'application/json', JSON.stringify(reply.body, jsonValue));
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      return send(res, 405, 'text/plain; charset=utf-8', 'GET only\n', { allow: 'GET, HEAD' });
    }
    if (pathname === '/' || pathname === '/index.html') {
      return send(res, 200, 'text/html; charset=utf-8', page, {
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'cache-control': 'no-store',
      });
    }
    const asset = pathname.startsWith(assetPrefix) ? bundle.files.get(pathname.slice(assetPrefix.length)) : undefined;
    if (asset) {
      // The path carries the bundle's key: a new build is a new path.
      return send(res, 200, asset.contentType, asset.body, { 'cache-control': 'public, max-age=31536000, immutable' });
    }
    if (pathname === '/favicon.ico') return send(res, 204, 'image/x-icon', '');
    return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
  }

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? DEFAULT_STUDIO_PORT, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await sql.end({ timeout: 1 });
    if ((error as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new Error(`port ${options.port ?? DEFAULT_STUDIO_PORT} on ${host} is in use: pass --port <n> (0: any free port)`);
    }
    throw error;
  }
  const port = (server.address() as AddressInfo).port;
  if (isLoopback(host)) {
    allowedHosts = new Set(['127.0.0.1', 'localhost', '[::1]', urlHost(host)].map((name) => `${name}:${port}`));
  }
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : urlHost(host);

  let closed: Promise<void> | undefined;
  return {
    url: `http://${shownHost}:${port}/`,
    tables,
    close: () =>
      (closed ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await stopped;
        await sql.end({ timeout: 5 });
      })()),
  };
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

// Parameters of Prisma's connection URLs that are not libpq's: the `postgres` driver would send them to the server
// as settings, which refuses them.
const PRISMA_URL_PARAMETERS = [
  'schema',
  'connection_limit',
  'pool_timeout',
  'socket_timeout',
  'pgbouncer',
  'statement_cache_size',
  'sslaccept',
  'sslidentity',
  'sslpassword',
  'sslcert',
  'max_connection_lifetime',
  'max_idle_connection_lifetime',
  'single_use_connections',
];

function driverUrl(url: string): string {
  const parsed = new URL(url);
  for (const name of PRISMA_URL_PARAMETERS) parsed.searchParams.delete(name);
  return parsed.toString();
}

function renderPage(assetPrefix: string, description: string | undefined): string {
  const title = description ? `AgentHub Studio — ${description}` : 'AgentHub Studio';
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${escapeHtml(title)}</title>
    <link rel="stylesheet" href="${assetPrefix}studio.css" />
  </head>
  <body>
    <div id="studio"></div>
    <script src="${assetPrefix}studio.js"></script>
  </body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The body, or null once it passes MAX_BODY_BYTES. */
function readBody(req: http.IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

// int8 and numeric arrive as strings from the driver already; a BigInt from anywhere else would make
// JSON.stringify throw.
function jsonValue(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

function send(
  res: http.ServerResponse,
  status: number,
  contentType: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  res.end(body);
}
