import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';

/**
 * Catalog queries and COPY plumbing shared by backup, restore and the benchmark. They work on whole databases
 * (every table of schema public), not on one aggregate, which is why they live here and not in a repository.
 */
export const EXCLUDED_TABLES = ['_prisma_migrations'];

/**
 * Session settings that make COPY's text output a function of the data alone (time zone, date style, float
 * digits), so the checksum of a table is the same on the source and on the restored copy.
 */
export const SESSION_SETTINGS = [
  `set time zone 'UTC'`,
  `set datestyle = 'ISO, YMD'`,
  `set intervalstyle = 'postgres'`,
  `set extra_float_digits = 1`,
  `set bytea_output = 'hex'`,
  `set client_encoding = 'UTF8'`,
  `set statement_timeout = 0`,
  `set lock_timeout = 0`,
  `set idle_in_transaction_session_timeout = 0`,
];

export async function connect(url: string, applicationName: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: applicationName });
  // A dropped connection must surface as a failed query, not an unhandled 'error' event that ends the process.
  client.on('error', () => undefined);
  await client.connect();
  for (const sql of SESSION_SETTINGS) await client.query(sql);
  return client;
}

export interface TableInfo {
  name: string;
  columns: Array<{ name: string; type: string }>;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
export const quoteIdent = ident;

/** Tables of schema public, parents before children (foreign keys), and their stored (non-generated) columns. */
export async function listTables(client: pg.Client): Promise<TableInfo[]> {
  const tables = await client.query<{ name: string }>(
    `select c.relname as name from pg_class c
      where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and not c.relispartition
        and c.relname <> all($1::text[])
      order by c.relname`,
    [EXCLUDED_TABLES],
  );
  const columns = await client.query<{ table: string; name: string; type: string }>(
    `select c.relname as table, a.attname as name, format_type(a.atttypid, a.atttypmod) as type
       from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relnamespace = 'public'::regnamespace and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped
        and a.attgenerated = ''
      order by c.relname, a.attnum`,
  );
  const edges = await client.query<{ child: string; parent: string }>(
    `select ch.relname as child, pa.relname as parent
       from pg_constraint k join pg_class ch on ch.oid = k.conrelid join pg_class pa on pa.oid = k.confrelid
      where k.contype = 'f' and k.connamespace = 'public'::regnamespace`,
  );
  const byTable = new Map<string, TableInfo>(tables.rows.map((t) => [t.name, { name: t.name, columns: [] }]));
  for (const c of columns.rows) byTable.get(c.table)?.columns.push({ name: c.name, type: c.type });
  const parents = new Map<string, Set<string>>([...byTable.keys()].map((t) => [t, new Set<string>()]));
  for (const e of edges.rows) if (e.child !== e.parent && byTable.has(e.parent)) parents.get(e.child)?.add(e.parent);
  // Kahn's algorithm, alphabetical among equals so the order is stable. A cycle (none in this schema) leaves
  // its tables to the end in name order; restoring such rows would need deferrable constraints.
  const ordered: TableInfo[] = [];
  const done = new Set<string>();
  while (done.size < byTable.size) {
    const ready = [...byTable.keys()].filter((t) => !done.has(t) && [...parents.get(t)!].every((p) => done.has(p)));
    const next = ready.length ? ready : [...byTable.keys()].filter((t) => !done.has(t));
    for (const t of next) {
      done.add(t);
      ordered.push(byTable.get(t)!);
    }
  }
  return ordered;
}

export async function appliedMigrations(client: pg.Client): Promise<string[]> {
  const exists = await client.query<{ t: string | null }>(`select to_regclass('public._prisma_migrations')::text as t`);
  if (!exists.rows[0]?.t) return [];
  const rows = await client.query<{ name: string }>(
    `select migration_name as name from _prisma_migrations
      where finished_at is not null and rolled_back_at is null order by migration_name`,
  );
  return rows.rows.map((r) => r.name);
}

/** PGlite (the embedded database) serves COPY TO STDOUT over its socket, but not COPY FROM STDIN. */
export async function serverInfo(client: pg.Client): Promise<{ version: string; pglite: boolean }> {
  const { rows } = await client.query<{ v: string }>(`select version() as v`);
  const version = rows[0].v;
  return { version: version.split(' on ')[0], pglite: /PGlite/i.test(version) };
}

export function copyOutSql(table: TableInfo | { name: string; columns: string[] }): string {
  const cols = table.columns.map((c) => ident(typeof c === 'string' ? c : c.name)).join(', ');
  return `copy ${ident(table.name)} (${cols}) to stdout`;
}

export function copyOut(client: pg.Client, sql: string): NodeJS.ReadableStream & { rowCount?: number } {
  return client.query(copyTo(sql)) as unknown as NodeJS.ReadableStream & { rowCount?: number };
}

/** Where a table's COPY text goes during a restore. */
export interface TableLoader {
  write(chunk: Buffer): Promise<void>;
  /** Ends the table; resolves to the rows the server accepted. */
  end(): Promise<number>;
}

/** COPY FROM STDIN: what PostgreSQL offers for bulk loads. */
export function copyLoader(client: pg.Client, table: string, columns: string[]): TableLoader {
  const stream = client.query(copyFrom(`copy ${ident(table)} (${columns.map(ident).join(', ')}) from stdin`)) as Writable & {
    rowCount?: number;
  };
  let failure: Error | null = null;
  stream.on('error', (e) => (failure = e));
  return {
    async write(chunk) {
      if (failure) throw failure;
      if (!stream.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = () => (stream.off('error', onError), resolve());
          const onError = (e: Error) => (stream.off('drain', onDrain), reject(e));
          stream.once('drain', onDrain);
          stream.once('error', onError);
        });
      }
    },
    async end() {
      if (failure) throw failure;
      stream.end();
      await finished(stream);
      return stream.rowCount ?? 0;
    },
  };
}

