import pg from 'pg';
import { isMultiHost, multiHostClient, parseHosts, withMultiHost } from './multi-host';

/** What pg itself makes of a connection string (its parser is pg-connection-string, reached through the client). */
function pgSees(url: string) {
  const client = new pg.Client(url);
  const params = (client as unknown as { connectionParameters: { options?: string } }).connectionParameters;
  return {
    user: client.user,
    password: client.password,
    host: client.host,
    port: client.port,
    database: client.database,
    options: params.options,
  };
}

describe(parseHosts.name, () => {
  it('reads a single-host URL as one host with target any', () => {
    const sut = parseHosts('postgresql://postgres@127.0.0.1:5432/agenthub');
    expect(sut.hosts).toEqual([{ host: '127.0.0.1', port: 5432 }]);
    expect(sut.targetSessionAttrs).toBe('any');
    expect(sut.url(sut.hosts[0])).toBe('postgresql://postgres@127.0.0.1:5432/agenthub');
  });

  it('gives each host its own port, 5432 when none is written', () => {
    const sut = parseHosts('postgres://u@db-a:6432,db-b,db-c:/app?target_session_attrs=read-write');
    expect(sut.hosts).toEqual([
      { host: 'db-a', port: 6432 },
      { host: 'db-b', port: 5432 },
      { host: 'db-c', port: 5432 },
    ]);
    expect(sut.targetSessionAttrs).toBe('read-write');
    expect(sut.url(sut.hosts[1])).toBe('postgres://u@db-b:5432/app');
  });

  it.each(['any', 'read-write', 'primary', 'read-only', 'standby', 'prefer-standby'] as const)(
    'accepts target_session_attrs=%s',
    (attrs) => {
      expect(parseHosts(`postgresql://h1,h2/db?target_session_attrs=${attrs}`).targetSessionAttrs).toBe(attrs);
    },
  );

  it('reads bracketed IPv6 addresses, with and without a port, and writes them back bracketed', () => {
    const sut = parseHosts('postgresql://u@[::1]:5433,[fe80::2]/db');
    expect(sut.hosts).toEqual([
      { host: '::1', port: 5433 },
      { host: 'fe80::2', port: 5432 },
    ]);
    const url = sut.url(sut.hosts[0]);
    expect(url).toBe('postgresql://u@[::1]:5433/db');
    expect(pgSees(url)).toMatchObject({ host: '::1', port: 5433, user: 'u', database: 'db' });
  });

  it('keeps percent-encoded credentials as written, so pg decodes them as it would a single-host URL', () => {
    const sut = parseHosts('postgresql://app%40corp:p%40ss%3Aw%2Fo%23rd%25@h1:5432,h2:5433/db%20one');
    const url = sut.url(sut.hosts[1]);
    expect(url).toBe('postgresql://app%40corp:p%40ss%3Aw%2Fo%23rd%25@h2:5433/db%20one');
    expect(pgSees(url)).toEqual({
      user: 'app@corp',
      password: 'p@ss:w/o#rd%',
      host: 'h2',
      port: 5433,
      database: 'db one',
      options: undefined,
    });
  });

  it('keeps every other query parameter verbatim and drops target_session_attrs', () => {
    const sut = parseHosts(
      'postgresql://u@h1,h2/db?sslmode=disable&target_session_attrs=primary&options=-c%20search_path%3Dapp&pgbouncer=true',
    );
    const url = sut.url(sut.hosts[0]);
    expect(url).toBe('postgresql://u@h1:5432/db?sslmode=disable&options=-c%20search_path%3Dapp&pgbouncer=true');
    expect(pgSees(url).options).toBe('-c search_path=app');
    expect(url).not.toContain('target_session_attrs');
    expect(parseHosts('postgresql://h1,h2/db?target_session_attrs=standby').url({ host: 'h1', port: 1 })).toBe(
      'postgresql://h1:1/db',
    );
  });

  it('works without credentials or a database', () => {
    const sut = parseHosts('postgresql://h1:1,h2:2');
    expect(sut.url(sut.hosts[1])).toBe('postgresql://h2:2');
  });

  it('carries a percent-encoded Unix socket directory through', () => {
    const sut = parseHosts('postgresql://u@%2Fvar%2Frun%2Fpostgresql,h2/db');
    expect(sut.hosts[0]).toEqual({ host: '/var/run/postgresql', port: 5432 });
    expect(pgSees(sut.url(sut.hosts[0]))).toMatchObject({ host: '/var/run/postgresql', port: 5432, database: 'db' });
  });

  it.each([
    ['not a postgres URL', 'mysql://h1,h2/db', /postgres:\/\/ or postgresql:\/\//],
    ['a keyword/value string', 'host=h1,h2 dbname=db', /postgres:\/\/ or postgresql:\/\//],
    ['no host', 'postgresql:///db', /names no host/],
    ['an empty host in the list', 'postgresql://h1,,h2/db', /host 2 is empty/],
    ['a port out of range', 'postgresql://h1:70000/db', /host 1 has an invalid port/],
    ['a port that is not a number', 'postgresql://h1:5432,h2:abc/db', /host 2 has an invalid port/],
    ['an unbracketed IPv6 address', 'postgresql://::1:5432/db', /IPv6.*brackets/],
    ['an unclosed bracket', 'postgresql://[::1:5432/db', /unclosed \[/],
    ['text after the bracket', 'postgresql://[::1]x/db', /not :port/],
    [
      'an unknown target_session_attrs',
      'postgresql://h1,h2/db?target_session_attrs=master',
      /must be one of .*got "master"/,
    ],
    ['a host query parameter', 'postgresql://u@h1/db?host=/tmp', /host query parameter is not supported/],
    ['a port query parameter', 'postgresql://u@h1,h2/db?port=5433', /port query parameter is not supported/],
    ['bad percent-encoding in a host', 'postgresql://h%zz,h2/db', /malformed percent-encoding/],
  ])('rejects %s', (_case, url, message) => {
    expect(() => parseHosts(url)).toThrow(message);
  });

  it.each([
    ['a bad port', 'postgresql://u:s3cret-pw@h1,h2:nope/db'],
    ['an unencoded / in the password, which puts part of it where the host goes', 'postgresql://u:s3cret/pw@h1/db'],
  ])('never repeats the password in an error (%s)', (_case, url) => {
    let message = '';
    try {
      parseHosts(url);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).not.toBe('');
    expect(message).not.toMatch(/s3c|ret|pw/);
  });
});

describe(isMultiHost.name, () => {
  it.each([
    ['postgresql://u:p@h1:5432,h2:5433/db', true],
    ['postgres://[::1],[::2]/db', true],
    ['postgresql://u:p@h1:5432/db?target_session_attrs=read-write', false],
    ['postgresql://u:p%2Cq@h1/db', false],
    ['postgresql://u@h1/db?application_name=a,b', false],
    ['not a url, with, commas', false],
  ])('%s → %s', (url, expected) => {
    expect(isMultiHost(url)).toBe(expected);
  });
});

describe(withMultiHost.name, () => {
  it('returns a single-host config untouched', () => {
    const config = { connectionString: 'postgresql://u@h1/db', max: 3 };
    expect(withMultiHost(config)).toBe(config);
    const anyTarget = { connectionString: 'postgresql://u@h1/db?target_session_attrs=any' };
    expect(withMultiHost(anyTarget)).toBe(anyTarget);
  });

  it('swaps in a multi-host subclass of the given Client and hands pg a single-host URL', () => {
    class Custom extends pg.Client {}
    const sut = withMultiHost({
      connectionString: 'postgresql://u@h1:1,h2:2/db?target_session_attrs=read-write',
      max: 3,
      Client: Custom as never,
    });
    expect(sut.connectionString).toBe('postgresql://u@h1:1/db');
    expect(sut.max).toBe(3);
    const client = new (sut.Client as unknown as typeof pg.Client)(sut);
    expect(client).toBeInstanceOf(Custom);
    expect(client.host).toBe('h1');
  });

  it('wraps a single host that asks for a role', () => {
    const sut = withMultiHost({ connectionString: 'postgresql://u@h1/db?target_session_attrs=primary' });
    expect(sut.Client).toBeDefined();
    expect(sut.connectionString).toBe('postgresql://u@h1:5432/db');
  });

  it('keeps a password given in the config hidden, as pg-pool does', () => {
    const config: pg.PoolConfig = { connectionString: 'postgresql://u@h1,h2/db' };
    Object.defineProperty(config, 'password', { value: 'pw', enumerable: false, writable: true, configurable: true });
    const sut = withMultiHost(config);
    expect(sut.password).toBe('pw');
    expect(Object.keys(sut)).not.toContain('password');
  });
});

describe(multiHostClient.name, () => {
  it('parses the hosts from the connection string it is built with, so pg never sees the list', () => {
    const Sut = multiHostClient(pg.Client);
    const client = new Sut('postgresql://u@h1:6001,h2:6002/db?target_session_attrs=read-write');
    expect(client).toBeInstanceOf(pg.Client);
    expect([client.host, client.port, client.database]).toEqual(['h1', 6001, 'db']);
  });
});
