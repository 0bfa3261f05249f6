import pg from 'pg';

/**
 * libpq's multi-host connection strings (`postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write`) for
 * node-postgres, so a DATABASE_URL listing a primary and its standbys follows a failover by itself (issue 16).
 *
 * Hand-written because neither pg nor pg-connection-string knows more than one host: pg-connection-string hands the
 * string to WHATWG `URL`, which rejects or misreads the comma list, and pg has no target_session_attrs
 * (brianc/node-postgres#2781, #1470; multi-host support is an open pull request, #3643). pg-native goes through
 * libpq but rebuilds the connection string from pg's own single-host parse, and no maintained npm package adds it
 * to pg. Remove this once pg ships multi-host support.
 *
 * Out of scope: the `host=`/`port=`/`hostaddr=` query parameters and keyword/value strings (rejected, not ignored),
 * `load_balance_hosts`, and PGHOST/PGPORT (a host without a port gets 5432).
 */

export type TargetSessionAttrs = 'any' | 'read-write' | 'primary' | 'read-only' | 'standby' | 'prefer-standby';

export interface HostPort {
  host: string;
  port: number;
}

export interface MultiHostSpec {
  hosts: HostPort[];
  targetSessionAttrs: TargetSessionAttrs;
  /** A single-host URL for `host`, otherwise the original text (credentials, database, parameters) less target_session_attrs. */
  url: (host: HostPort) => string;
}

const TARGET_SESSION_ATTRS: readonly TargetSessionAttrs[] = [
  'any',
  'read-write',
  'primary',
  'read-only',
  'standby',
  'prefer-standby',
];
const DEFAULT_PORT = 5432;
const URI = /^(postgres(?:ql)?):\/\/([^/?#]*)(.*)$/s;

/**
 * Reads a libpq URI with one or more `host[:port]` entries. Errors name hosts by position, never by text: with an
 * unencoded `/` or `@` in the password, what looks like a host can be part of the password.
 * The per-host URLs keep the original text verbatim apart from the host list, so pg parses each one exactly as it
 * would parse a single-host DATABASE_URL.
 */
export function parseHosts(url: string): MultiHostSpec {
  const match = URI.exec(url.trim());
  if (!match) throw new Error('the connection string must be a postgres:// or postgresql:// URL');
  const [, scheme, authority, rest] = match;
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostList = authority.slice(at + 1);
  if (!hostList) throw new Error('the connection string names no host');
  const hosts = hostList.split(',').map((entry, i) => parseHostEntry(entry, i + 1));

  const hashAt = rest.indexOf('#');
  const beforeFragment = hashAt >= 0 ? rest.slice(0, hashAt) : rest;
  const fragment = hashAt >= 0 ? rest.slice(hashAt) : '';
  const queryAt = beforeFragment.indexOf('?');
  const path = queryAt >= 0 ? beforeFragment.slice(0, queryAt) : beforeFragment;
  const params =
    queryAt >= 0
      ? beforeFragment
          .slice(queryAt + 1)
          .split('&')
          .filter(Boolean)
      : [];

  let targetSessionAttrs: TargetSessionAttrs = 'any';
  const kept: string[] = [];
  for (const param of params) {
    const eq = param.indexOf('=');
    const key = decodeParam(eq >= 0 ? param.slice(0, eq) : param);
    if (key === 'host' || key === 'hostaddr' || key === 'port') {
      throw new Error(`the ${key} query parameter is not supported: list host:port pairs before the database name`);
    }
    if (key !== 'target_session_attrs') {
      kept.push(param);
      continue;
    }
    const value = decodeParam(eq >= 0 ? param.slice(eq + 1) : '');
    if (!(TARGET_SESSION_ATTRS as readonly string[]).includes(value)) {
      throw new Error(`target_session_attrs must be one of ${TARGET_SESSION_ATTRS.join(', ')}; got "${value}"`);
    }
    targetSessionAttrs = value as TargetSessionAttrs;
  }
  const query = kept.length ? `?${kept.join('&')}` : '';
  const hostUrl = (h: HostPort) => `${scheme}://${userinfo}${formatHost(h.host)}:${h.port}${path}${query}${fragment}`;

  hosts.forEach((h, i) => {
    try {
      new URL(hostUrl(h));
    } catch {
      throw new Error(
        `host ${i + 1} does not make a valid URL (are special characters in the credentials percent-encoded?)`,
      );
    }
  });
  return { hosts, targetSessionAttrs, url: hostUrl };
}

/** Whether the URL lists more than one host; false for anything that is not a postgres URL. */
export function isMultiHost(url: string): boolean {
  const match = URI.exec(url.trim());
  if (!match) return false;
  const authority = match[2];
  return authority.slice(authority.lastIndexOf('@') + 1).includes(',');
}

function parseHostEntry(entry: string, position: number): HostPort {
  let host: string;
  let portText: string;
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close < 0) throw new Error(`host ${position} has an unclosed [ (IPv6 addresses are written [::1]:5432)`);
    host = entry.slice(1, close);
    const after = entry.slice(close + 1);
    if (after && !after.startsWith(':')) throw new Error(`host ${position} has text after its ] that is not :port`);
    portText = after.slice(1);
  } else {
    const parts = entry.split(':');
    if (parts.length > 2)
      throw new Error(`host ${position} looks like an IPv6 address: write it in brackets, [::1]:5432`);
    [host, portText = ''] = parts;
  }
  try {
    host = decodeURIComponent(host);
  } catch {
    throw new Error(`host ${position} has a malformed percent-encoding`);
  }
  if (!host) throw new Error(`host ${position} is empty`);
  return { host, port: parsePort(portText, position) };
}

