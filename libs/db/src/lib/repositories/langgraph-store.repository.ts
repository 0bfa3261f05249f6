import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { InvalidInputError } from '../errors';
import { PrismaService, type Db } from '../prisma.service';

/** A namespace path as stored: its labels joined by '.' (LangGraph forbids '.' in a label). */
export const NAMESPACE_SEPARATOR = '.';

export interface StoreItemRow {
  namespace: string[];
  key: string;
  value: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  /** cosine similarity of the best-matching indexed field, for a search with a query vector */
  score?: number | null;
}

/** A filter on the item's top-level fields: a value (equal as JSON) or LangGraph's operators. */
export type StoreFilter = Record<string, unknown>;

export interface StoreMatchCondition {
  matchType: 'prefix' | 'suffix';
  /** labels, `*` matching any one */
  path: string[];
}

const OPERATORS = new Set(['$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin']);
const isOperators = (v: unknown): v is Record<string, unknown> =>
  !!v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => OPERATORS.has(k));

/** A string that Number() reads as a finite number (sent as a parameter: the statement's text holds no "$"). */
const NUMERIC_TEXT = '^\\s*[-+]?(\\d+\\.?\\d*|\\.\\d+)([eE][-+]?\\d+)?\\s*$';
const NOT_EXPIRED = Prisma.sql`(i.expires_at IS NULL OR i.expires_at > now())`;
const vectorText = (v: number[]) => `[${v.join(',')}]`;

function prefixOf(namespace: string[]): string {
  for (const label of namespace) {
    if (!label || label.includes(NAMESPACE_SEPARATOR)) {
      throw new InvalidInputError(`namespace label '${label}' is empty or holds '${NAMESPACE_SEPARATOR}'`, [{ path: 'namespace', message: 'labels are non-empty and hold no period' }]);
    }
  }
  return namespace.join(NAMESPACE_SEPARATOR);
}

/**
 * The items of LangGraph stores, per organization: a JSON value under a namespace path and a key, optional
 * embeddings of chosen fields (any dimension: the store's own embedding function makes them; search ranks by exact
 * cosine similarity within the namespace prefix), and a TTL (`expires_at`, refreshed on read when asked).
 */
