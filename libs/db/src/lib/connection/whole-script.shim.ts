import { PrismaPg } from '@prisma/adapter-pg';
import type pg from 'pg';

/**
 * Workaround: `@prisma/adapter-pg` 6.19 runs a migration script by splitting it on every `;`
 * (`PrismaPgAdapter.executeScript`: `script.split(";")`), so a migration with a `DO $$ … $$` block, a function
 * body or a `;` inside a string or comment is cut into broken fragments ("unterminated dollar-quoted string").
 * PostgreSQL itself parses a multi-statement script sent as one simple query, with dollar quoting and all, and
 * runs it as one implicit transaction: a migration then applies completely or not at all. Used by the Prisma
 * CLI's adapter only (migrate deploy/reset/diff); tested in whole-script.shim.int-spec.ts.
 */
export class WholeScriptPrismaPg extends PrismaPg {
  override async connect(): ReturnType<PrismaPg['connect']> {
    const adapter = await super.connect();
    const queryable = adapter as unknown as { client: pg.Pool; onError(error: unknown): never };
    adapter.executeScript = async (script: string) => {
      try {
        await queryable.client.query(script);
      } catch (error) {
        queryable.onError(error);
      }
    };
    return adapter;
  }
}
