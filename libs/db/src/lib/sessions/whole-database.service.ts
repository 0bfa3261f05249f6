import { Inject, Injectable } from '@nestjs/common';
import { PrismaService } from '../prisma.service';
import { appliedMigrations, connectWholeDatabase, copyOut, copyOutSql, listTables, serverInfo, type TableInfo } from './whole-database';

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