@Injectable()
export class LangGraphStoreRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  async get(organizationId: string, namespace: string[], key: string, refreshTtl: boolean, db: Db = this.prisma): Promise<StoreItemRow | null> {
    const prefix = prefixOf(namespace);
    const rows = await this.prisma.queryRows<StoreItemRow>(
      db,
      refreshTtl
        ? Prisma.sql`
          WITH hit AS (SELECT * FROM langgraph_store_items i WHERE i.organization_id = ${organizationId}::uuid AND i.prefix = ${prefix}::text AND i.key = ${key}::text AND ${NOT_EXPIRED}),
               refreshed AS (UPDATE langgraph_store_items t SET expires_at = now() + t.ttl_minutes * interval '1 minute'
                               FROM hit WHERE t.organization_id = hit.organization_id AND t.prefix = hit.prefix AND t.key = hit.key AND t.ttl_minutes IS NOT NULL)
          SELECT string_to_array(prefix, '.') AS namespace, key, value, created_at AS "createdAt", updated_at AS "updatedAt" FROM hit`
        : Prisma.sql`
          SELECT string_to_array(i.prefix, '.') AS namespace, i.key, i.value, i.created_at AS "createdAt", i.updated_at AS "updatedAt"
            FROM langgraph_store_items i WHERE i.organization_id = ${organizationId}::uuid AND i.prefix = ${prefix}::text AND i.key = ${key}::text AND ${NOT_EXPIRED}`,
      { prepare: true },
    );
    return rows[0] ?? null;
  }

  /**
   * Stores (or, with `value` null, deletes) an item. Its embeddings are replaced by `vectors` (none: the item is
   * found by filters only). `ttlMinutes` sets when it expires (null: never).
   */
  async put(
    organizationId: string,
    item: { namespace: string[]; key: string; value: Record<string, unknown> | null; vectors?: Array<{ field: string; embedding: number[] }>; ttlMinutes?: number | null },
    db: Db = this.prisma,
  ): Promise<void> {
    const prefix = prefixOf(item.namespace);
    if (item.value === null) {
      await this.prisma.queryRows(
        db,
        Prisma.sql`DELETE FROM langgraph_store_items WHERE organization_id = ${organizationId}::uuid AND prefix = ${prefix}::text AND key = ${item.key}::text`,
        { prepare: true },
      );
      return;
    }
    const ttl = item.ttlMinutes ?? null;
    await this.prisma.queryRows(
      db,
      Prisma.sql`
        INSERT INTO langgraph_store_items (organization_id, prefix, key, value, expires_at, ttl_minutes)
        VALUES (${organizationId}::uuid, ${prefix}::text, ${item.key}::text, ${JSON.stringify(item.value)}::jsonb,
                now() + ${ttl}::float8 * interval '1 minute', ${ttl}::float8)
        ON CONFLICT (organization_id, prefix, key)
        DO UPDATE SET value = EXCLUDED.value, updated_at = now(), expires_at = EXCLUDED.expires_at, ttl_minutes = EXCLUDED.ttl_minutes`,
      { prepare: true },
    );
    await this.prisma.queryRows(
      db,
      Prisma.sql`DELETE FROM langgraph_store_vectors WHERE organization_id = ${organizationId}::uuid AND prefix = ${prefix}::text AND key = ${item.key}::text`,
      { prepare: true },
    );
    if (item.vectors?.length) {
      const rows = item.vectors.map((v) => ({ field: v.field, embedding: vectorText(v.embedding) }));
      await this.prisma.queryRows(
        db,
        Prisma.sql`
          INSERT INTO langgraph_store_vectors (organization_id, prefix, key, field, embedding)
          SELECT ${organizationId}::uuid, ${prefix}::text, ${item.key}::text, v.field, v.embedding::vector
            FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS v(field text, embedding text)
          ON CONFLICT (organization_id, prefix, key, field) DO UPDATE SET embedding = EXCLUDED.embedding`,
        { prepare: true },
      );
    }
  }

  /**
   * Items under a namespace prefix that pass the filter: with a query vector, best cosine similarity first (items
   * without embeddings after them); without one, in insertion order grouped by namespace (namespaces in the order
   * they got their first item), as LangGraph's InMemoryStore lists them.
   */
  async search(
    organizationId: string,
    op: { namespacePrefix: string[]; filter?: StoreFilter; limit: number; offset: number; queryVector?: number[] | null; refreshTtl: boolean },
    db: Db = this.prisma,
  ): Promise<StoreItemRow[]> {
    const prefix = op.namespacePrefix.length ? prefixOf(op.namespacePrefix) : '';
    const under = prefix
      ? Prisma.sql`(i.prefix = ${prefix}::text OR starts_with(i.prefix, ${`${prefix}${NAMESPACE_SEPARATOR}`}::text))`
      : Prisma.sql`true`;
    const where: Prisma.Sql[] = [Prisma.sql`i.organization_id = ${organizationId}::uuid`, NOT_EXPIRED, under];
    for (const [field, expected] of Object.entries(op.filter ?? {})) where.push(filterSql(field, expected));
    const query = op.queryVector?.length ? vectorText(op.queryVector) : null;
    // Cosine similarity of the best field; embeddings of another dimension (an earlier model) are left out, and a
    // zero vector scores 0 (pgvector's distance is NaN there), as InMemoryStore scores it.
    const score = query
      ? Prisma.sql`(SELECT max(coalesce(nullif(1 - (v.embedding <=> ${query}::vector), 'NaN'::float8), 0)) FROM langgraph_store_vectors v
                     WHERE v.organization_id = i.organization_id AND v.prefix = i.prefix AND v.key = i.key
                       AND vector_dims(v.embedding) = vector_dims(${query}::vector))`
      : Prisma.sql`NULL::float8`;
    const rows = await this.prisma.queryRows<StoreItemRow & { prefix: string; seq?: string; namespace_seq?: string }>(
      db,
      Prisma.sql`
        WITH ns AS (
          -- each namespace's place: when it got its first item (expired ones too), computed once per namespace
          SELECT i.prefix, min(i.seq) AS first_seq FROM langgraph_store_items i
           WHERE i.organization_id = ${organizationId}::uuid AND ${under} GROUP BY i.prefix
        )
        SELECT * FROM (
          SELECT i.prefix, string_to_array(i.prefix, '.') AS namespace, i.key, i.value, i.created_at AS "createdAt", i.updated_at AS "updatedAt", ${score} AS score,
                 i.seq, ns.first_seq AS namespace_seq
            FROM langgraph_store_items i JOIN ns ON ns.prefix = i.prefix WHERE ${Prisma.join(where, ' AND ')}
        ) s
        ORDER BY ${query ? Prisma.sql`s.score DESC NULLS LAST,` : Prisma.empty} s.namespace_seq, s.seq
        LIMIT ${op.limit}::int OFFSET ${op.offset}::int`,
    );
    if (op.refreshTtl && rows.length) {
      await this.prisma.queryRows(
        db,
        Prisma.sql`
          UPDATE langgraph_store_items t SET expires_at = now() + t.ttl_minutes * interval '1 minute'
            FROM jsonb_to_recordset(${JSON.stringify(rows.map((r) => ({ prefix: r.prefix, key: r.key })))}::jsonb) AS r(prefix text, key text)
           WHERE t.organization_id = ${organizationId}::uuid AND t.prefix = r.prefix AND t.key = r.key AND t.ttl_minutes IS NOT NULL`,
      );
    }
    return rows.map(({ prefix: _prefix, seq: _seq, namespace_seq: _namespaceSeq, ...row }) => row);
  }

  /** The namespaces that hold items, matching every condition, cut to `maxDepth` labels, in order. */
  async listNamespaces(
    organizationId: string,
    op: { matchConditions?: StoreMatchCondition[]; maxDepth?: number; limit: number; offset: number },
    db: Db = this.prisma,
  ): Promise<string[][]> {
    const where: Prisma.Sql[] = [Prisma.sql`i.organization_id = ${organizationId}::uuid`, NOT_EXPIRED];
    for (const condition of op.matchConditions ?? []) {
      const n = condition.path.length;
      if (!n) continue;
      const labels = condition.path.map((label, i) => {
        if (label === '*') return null;
        const position = condition.matchType === 'prefix' ? Prisma.sql`${i + 1}::int` : Prisma.sql`cardinality(l.labels) - ${n - 1 - i}::int`;
        return Prisma.sql`l.labels[${position}] = ${label}::text`;
      });
      where.push(Prisma.sql`(cardinality(l.labels) >= ${n}::int${Prisma.join([Prisma.empty, ...labels.filter((x): x is Prisma.Sql => x !== null)], ' AND ')})`);
    }
    const depth = op.maxDepth === undefined ? Prisma.sql`l.labels` : Prisma.sql`l.labels[1:${op.maxDepth}::int]`;
    const rows = await this.prisma.queryRows<{ namespace: string[] }>(
      db,
      Prisma.sql`
        SELECT DISTINCT ${depth} AS namespace, array_to_string(${depth}, '.') COLLATE "C" AS sort
          FROM langgraph_store_items i CROSS JOIN LATERAL (SELECT string_to_array(i.prefix, '.') AS labels) l
         WHERE ${Prisma.join(where, ' AND ')}
         ORDER BY sort LIMIT ${op.limit}::int OFFSET ${op.offset}::int`,
    );
    return rows.map((r) => r.namespace);
  }

  /**
   * Retention (worker): deletes up to `limit` items of every organization that expired at or before `before`
   * (default: the database's now), with their embeddings. Returns how many; call again while it returns `limit`.
   */
  async purgeExpired(before?: Date, limit = 10_000, db: Db = this.prisma): Promise<number> {
    const rows = await this.prisma.queryRows<{ n: number }>(
      db,
      Prisma.sql`
        WITH d AS (
          DELETE FROM langgraph_store_items WHERE (organization_id, prefix, key) IN (
            SELECT organization_id, prefix, key FROM langgraph_store_items
             WHERE expires_at <= coalesce(${before ?? null}::timestamptz, now()) LIMIT ${limit}::int FOR UPDATE SKIP LOCKED)
          RETURNING 1)
        SELECT count(*)::int AS n FROM d`,
    );
    return rows[0].n;
  }
}

