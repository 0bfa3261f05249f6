import pg from 'pg';

/**
 * Workaround for prisma/orm#27403: `@prisma/adapter-pg` has no mapping for the catalog column types
 * `name` (oid 19) and `"char"` (oid 18), so the JavaScript schema engine's introspection queries over
 * pg_catalog fail with "Column type 'name' could not be deserialized". Both types arrive from PostgreSQL
 * as plain text, so this client reports them to the adapter as `text` (oid 25); values are unchanged.
 *
 * Remove once the adapter maps those oids itself (test: catalog-types.shim.int-spec.ts).
 */
export const CATALOG_TEXT_OIDS: ReadonlySet<number> = new Set([18, 19]);
const TEXT_OID = 25;

export function reportCatalogTypesAsText<T extends { fields?: Array<{ dataTypeID: number }> }>(result: T): T {
  for (const field of result?.fields ?? []) {
    if (CATALOG_TEXT_OIDS.has(field.dataTypeID)) field.dataTypeID = TEXT_OID;
  }
  return result;
}

/**
 * A `pg.Client` whose query results never carry the catalog oids the adapter cannot map; pass it as the
 * pool's `Client`. The adapter queries a client directly (promise form) or through `pg.Pool#query`, which
 * calls the client with a trailing callback, so both forms are covered.
 */
export class CatalogTypesAsTextClient extends pg.Client {
  // pg's overloads (callback, promise, submittable) make a typed override impractical.
  override query(...args: unknown[]): any {
    const last = args.length - 1;
    if (typeof args[last] === 'function') {
      const callback = args[last] as (err: Error | null, res?: pg.QueryResult) => void;
      args[last] = (err: Error | null, res?: pg.QueryResult) => callback(err, res && reportCatalogTypesAsText(res));
    }
    const result = (pg.Client.prototype.query as (...a: unknown[]) => unknown).apply(this, args);
    return result instanceof Promise ? result.then(reportCatalogTypesAsText) : result;
  }
}