function parsePort(text: string, position: number): number {
  // libpq takes an empty port as the default too (`h1:,h2`).
  if (!text) return DEFAULT_PORT;
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new Error(`host ${position} has an invalid port`);
  return port;
}

function decodeParam(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw new Error('the query string has a malformed percent-encoding');
  }
}

function formatHost(host: string): string {
  if (host.includes(':')) return `[${host.replace(/%/g, '%25')}]`;
  // A Unix socket directory (`/var/run/postgresql`) travels percent-encoded, as pg-connection-string expects.
  return encodeURIComponent(host);
}

function label(h: HostPort): string {
  return `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Choosing a host
// ---------------------------------------------------------------------------------------------------------------

/** Why each listed host was passed over; the message names every host and never a password. */
export class MultiHostConnectError extends Error {
  constructor(
    readonly targetSessionAttrs: TargetSessionAttrs,
    readonly attempts: ReadonlyArray<{ host: string; port: number; reason: string }>,
  ) {
    super(
      `no listed host qualifies for target_session_attrs=${targetSessionAttrs}: ` +
        attempts.map((a) => `${label(a)} ${a.reason}`).join('; '),
    );
    this.name = 'MultiHostConnectError';
  }
}

export interface MultiHostOptions {
  /**
   * How long one host may take to accept a connection and answer the role query. Default: the client's
   * connectionTimeoutMillis, else 5 s, since a host that black-holes packets would otherwise stall every new
   * connection (libpq waits forever without connect_timeout). pg.Pool applies connectionTimeoutMillis to the whole
   * connect, probes included, so set this lower than that to get past a black-holed host.
   */
  attemptTimeoutMillis?: number;
  /** The hosts to use instead of parsing each client's connectionString (what `withMultiHost` passes). */
  spec?: MultiHostSpec;
}

const DEFAULT_ATTEMPT_TIMEOUT_MS = 5_000;

// Text, not booleans, so a client's custom type parsers cannot change the answer.
const ROLE_SQL =
  "select pg_catalog.pg_is_in_recovery()::text as in_recovery, pg_catalog.current_setting('transaction_read_only') as read_only";

interface ServerRole {
  inRecovery: boolean;
  readOnly: boolean;
}

function roleFrom(result: pg.QueryResult): ServerRole {
  const row = result.rows[0] as { in_recovery: string; read_only: string };
  return { inRecovery: row.in_recovery === 'true', readOnly: row.read_only === 'on' };
}

/** The libpq rules (PostgreSQL 14+): read-write/read-only look at the session's default, primary/standby at recovery. */
function mismatch(attrs: TargetSessionAttrs, role: ServerRole): string | undefined {
  switch (attrs) {
    case 'read-write':
      return role.readOnly
        ? role.inRecovery
          ? 'is a standby (read-only)'
          : 'is read-only (default_transaction_read_only)'
        : undefined;
    case 'read-only':
      return role.readOnly ? undefined : 'accepts writes';
    case 'primary':
      return role.inRecovery ? 'is a standby' : undefined;
    case 'standby':
    case 'prefer-standby':
      return role.inRecovery ? undefined : 'is not a standby';
    case 'any':
      return undefined;
  }
}

function describeError(err: unknown): string {
  // Duck-typed: errors from Node's core are not `instanceof Error` in another realm (Jest's sandbox, vm).
  const e = err as { message?: unknown; code?: unknown; errors?: unknown } | null;
  // Node's happy-eyeballs connect (autoSelectFamily) fails with an AggregateError whose own message is empty.
  if (Array.isArray(e?.errors) && e.errors.length && !e.message) return e.errors.map(describeError).join(', ');
  if (typeof e?.message === 'string' && e.message) return e.message;
  if (typeof e?.code === 'string') return e.code;
  return String(err);
}

/** A copy of a client or pool config with other fields, keeping `password` hidden as pg and pg-pool keep it. */
function copyConfig<T extends object>(config: T, changes: Partial<T>): T {
  const copy = Object.assign({}, config, changes);
  if ('password' in config && !('password' in changes)) {
    Object.defineProperty(copy, 'password', {
      configurable: true,
      enumerable: false,
      writable: true,
      value: (config as { password?: unknown }).password,
    });
  }
  return copy;
}

type ConnectCallback = (err: Error | null, client?: pg.Client) => void;

/**
 * A subclass of `Base` (pg.Client or a subclass, e.g. CatalogTypesAsTextClient) that connects to the first listed
 * host meeting target_session_attrs.
 *
 * A pg.Client connects once: a failed attempt leaves its Connection closed and its flags set, and it emits 'end',
 * which pg-pool takes as the client going away. So each host is tried with a throwaway probe of the same class and
 * config, and only then is this client connected, to the chosen host; with a target other than `any` the role is
 * checked again on this connection, as libpq checks the connection it returns (the probe and the real connection
 * are two TCP connections, and a name can resolve to several servers). The cost is one short extra connection per
 * pool connection, paid only when the pool opens one.
 */
export function multiHostClient(Base: typeof pg.Client, options: MultiHostOptions = {}): typeof pg.Client {
  return class MultiHostClient extends Base {
    readonly #config: pg.ClientConfig;
    readonly #spec: MultiHostSpec;
    #abort?: AbortController;
    #started = false;

    constructor(config?: string | pg.ClientConfig) {
      const given: pg.ClientConfig = typeof config === 'string' ? { connectionString: config } : (config ?? {});
      const spec = options.spec ?? parseHosts(given.connectionString ?? '');
      // pg parses a single-host URL; host and port are set again before connecting.
      super(copyConfig(given, { connectionString: spec.url(spec.hosts[0]) }));
      this.#config = given;
      this.#spec = spec;
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: ConnectCallback): void;
    override connect(callback?: ConnectCallback): Promise<pg.Client> | void {
      // A second connect gets pg's own "cannot reuse a client" error, without probing first.
      if (this.#started) return callback ? super.connect(callback) : super.connect();
      this.#started = true;
      const connecting = this.#connectToQualifyingHost();
      if (!callback) return connecting.then(() => this);
      // pg calls the callback from an event handler, so a throw in it is uncaught; nextTick keeps it that way
      // instead of turning it into an unhandled rejection.
      connecting.then(
        () => process.nextTick(callback, null, this),
        (err: Error) => process.nextTick(callback, err),
      );
    }

    override end(): Promise<void>;
    override end(callback: (err: Error) => void): void;
    override end(callback?: (err: Error) => void): Promise<void> | void {
      // pg's end() is a no-op before the connection starts; while hosts are being probed, stop probing.
      this.#abort?.abort(new Error('Connection terminated'));
      return callback ? super.end(callback) : super.end();
    }

    async #connectToQualifyingHost(): Promise<void> {
      const abort = (this.#abort = new AbortController());
      // pg-pool's connectionTimeoutMillis destroys `client.connection.stream`, which is still unused while the
      // probes run: take that as the pool giving up, as pg would for its own connect.
      const stream = this.connection.stream;
      const onClose = () => abort.abort(new Error('timeout expired'));
      stream.once('close', onClose);
      let chosen: HostPort;
      try {
        chosen = await this.#chooseHost(abort.signal);
      } finally {
        stream.off('close', onClose);
        this.#abort = undefined;
      }
      if (abort.signal.aborted) throw abort.signal.reason;

      // What pg.Client#_connect (and cancel) read; connectionParameters for anything that reads them later.
      this.host = chosen.host;
      this.port = chosen.port;
      const params = (this as unknown as { connectionParameters: Record<string, unknown> }).connectionParameters;
      params.host = chosen.host;
      params.port = chosen.port;
      params.isDomainSocket = chosen.host.startsWith('/');
      await super.connect();

      const attrs = this.#spec.targetSessionAttrs;
      if (attrs === 'any' || attrs === 'prefer-standby') return;
      // The pool listens for 'error' only once connect has returned; until then a dropped connection must not
      // become an unhandled 'error' event (the query below fails with it anyway).
      const swallow = () => undefined;
      this.on('error', swallow);
      let reason: string | undefined;
      try {
        reason = mismatch(attrs, roleFrom(await this.query(ROLE_SQL)));
      } finally {
        this.off('error', swallow);
      }
      if (reason) {
        await super.end().catch(() => undefined);
        throw new MultiHostConnectError(attrs, [
          { ...chosen, reason: `${reason} (it changed between the check and the connection)` },
        ]);
      }
    }

    async #chooseHost(signal: AbortSignal): Promise<HostPort> {
      const { hosts, targetSessionAttrs: attrs } = this.#spec;
      const attempts: Array<HostPort & { reason: string }> = [];
      let firstReachable: HostPort | undefined;
      for (const host of hosts) {
        if (signal.aborted) throw signal.reason;
        let role: ServerRole;
        try {
          role = await this.#probe(host, signal);
        } catch (err) {
          attempts.push({ ...host, reason: describeError(err) });
          continue;
        }
        const reason = mismatch(attrs, role);
        if (!reason) return host;
        firstReachable ??= host;
        attempts.push({ ...host, reason });
      }
      if (signal.aborted) throw signal.reason;
      // prefer-standby: no standby answered, so any host will do, as in libpq's second pass (without reconnecting
      // to hosts just seen to work).
      if (attrs === 'prefer-standby' && firstReachable) return firstReachable;
      throw new MultiHostConnectError(attrs, attempts);
    }

    /** Connects a throwaway client of the same class to `host` and reads its role; the probe is always closed. */
    async #probe(host: HostPort, signal: AbortSignal): Promise<ServerRole> {
      const timeoutMs =
        options.attemptTimeoutMillis ?? (this.#config.connectionTimeoutMillis || DEFAULT_ATTEMPT_TIMEOUT_MS);
      // Only this function's timer limits the attempt, so the reason it gives is the one reported.
      const probe = new Base(
        copyConfig(this.#config, { connectionString: this.#spec.url(host), connectionTimeoutMillis: 0 }),
      );
      probe.on('error', () => undefined);
      let cutShort: string | undefined;
      const kill = (reason: string) => {
        cutShort ??= reason;
        probe.connection.stream.destroy();
      };
      const timer = setTimeout(() => kill(`timed out after ${timeoutMs} ms`), timeoutMs);
      const onAbort = () => kill('cancelled');
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        await probe.connect();
        return roleFrom(await probe.query(ROLE_SQL));
      } catch (err) {
        throw new Error(cutShort ?? describeError(err));
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        probe.end().catch(() => undefined);
      }
    }
  };
}

/**
 * The pool config for a multi-host connection string (or a single host with a target_session_attrs other than
 * `any`): the pool's Client becomes the multi-host subclass of whatever Client it had, and `connectionString` becomes
 * the first host's single-host URL, so nothing else that reads the config meets a string pg cannot parse. Any
 * other config is returned as it is.
 */
export function withMultiHost(config: pg.PoolConfig, options: Omit<MultiHostOptions, 'spec'> = {}): pg.PoolConfig {
  const url = config.connectionString;
  if (!url || (!isMultiHost(url) && !/[?&]target_session_attrs=/.test(url))) return config;
  const spec = parseHosts(url);
  if (spec.hosts.length === 1 && spec.targetSessionAttrs === 'any') return config;
  const Base = (config.Client ?? pg.Client) as typeof pg.Client;
  return copyConfig(config, {
    connectionString: spec.url(spec.hosts[0]),
    Client: multiHostClient(Base, { ...options, spec }) as unknown as pg.PoolConfig['Client'],
  });
}
