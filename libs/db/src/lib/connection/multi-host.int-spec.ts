import net from 'node:net';
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { CatalogTypesAsTextClient } from './catalog-types.shim';
import { pgPoolConfig } from './pg-adapter';
import { MultiHostConnectError, multiHostClient, withMultiHost } from './multi-host';

/**
 * Multi-host connection strings against real servers: the test database's PostgreSQL as the primary and the
 * streaming hot standby that tools/scripts/setup-replica.sh keeps on 127.0.0.1:5433 (TEST_REPLICA_PORT). Jest's
 * global setup has put the test database's URL in the environment by the time this module loads.
 */
const onPostgres = process.env.AGENTHUB_TEST_DB_MODE === 'postgres';
const primaryUrl = new URL(
  process.env.TEST_DATABASE_DIRECT_URL || process.env.TEST_DATABASE_URL || 'postgresql://localhost/none',
);
const PRIMARY = `${primaryUrl.hostname}:${primaryUrl.port || 5432}`;
const PRIMARY_PORT = Number(primaryUrl.port || 5432);
const REPLICA_PORT = Number(process.env.TEST_REPLICA_PORT || 5433);
const REPLICA = `127.0.0.1:${REPLICA_PORT}`;
const CLOSED = '127.0.0.1:1';

/**
 * Jest decides skips when it loads the module, before any beforeAll, so the standby is looked for synchronously:
 * it must answer and be in recovery (a failover drill may have promoted it).
 */
function standbyMissing(): string | undefined {
  if (!onPostgres) return 'needs PostgreSQL (TEST_DATABASE_URL)';
  const probe = spawnSync(
    'psql',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(REPLICA_PORT),
      '-U',
      decodeURIComponent(primaryUrl.username) || 'postgres',
      '-d',
      'postgres',
      '-Atc',
      'select pg_is_in_recovery()',
    ],
    {
      encoding: 'utf8',
      timeout: 5_000,
      env: { ...process.env, PGPASSWORD: decodeURIComponent(primaryUrl.password), PGCONNECT_TIMEOUT: '3' },
    },
  );
  if (probe.error) return `psql could not run (${probe.error.message})`;
  if (probe.status !== 0) return `no standby answers on ${REPLICA}: run tools/scripts/setup-replica.sh`;
  if (probe.stdout.trim() !== 't')
    return `${REPLICA} is not a standby (promoted?): run tools/scripts/setup-replica.sh to rebuild it`;
  return undefined;
}

const missing = standbyMissing();
const describeWithPostgres = onPostgres ? describe : describe.skip;
const describeWithStandby = missing ? describe.skip : describe;

/** The test database's credentials and database with this host list (and target_session_attrs when given). */
function multiUrl(hosts: string[], targetSessionAttrs?: string): string {
  const credentials = primaryUrl.username
    ? `${primaryUrl.username}${primaryUrl.password ? `:${primaryUrl.password}` : ''}@`
    : '';
  const query = targetSessionAttrs ? `?target_session_attrs=${targetSessionAttrs}` : '';
  return `postgresql://${credentials}${hosts.join(',')}${primaryUrl.pathname}${query}`;
}

const WHERE_SQL = 'select pg_is_in_recovery() as in_recovery, inet_server_port() as port';

async function whereDoesItLand(
  url: string,
  config: pg.PoolConfig = {},
): Promise<{ in_recovery: boolean; port: number }> {
  const pool = new pg.Pool(withMultiHost({ connectionString: url, max: 1, ...config }));
  try {
    return (await pool.query(WHERE_SQL)).rows[0];
  } finally {
    await pool.end();
  }
}

