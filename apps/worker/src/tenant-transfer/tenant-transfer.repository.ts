import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { readMigrations, type Db } from '@agenthub/db';
import { TENANT_TABLES, type TableDigest, type TenantTable } from './tenant-format';

const PAGE = 2000;

/**
 * The SQL of tenant export/import: every tenant-owned table read as PostgreSQL's own JSON text of each row, and
 * written back with jsonb_populate_recordset, which parses each value with the column type's input function
 * (numeric digits, vector text, timestamps, arrays) — nothing passes through a JavaScript number. It touches
 * every table, which is why it is not split over the repositories that own them; the caller's transaction
 * (REPEATABLE READ for export) makes the read a consistent snapshot.
 */
@Injectable()
export class TenantTransferRepository {
  /** Output settings that make row text identical on every server (see FORMAT.md). */
  async prepareSession(tx: Db): Promise<void> {
    await tx.$executeRawUnsafe(`SET LOCAL TimeZone = 'UTC'`);
    await tx.$executeRawUnsafe(`SET LOCAL extra_float_digits = 1`);
  }

  /** The database's schema version: its last applied migration (readMigrations, libs/db). */
  async schemaVersion(tx: Db): Promise<string> {
    const { applied } = await readMigrations((sql) => tx.$queryRawUnsafe<unknown[]>(sql));
    if (!applied.length) throw new Error('the database has no migrations applied (run the migrations first, or pass --migrate)');
    return applied[applied.length - 1];
  }

  async organization(tx: Db, organizationId: string): Promise<{ id: string; name: string } | null> {
    const rows = await tx.$queryRaw<Array<{ id: string; name: string }>>`
      SELECT id::text, name FROM organizations WHERE id = ${organizationId}::uuid`;
    return rows[0] ?? null;
  }

  /** The rows of one table for the organization, as JSON text, in a fixed order, a page at a time. */
  async *rows(tx: Db, table: TenantTable, organizationId: string): AsyncGenerator<string[]> {
    const cursor = `tenant_${table.name}`;
    // Generated columns (the tsvectors) are derived data: the target computes them again.
    const generated = await this.generatedColumns(tx, table.name);
    const drop = generated.map((c) => ` - '${c}'`).join('');
    await tx.$executeRawUnsafe(
      `DECLARE ${cursor} NO SCROLL CURSOR FOR
         SELECT (to_jsonb(t)${drop})::text AS line FROM "${table.name}" t WHERE t."${table.scope}" = $1::uuid ORDER BY ${table.orderBy}`,
      organizationId,
    );
    try {
      for (;;) {
        const page = await tx.$queryRawUnsafe<Array<{ line: string }>>(`FETCH ${PAGE} FROM ${cursor}`);
        if (!page.length) break;
        yield page.map((r) => r.line);
        if (page.length < PAGE) break;
      }
    } finally {
      await tx.$executeRawUnsafe(`CLOSE ${cursor}`);
    }
  }

  /** Count and digest of what the database holds for the organization, computed exactly as the export does. */
  async digests(tx: Db, organizationId: string): Promise<Record<string, TableDigest>> {
    const out: Record<string, TableDigest> = {};
    for (const table of TENANT_TABLES) {
      const hash = createHash('sha256');
      let count = 0;
      for await (const page of this.rows(tx, table, organizationId)) {
        for (const line of page) hash.update(`${line}\n`, 'utf8');
        count += page.length;
      }
      out[table.name] = { count, sha256: hash.digest('hex') };
    }
    return out;
  }

  async insertRows(tx: Db, table: string, rows: string[]): Promise<void> {
    if (!rows.length) return;
    const columns = (await this.insertableColumns(tx, table)).map((c) => `"${c}"`).join(', ');
    await tx.$executeRawUnsafe(
      `INSERT INTO "${table}" (${columns}) SELECT ${columns} FROM jsonb_populate_recordset(NULL::"${table}", $1::jsonb)`,
      `[${rows.join(',')}]`,
    );
    // Rows came with their serial values (langgraph_store_items.seq, the store's insertion order): move each such
    // sequence past them, or the target's next row would be numbered before the imported ones.
    for (const sequence of await this.serialSequences(tx, table)) {
      await tx.$executeRawUnsafe(
        `SELECT setval($1::regclass, greatest((SELECT coalesce(max("${sequence.column}"), 0) FROM "${table}"), (SELECT last_value FROM ${sequence.name})))`,
        sequence.name,
      );
    }
  }

  private async serialSequences(tx: Db, table: string): Promise<Array<{ column: string; name: string }>> {
    const rows = await tx.$queryRaw<Array<{ column: string; name: string | null }>>`
      SELECT column_name AS column, pg_get_serial_sequence(quote_ident(table_name), column_name) AS name
        FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ${table}`;
    return rows.filter((r): r is { column: string; name: string } => r.name !== null);
  }

  /** Removes the organization and everything it owns (conversations first: they RESTRICT agent deletion). */
  async deleteOrganization(tx: Db, organizationId: string): Promise<void> {
    await tx.$executeRaw`DELETE FROM conversations WHERE organization_id = ${organizationId}::uuid`;
    await tx.$executeRaw`DELETE FROM organizations WHERE id = ${organizationId}::uuid`;
  }

  private readonly columnCache = new Map<string, string[]>();

  private async insertableColumns(tx: Db, table: string): Promise<string[]> {
    let cols = this.columnCache.get(table);
    if (!cols) {
      const rows = await tx.$queryRaw<Array<{ c: string }>>`
        SELECT column_name AS c FROM information_schema.columns
         WHERE table_schema = current_schema() AND table_name = ${table} AND is_generated = 'NEVER'
         ORDER BY ordinal_position`;
      cols = rows.map((r) => r.c);
      this.columnCache.set(table, cols);
    }
    return cols;
  }

  private async generatedColumns(tx: Db, table: string): Promise<string[]> {
    const rows = await tx.$queryRaw<Array<{ c: string }>>`
      SELECT column_name AS c FROM information_schema.columns
       WHERE table_schema = current_schema() AND table_name = ${table} AND is_generated <> 'NEVER'`;
    return rows.map((r) => r.c);
  }
}
