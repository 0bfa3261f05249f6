import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { applyMigrations } from '../migrations';
import { sessionUrl } from '../connection/database-config';
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
  /** the server's version, and whether it is the embedded PGlite (asked once per session) */
  server(): Promise<{ version: string; pglite: boolean }>;
  /** tables of schema public, parents before children, with their stored columns */
  tables(): Promise<TableInfo[]>;
  /** a table's rows as COPY text, in chunks (these columns, or the table's stored ones) */
  copyOut(table: TableInfo | { name: string; columns: string[] }): AsyncIterable<Buffer>;
  /** ends the session's transaction */
  commit(): Promise<void>;
  /** ends the session (without ROLLBACK: after a failure mid-table a COPY TO may still be open, and pg would queue it) */
  end(): Promise<void>;
}

/**
 * A database being loaded as a whole (a restore): one dedicated connection, one transaction for the load, and the
 * snapshot's reads on it (to check the schema before and verify the tables after).
 */
export interface LoadSession extends DatabaseSnapshot {
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
  /** one statement of the caller's, in the load's transaction */
  run(statement: { text: string; values: unknown[] }): Promise<void>;
  rollback(): Promise<void>;
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

  /** The configured database's URL (the default target of a restore), directly when DATABASE_URL is a pooler. */
  get url(): string {
    return sessionUrl(this.prisma.target);
  }

  /** Applies pending migrations to the database at `url` (prisma migrate deploy). */
  migrate(url: string): Promise<void> {
    return applyMigrations({ url }, { quiet: true });
  }

  async load(url: string, applicationName: string): Promise<LoadSession> {
    const client = await connectWholeDatabase(url, applicationName);
    const reads = readsOf(client);
    return {
      ...reads,
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
        return (await reads.server()).pglite
          ? insertLoader(client, table.name, columns.map((c) => table.columns.find((h) => h.name === c)!))
          : copyLoader(client, table.name, columns, { freeze: true });
      },
      run: async (statement) => void (await client.query(statement.text, statement.values)),
      rollback: async () => void (await client.query('rollback').catch(() => undefined)),
    };
  }

  async snapshot(applicationName: string): Promise<DatabaseSnapshot> {
    const client = await connectWholeDatabase(sessionUrl(this.prisma.target), applicationName);
    try {
      await client.query('begin isolation level repeatable read read only');
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return readsOf(client);
  }
}

/** What a snapshot and a load both do on their connection: read the catalog and tables, commit, end. */
function readsOf(client: pg.Client): DatabaseSnapshot {
  let server: Promise<{ version: string; pglite: boolean }> | undefined;
  return {
    migrations: () => appliedMigrations(client),
    server: () => (server ??= serverInfo(client)),
    tables: () => listTables(client),
    copyOut: (table) => copyOut(client, copyOutSql(table)) as AsyncIterable<Buffer>,
    commit: async () => void (await client.query('commit')),
    end: () => client.end().catch(() => undefined),
  };
}