/**
 * The embedded database's loader: PGlite's socket server drops the connection on COPY FROM STDIN (protocol
 * synchronization lost, @electric-sql/pglite-socket 0.2), so there the COPY text is parsed here and inserted in
 * batches of `insert … select … from unnest($n::text[])`, each value cast from its text form, which is exactly
 * what COPY would have done.
 */
export function insertLoader(client: pg.Client, table: string, columns: Array<{ name: string; type: string }>): TableLoader {
  const BATCH_ROWS = 500;
  const parser = new CopyTextParser(columns.length);
  let batch: Array<Array<string | null>> = columns.map(() => []);
  let batchRows = 0;
  let total = 0;
  const sql =
    `insert into ${ident(table)} (${columns.map((c) => ident(c.name)).join(', ')}) overriding system value ` +
    `select ${columns.map((c, i) => `c${i}::${c.type}`).join(', ')} from unnest(${columns.map((_, i) => `$${i + 1}::text[]`).join(', ')}) ` +
    `as u(${columns.map((_, i) => `c${i}`).join(', ')})`;
  const flush = async () => {
    if (!batchRows) return;
    const result = await client.query(sql, batch);
    total += result.rowCount ?? 0;
    batch = columns.map(() => []);
    batchRows = 0;
  };
  return {
    async write(chunk) {
      for (const row of parser.push(chunk)) {
        row.forEach((v, i) => batch[i].push(v));
        if (++batchRows >= BATCH_ROWS) await flush();
      }
    },
    async end() {
      parser.end();
      await flush();
      return total;
    },
  };
}

/** Parses PostgreSQL's COPY text format (tab-separated, \N for null, backslash escapes). */
export class CopyTextParser {
  private rest = '';
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  constructor(private readonly columns: number) {}

  push(chunk: Buffer): Array<Array<string | null>> {
    const text = this.rest + this.decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    this.rest = lines.pop()!;
    return lines.map((line) => this.row(line));
  }

  end(): void {
    const tail = this.rest + this.decoder.decode();
    if (tail.length) throw new Error('COPY data does not end with a newline (truncated row)');
  }

  private row(line: string): Array<string | null> {
    const fields = line.split('\t');
    if (fields.length !== this.columns) throw new Error(`COPY row has ${fields.length} fields, expected ${this.columns}`);
    return fields.map((f) => (f === '\\N' ? null : f.includes('\\') ? unescapeCopy(f) : f));
  }
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
export function unescapeCopy(field: string): string {
  return field.replace(/\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === 'x' && e.length > 1) return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    return ESCAPES[e] ?? e;
  });
}

/** After a load: sequences owned by columns continue after the highest restored value. */
export async function resetSequences(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ seq: string; tbl: string; col: string }>(
    `select s.oid::regclass::text as seq, t.relname as tbl, a.attname as col
       from pg_class s
       join pg_depend d on d.objid = s.oid and d.deptype in ('a', 'i')
       join pg_class t on t.oid = d.refobjid
       join pg_attribute a on a.attrelid = t.oid and a.attnum = d.refobjsubid
      where s.relkind = 'S' and t.relnamespace = 'public'::regnamespace`,
  );
  for (const r of rows) {
    await client.query(
      `select setval($1::regclass, coalesce((select max(${ident(r.col)}) from ${ident(r.tbl)}), 0) + 1, false)`,
      [r.seq],
    );
  }
  return rows.length;
}