/** A TCP server that accepts connections and never answers: a host that black-holes the PostgreSQL handshake. */
async function silentServer(): Promise<{ host: string; open: () => number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.resume(); // read and drop what arrives, so the client's FIN is seen and the socket closes
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    open: () => sockets.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A TCP proxy to `port` that can be cut, every connection at once: a server going away under a pool. */
async function proxyTo(port: number): Promise<{ host: string; cut: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    cut: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

describeWithPostgres('multi-host connection strings (one server)', () => {
  it('skips a host that refuses the connection', async () => {
    await expect(whereDoesItLand(multiUrl([CLOSED, PRIMARY]))).resolves.toEqual({
      in_recovery: false,
      port: PRIMARY_PORT,
    });
  });

  it('gives up on a host that never answers after attemptTimeoutMillis and goes on to the next', async () => {
    const silent = await silentServer();
    try {
      const pool = new pg.Pool(
        withMultiHost(
          { connectionString: multiUrl([silent.host, PRIMARY], 'read-write'), max: 1 },
          { attemptTimeoutMillis: 300 },
        ),
      );
      const started = Date.now();
      try {
        expect((await pool.query(WHERE_SQL)).rows[0]).toEqual({ in_recovery: false, port: PRIMARY_PORT });
      } finally {
        await pool.end();
      }
      expect(Date.now() - started).toBeLessThan(3_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(silent.open()).toBe(0);
    } finally {
      await silent.close();
    }
  });

  it("stops probing when the pool's connectionTimeoutMillis runs out", async () => {
    const silent = await silentServer();
    try {
      const pool = new pg.Pool(
        withMultiHost({ connectionString: multiUrl([silent.host, silent.host]), connectionTimeoutMillis: 300, max: 1 }),
      );
      const started = Date.now();
      try {
        await expect(pool.query('select 1')).rejects.toThrow(/connection timeout/);
      } finally {
        await pool.end();
      }
      expect(Date.now() - started).toBeLessThan(2_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(silent.open()).toBe(0);
    } finally {
      await silent.close();
    }
  });

  it('fails naming every host and why when none qualifies, without the password', async () => {
    const url = multiUrl([CLOSED, PRIMARY], 'standby');
    const error = await whereDoesItLand(url).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(MultiHostConnectError);
    const message = (error as Error).message;
    expect(message).toMatch(/target_session_attrs=standby/);
    expect(message).toContain(`${CLOSED} connect ECONNREFUSED`);
    expect(message).toContain(`${PRIMARY} is not a standby`);
    if (primaryUrl.password) expect(message).not.toContain(decodeURIComponent(primaryUrl.password));
    expect((error as MultiHostConnectError).attempts).toHaveLength(2);
  });

  it('connects a client by itself too, promise form, and refuses a second connect as pg does', async () => {
    const Client = multiHostClient(pg.Client);
    const sut = new Client(multiUrl([CLOSED, PRIMARY], 'primary'));
    await expect(sut.connect()).resolves.toBe(sut);
    try {
      expect(sut.port).toBe(PRIMARY_PORT);
      expect((await sut.query(WHERE_SQL)).rows[0]).toEqual({ in_recovery: false, port: PRIMARY_PORT });
      await expect(sut.connect()).rejects.toThrow(/already been connected/);
    } finally {
      await sut.end();
    }
  });

  it('fails the connect when the client is ended while hosts are being probed', async () => {
    const silent = await silentServer();
    try {
      const Client = multiHostClient(pg.Client);
      const sut = new Client(multiUrl([silent.host, PRIMARY]));
      const connecting = sut.connect();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await sut.end();
      await expect(connecting).rejects.toThrow(/Connection terminated/);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(silent.open()).toBe(0);
    } finally {
      await silent.close();
    }
  });

  it('keeps the Client it wraps (the catalog-types shim) and works under the Prisma adapter', async () => {
    const config = withMultiHost(pgPoolConfig(multiUrl([CLOSED, PRIMARY], 'read-write'), { max: 2 }));
    expect(new (config.Client as unknown as typeof pg.Client)(config)).toBeInstanceOf(CatalogTypesAsTextClient);
    const pool = new pg.Pool(config);
    try {
      const result = await pool.query("select relname from pg_class where relname = 'pg_class'");
      expect(result.fields[0].dataTypeID).toBe(25); // name (19) reported as text by CatalogTypesAsTextClient
    } finally {
      await pool.end();
    }
    const adapter = await new PrismaPg(config).connect();
    try {
      const rows = await adapter.queryRaw({ sql: 'select inet_server_port() as port', args: [], argTypes: [] });
      expect(rows.rows).toEqual([[PRIMARY_PORT]]);
    } finally {
      await adapter.dispose();
    }
  });
});

describeWithStandby(
  `multi-host connection strings (primary ${PRIMARY}, standby ${REPLICA})${missing ? ` [skipped: ${missing}]` : ''}`,
  () => {
    it.each(['read-write', 'primary'])(
      '%s passes over the standby listed first and lands on the primary',
      async (attrs) => {
        await expect(whereDoesItLand(multiUrl([REPLICA, PRIMARY], attrs))).resolves.toEqual({
          in_recovery: false,
          port: PRIMARY_PORT,
        });
      },
    );

    it.each(['read-only', 'standby', 'prefer-standby'])(
      '%s passes over the primary listed first and lands on the standby',
      async (attrs) => {
        await expect(whereDoesItLand(multiUrl([PRIMARY, REPLICA], attrs))).resolves.toEqual({
          in_recovery: true,
          port: REPLICA_PORT,
        });
      },
    );

    it('any takes the first host that answers, standby or not', async () => {
      await expect(whereDoesItLand(multiUrl([CLOSED, REPLICA, PRIMARY]))).resolves.toEqual({
        in_recovery: true,
        port: REPLICA_PORT,
      });
    });

    it('prefer-standby falls back to the primary when no standby answers', async () => {
      await expect(whereDoesItLand(multiUrl([PRIMARY, CLOSED], 'prefer-standby'))).resolves.toEqual({
        in_recovery: false,
        port: PRIMARY_PORT,
      });
    });

    it('read-write fails naming every host when only the standby and a dead host are listed', async () => {
      const error = await whereDoesItLand(multiUrl([REPLICA, CLOSED], 'read-write')).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(MultiHostConnectError);
      expect((error as Error).message).toBe(
        `no listed host qualifies for target_session_attrs=read-write: ${REPLICA} is a standby (read-only); ${CLOSED} connect ECONNREFUSED ${CLOSED}`,
      );
    });

    it('a pool whose server goes away reconnects by itself to the next listed host', async () => {
      const proxy = await proxyTo(REPLICA_PORT);
      const pool = new pg.Pool(withMultiHost({ connectionString: multiUrl([proxy.host, PRIMARY]), max: 2 }));
      const poolErrors: Error[] = [];
      pool.on('error', (err) => poolErrors.push(err));
      try {
        expect((await pool.query(WHERE_SQL)).rows[0]).toEqual({ in_recovery: true, port: REPLICA_PORT });
        await proxy.cut();
        // The idle client learns of the loss and leaves the pool; the next query opens a connection anew.
        await new Promise((resolve) => setTimeout(resolve, 100));
        expect((await pool.query(WHERE_SQL)).rows[0]).toEqual({ in_recovery: false, port: PRIMARY_PORT });
        expect(poolErrors.map((e) => e.message)).toEqual(['Connection terminated unexpectedly']);
      } finally {
        await pool.end();
      }
    });
  },
);