/** One filter entry as SQL over `i.value`: JSON equality, or LangGraph's $eq/$ne/$gt/$gte/$lt/$lte/$in/$nin. */
function filterSql(field: string, expected: unknown): Prisma.Sql {
  const item = Prisma.sql`(i.value -> ${field}::text)`;
  const json = (v: unknown) => Prisma.sql`${JSON.stringify(v ?? null)}::jsonb`;
  // Numbers compare as numbers (LangGraph's Number()): a JSON number, or a string or boolean that is one.
  const number = Prisma.sql`(CASE jsonb_typeof(${item}) WHEN 'number' THEN (${item})::text::numeric
                               WHEN 'boolean' THEN CASE WHEN (${item})::text = 'true' THEN 1 ELSE 0 END
                               WHEN 'string' THEN CASE WHEN (i.value ->> ${field}::text) ~ ${NUMERIC_TEXT}::text
                                                       THEN (i.value ->> ${field}::text)::numeric END END)`;
  if (!isOperators(expected)) return Prisma.sql`${item} = ${json(expected)}`;
  const parts = Object.entries(expected).map(([op, value]) => {
    switch (op) {
      case '$eq':
        return Prisma.sql`${item} = ${json(value)}`;
      case '$ne':
        return Prisma.sql`${item} IS DISTINCT FROM ${json(value)}`;
      case '$gt':
      case '$gte':
      case '$lt':
      case '$lte': {
        const n = Number(value);
        if (!Number.isFinite(n)) return Prisma.sql`false`;
        const cmp = Prisma.raw({ $gt: '>', $gte: '>=', $lt: '<', $lte: '<=' }[op]!);
        return Prisma.sql`${number} ${cmp} ${n}::numeric`;
      }
      case '$in':
        return Array.isArray(value) ? Prisma.sql`${item} IN (SELECT jsonb_array_elements(${json(value)}))` : Prisma.sql`false`;
      default: // $nin
        return Array.isArray(value) ? Prisma.sql`(${item} IS NULL OR NOT (${item} IN (SELECT jsonb_array_elements(${json(value)}))))` : Prisma.sql`true`;
    }
  });
  return Prisma.sql`(${Prisma.join(parts, ' AND ')})`;
}
