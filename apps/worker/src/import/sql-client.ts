import pg from 'pg';
import { copyLoader, guardCheckedOut, pgPoolConfig, serverInfo, type Prisma, type PrismaService } from '@agenthub/db';

/**
 * The importer's connection: plain `pg` on the same database as PrismaService, because a batch must be one
 * transaction holding the run's checkpoint AND a COPY of its messages, and COPY FROM STDIN is not something
 * Prisma can issue. Statements are written with `Prisma.sql` (parameterised) and run here by their `.text`.
 */
export interface SqlClient {
  query<T = unknown>(sql: Prisma.Sql): Promise<T[]>;
  /**
   * COPY … FROM STDIN (CSV lines, streamed in chunks so the server parses while the rest is rendered); null when
   * the database cannot take it (the embedded one), so callers INSERT instead.
   */
  copy: ((table: string, columns: readonly string[], lines: Iterable<string>) => Promise<void>) | null;
}

export class ImportConnection {
  private readonly pool: pg.Pool;
  /** whether the server takes COPY FROM STDIN (not the embedded one: serverInfo), asked once */
  private copyIn: Promise<boolean> | null = null;

  constructor(private readonly prisma: PrismaService) {
    this.pool = new pg.Pool(pgPoolConfig(prisma.target.url, { max: 2, applicationName: 'agenthub-import', allowExitOnIdle: true }));
    // An idle connection lost between batches is an 'error' on the pool: dropped; the next batch reconnects.
    this.pool.on('error', () => undefined);
  }

  /** Runs `fn` in one transaction; `rollback` ends it with ROLLBACK even on success (dry runs). */
  async transaction<T>(fn: (c: SqlClient) => Promise<T>, options: { rollback?: boolean } = {}): Promise<T> {
    const client = await this.pool.connect();
    const guard = guardCheckedOut(client);
    let broken = false;
    try {
      await client.query('BEGIN');
      // A batch and its checkpoint commit together, so losing the last few commits in a server crash only means
      // the import resumes a little earlier: the WAL flush at every commit is not needed for correctness.
      await client.query('SET LOCAL synchronous_commit = off');
      const result = await fn(await this.wrap(client));
      await client.query(options.rollback ? 'ROLLBACK' : 'COMMIT');
      return result;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw e;
    } finally {
      const lost = guard.done();
      client.release(lost ?? broken);
    }
  }

  /** Statements outside a transaction (verification after the run). */
  async run<T>(fn: (c: SqlClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const guard = guardCheckedOut(client);
    try {
      return await fn(await this.wrap(client));
    } finally {
      client.release(guard.done());
    }
  }

  private async wrap(client: pg.PoolClient): Promise<SqlClient> {
    // Asked once per run; a failed question is asked again by the next transaction, not remembered.
    this.copyIn ??= serverInfo(client).then(
      (info) => !info.pglite,
      (error: unknown) => {
        this.copyIn = null;
        throw error;
      },
    );
    return {
      query: async <T>(sql: Prisma.Sql) => (await client.query(sql.text, sql.values as unknown[])).rows as T[],
      // The whole-database COPY plumbing (libs/db), sent in chunks so the server parses while the rest is rendered.
      copy: (await this.copyIn)
        ? async (table, columns, lines) => {
            const loader = copyLoader(client, table, [...columns], { csv: true });
            try {
              let chunk = '';
              for (const line of lines) {
                chunk += line;
                if (chunk.length >= 256 * 1024) {
                  await loader.write(Buffer.from(chunk));
                  chunk = '';
                }
              }
              if (chunk) await loader.write(Buffer.from(chunk));
              await loader.end();
            } catch (error) {
              await loader.abort(error as Error);
              throw error;
            }
          }
        : null,
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** One CSV field: NULL is an empty unquoted field, everything else quoted. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);
  return `"${s.replace(/"/g, '""')}"`;
}
