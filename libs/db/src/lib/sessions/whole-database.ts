import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';
import { readMigrations } from '../migrations';
import { pgSessionClient } from '../connection/pg-adapter';

/**
 * Sessions on a whole database, outside the request path: a dedicated connection with fixed output settings,
 * catalog queries, COPY in and out, and the embedded database's differences (PGlite serves COPY TO STDOUT over
 * its socket but not COPY FROM STDIN: insertLoader does that part). Backup, restore and the importer use these;
 * they work on every table of schema public, not on one aggregate, which is why they are not a repository.
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

/** A dedicated connection (not from a pool) with SESSION_SETTINGS, for work on the whole database. */
export async function connectWholeDatabase(url: string, applicationName: string): Promise<pg.Client> {
  const client = pgSessionClient(url, { application_name: applicationName });
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

/** The migrations applied to the database of `client`, by name in order (readMigrations). */
export async function appliedMigrations(client: pg.Client): Promise<string[]> {
  return (await readMigrations(async (sql) => (await client.query(sql)).rows)).applied;
}

/** PGlite (the embedded database) serves COPY TO STDOUT over its socket, but not COPY FROM STDIN: `pglite` says which. */
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
  /**
   * Gives up on the table (the backup turned out bad while it was loading): a pending write rejects, and once
   * this resolves the connection is free for the caller's ROLLBACK. Safe to call at any point, and twice.
   */
  abort(error: Error): Promise<void>;
}

/**
 * COPY FROM STDIN: what PostgreSQL offers for bulk loads, in its text format (a backup's tables) or as CSV
 * (`csv`: the importer's rows). Not on the embedded database (serverInfo's `pglite`): insertLoader there.
 */
export function copyLoader(client: pg.Client, table: string, columns: string[], options: { freeze?: boolean; csv?: boolean } = {}): TableLoader {
  const withOptions = [options.csv ? 'format csv' : null, options.freeze ? 'freeze' : null].filter(Boolean);
  const sql = `copy ${ident(table)} (${columns.map(ident).join(', ')}) from stdin${withOptions.length ? ` with (${withOptions.join(', ')})` : ''}`;
  const stream = client.query(copyFrom(sql)) as Writable & {
    rowCount?: number;
  };
  let failure: Error | null = null;
  stream.on('error', (e) => (failure ??= e));
  const closed = new Promise<void>((resolve) => stream.once('close', resolve));
  return {
    async write(chunk) {
      if (failure || stream.destroyed) throw failure ?? new Error(`COPY into ${table} was stopped`);
      if (!stream.write(chunk)) {
        // Wait for drain, but also wake up when the stream dies: a destroyed stream never drains.
        await new Promise<void>((resolve, reject) => {
          const settle = (error?: Error) => {
            stream.off('drain', onDrain);
            stream.off('close', onClose);
            if (error) reject(error);
            else resolve();
          };
          const onDrain = () => settle();
          const onClose = () => settle(failure ?? new Error(`COPY into ${table} was stopped`));
          stream.once('drain', onDrain);
          stream.once('close', onClose);
        });
      }
    },
    async end() {
      if (failure) throw failure;
      stream.end();
      await finished(stream);
      return stream.rowCount ?? 0;
    },
    async abort(error) {
      // The COPY must be ended one way or the other before anything else can run on this connection: pg queues
      // a ROLLBACK behind the active COPY, and a COPY nobody finishes keeps the server waiting for data forever.
      // destroy() makes pg-copy-streams send CopyFail (after CopyInResponse if that has not come yet); the server
      // answers with an error, which fails the transaction and ends the query, and then the stream closes.
      if (!stream.destroyed) stream.destroy(error);
      await closed;
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
  let aborted: Error | null = null;
  let inflight: Promise<unknown> = Promise.resolve();
  const flush = async () => {
    if (!batchRows) return;
    const query = client.query(sql, batch);
    inflight = query.catch(() => undefined);
    const result = await query;
    total += result.rowCount ?? 0;
    batch = columns.map(() => []);
    batchRows = 0;
  };
  return {
    async write(chunk) {
      if (aborted) throw aborted;
      for (const row of parser.push(chunk)) {
        row.forEach((v, i) => batch[i].push(v));
        if (++batchRows >= BATCH_ROWS) await flush();
      }
    },
    async end() {
      if (aborted) throw aborted;
      parser.end();
      await flush();
      return total;
    },
    async abort(error) {
      // Plain INSERTs: nothing to cancel, only wait for the batch in flight so the connection is idle.
      aborted ??= error;
      await inflight;
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

/**
 * Tables of schema public with user triggers (not the internal ones that enforce foreign keys). A restore loads
 * rows as they were, derived rows included (e.g. usage_rollup_deltas, which insert triggers on messages write):
 * letting those triggers fire again would duplicate them. pg_restore avoids this by creating triggers after the
 * data; the schema here comes from migrations first, so the restore switches them off inside its transaction.
 */
export async function tablesWithUserTriggers(client: pg.Client): Promise<string[]> {
  const { rows } = await client.query<{ name: string }>(
    `select distinct c.relname as name from pg_trigger t join pg_class c on c.oid = t.tgrelid
      where c.relnamespace = 'public'::regnamespace and not t.tgisinternal order by 1`,
  );
  return rows.map((r) => r.name);
}

/** `ALTER TABLE … DISABLE/ENABLE TRIGGER USER` (owner rights, unlike session_replication_role which needs superuser). */
export async function setUserTriggers(client: pg.Client, tables: string[], enabled: boolean): Promise<void> {
  for (const t of tables) await client.query(`alter table ${ident(t)} ${enabled ? 'enable' : 'disable'} trigger user`);
}

/**
 * What pg_restore does for speed, inside the restore's transaction: drop the foreign keys and the secondary
 * indexes (not those behind primary-key / unique constraints) before the load, and re-create them after it —
 * one index build and one validating join per constraint instead of per-row index maintenance and per-row
 * foreign-key checks (measured: most of a restore's time on 200,000 messages). DDL is transactional, so a failed
 * restore rolls this back with the rest; the definitions come from the catalog, so they are exactly what the
 * migrations created.
 */
export async function deferIndexesAndForeignKeys(client: pg.Client): Promise<{ indexes: number; foreignKeys: number; recreate(): Promise<void> }> {
  const fks = await client.query<{ tbl: string; name: string; def: string }>(
    `select conrelid::regclass::text as tbl, quote_ident(conname) as name, pg_get_constraintdef(oid) as def
       from pg_constraint where contype = 'f' and connamespace = 'public'::regnamespace order by conrelid, conname`,
  );
  const indexes = await client.query<{ name: string; def: string }>(
    `select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def
       from pg_index i join pg_class t on t.oid = i.indrelid
      where t.relnamespace = 'public'::regnamespace and t.relname <> all($1::text[])
        and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid)
      order by 1`,
    [EXCLUDED_TABLES],
  );
  for (const fk of fks.rows) await client.query(`alter table ${fk.tbl} drop constraint ${fk.name}`);
  for (const ix of indexes.rows) await client.query(`drop index ${ix.name}`);
  return {
    indexes: indexes.rowCount ?? 0,
    foreignKeys: fks.rowCount ?? 0,
    async recreate() {
      await client.query(`set local maintenance_work_mem = '256MB'`);
      for (const ix of indexes.rows) await client.query(ix.def);
      for (const fk of fks.rows) await client.query(`alter table ${fk.tbl} add constraint ${fk.name} ${fk.def}`);
    },
  };
}
