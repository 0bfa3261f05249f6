import { Inject, Injectable } from '@nestjs/common';
import { applyMigrations } from '../migrations';
import { PrismaService } from '../prisma.service';
import {
  appliedMigrations,
  connectWholeDatabase,
  copyLoader,
  copyOut,
  copyOutSql,
  deferIndexesAndForeignKeys,
  insertLoader,
  listTables,
  quoteIdent,
  resetSequences,
  serverInfo,
  setUserTriggers,
  tablesWithUserTriggers,
  type TableInfo,
  type TableLoader,
} from './whole-database';

/** One consistent, read-only view of every table (REPEATABLE READ) on a dedicated connection: what a backup reads. */
export interface DatabaseSnapshot {
  /** the migrations applied, in order; the last is the schema version */
  migrations(): Promise<string[]>;
  server(): Promise<{ version: string; pglite: boolean }>;
  /** tables of schema public, parents before children, with their stored columns */
  tables(): Promise<TableInfo[]>;
  /** a table's rows as COPY text, in chunks */
  copyOut(table: TableInfo): AsyncIterable<Buffer>;
  /** ends the read-only transaction */
  commit(): Promise<void>;
  /** ends the session (without ROLLBACK: after a failure mid-table a COPY TO may still be open, and pg would queue it) */
  end(): Promise<void>;
}

/** A database being loaded as a whole (a restore): one dedicated connection, one transaction for the load. */
export interface LoadSession {
  migrations(): Promise<string[]>;
  server(): Promise<{ version: string; pglite: boolean }>;
  tables(): Promise<TableInfo[]>;
  /** which of `tables` hold at least one row */
  tablesWithRows(tables: string[]): Promise<string[]>;
  /**
   * Opens the load's transaction and readies `tables` for it: emptied (so COPY … FREEZE applies), user triggers
   * off (they would derive again rows the load brings), secondary indexes and foreign keys dropped. `finish`
   * puts those back and moves every owned sequence past the loaded values; `commit` or `rollback` ends it all.
   */
  beginLoad(tables: string[]): Promise<{ finish(): Promise<void> }>;
  /** a table's loader: COPY FROM STDIN … FREEZE, or batched INSERTs where the server cannot take COPY in (PGlite) */
  loader(table: TableInfo, columns: string[]): Promise<TableLoader>;
  /** a table's rows as COPY text, in chunks (to verify what was loaded) */
  copyOut(table: { name: string; columns: string[] }): AsyncIterable<Buffer>;
  /** one statement of the caller's, in the load's transaction */
  run(statement: { text: string; values: unknown[] }): Promise<void>;
  commit(): Promise<void>;
  rollback(): Promise<void>;
  end(): Promise<void>;
}

/**
 * The whole-database port of the worker's services (sessions/whole-database.ts behind an injectable), so that a
 * service reaches these side effects through something a unit spec can stub, as it reaches rows through
 * repositories.
 */
@Injectable()
export class WholeDatabase {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /** The configured database: `postgres` or `embedded`. */
  get mode(): 'postgres' | 'embedded' {
    return this.prisma.target.mode;
  }

  /** The configured database's URL (the default target of a restore). */
  get url(): string {
    return this.prisma.target.url;
  }

  /** Applies pending migrations to the database at `url` (prisma migrate deploy). */
  migrate(url: string): Promise<void> {
    return applyMigrations({ url }, { quiet: true });
  }

  async load(url: string, applicationName: string): Promise<LoadSession> {
    const client = await connectWholeDatabase(url, applicationName);
    let pglite: boolean | null = null;
    const server = async () => {
      const info = await serverInfo(client);
      pglite = info.pglite;
      return info;
    };
    return {
      migrations: () => appliedMigrations(client),
      server,
      tables: () => listTables(client),
      async tablesWithRows(tables) {
        const found: string[] = [];
        for (const t of tables) if ((await client.query(`select 1 from ${quoteIdent(t)} limit 1`)).rowCount) found.push(t);
        return found;
      },
      async beginLoad(tables) {
        await client.query('begin');
        if (tables.length) await client.query(`truncate ${tables.map(quoteIdent).join(', ')} restart identity cascade`);
        const triggered = await tablesWithUserTriggers(client);
        await setUserTriggers(client, triggered, false);
        const deferred = await deferIndexesAndForeignKeys(client);
        return {
          async finish() {
            await deferred.recreate();
            await setUserTriggers(client, triggered, true);
            await resetSequences(client);
          },
        };
      },
      async loader(table, columns) {
        const embedded = pglite ?? (await server()).pglite;
        return embedded
          ? insertLoader(client, table.name, columns.map((c) => table.columns.find((h) => h.name === c)!))
          : copyLoader(client, table.name, columns, { freeze: true });
      },
      copyOut: (table) => copyOut(client, copyOutSql(table)) as AsyncIterable<Buffer>,
      run: async (statement) => void (await client.query(statement.text, statement.values)),
      commit: async () => void (await client.query('commit')),
      rollback: async () => void (await client.query('rollback').catch(() => undefined)),
      end: () => client.end().catch(() => undefined),
    };
  }

  async snapshot(applicationName: string): Promise<DatabaseSnapshot> {
    const client = await connectWholeDatabase(this.prisma.target.url, applicationName);
    try {
      await client.query('begin isolation level repeatable read read only');
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return {
      migrations: () => appliedMigrations(client),
      server: () => serverInfo(client),
      tables: () => listTables(client),
      copyOut: (table) => copyOut(client, copyOutSql(table)) as AsyncIterable<Buffer>,
      commit: async () => void (await client.query('commit')),
      end: () => client.end().catch(() => undefined),
    };
  }
}
