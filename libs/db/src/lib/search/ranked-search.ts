import { Prisma } from '../../generated/prisma/client';
import { vectorParam } from '../vector';
import { reciprocalRankFusion } from './fusion';
import type { SearchStrategy, ValidSearch } from './search-options';

/** Runs one query and returns its rows: `PrismaService.queryRows` bound to the caller's client or transaction. */
export type RowQuery = <T>(sql: Prisma.Sql) => Promise<T[]>;

/**
 * The search engine shared by the repositories that own an embedding + search_vector table (memories,
 * document_chunks). The repository describes its table and filters as SQL fragments (all values parameterised);
 * this module builds the vector, full-text and hybrid queries over them.
 */
export interface SearchTarget {
  /** FROM clause: the searched table under an alias, plus any joins */
  from: Prisma.Sql;
  /** Conditions every result satisfies: organization, filters, visibility (e.g. not expired) */
  where: Prisma.Sql;
  /** The result row's columns, aliased camelCase; must include one named "id" */
  columns: Prisma.Sql;
  /** The searched table's vector(…) column with vector_cosine_ops HNSW index, e.g. `m.embedding` */
  embedding: Prisma.Sql;
  /** The searched table's tsvector column (GIN index), e.g. `m.search_vector` */
  searchVector: Prisma.Sql;
}

/**
 * `similarity`: cosine similarity (1 − cosine distance) to the query embedding, null when there is none
 * (text search without an embedding, a chunk without an embedding).
 * `score`: what the rows are ordered by — vector: the similarity; text: ts_rank_cd; hybrid: the RRF score
 * Σ 1/(60 + rank) over the vector and text result lists (see fusion.ts).
 */
export type Scored<R> = R & { similarity: number | null; score: number };

/** How many candidates each leg of a hybrid search contributes before fusion. */
export function hybridCandidates(k: number): number {
  return Math.min(200, Math.max(50, 2 * k));
}

/**
 * Vector, text or hybrid search over `target`, best first. The vector leg is exact when at most
 * `exactSearchThreshold` rows match (default 10,000); above that it comes from the HNSW index and is
 * approximate (recall measured ≥ 0.95 in tools/bench on clustered data). See vectorSearch.
 */
export async function rankedSearch<R extends { id: string }>(
  run: RowQuery,
  target: SearchTarget,
  search: ValidSearch,
  exactSearchThreshold: number,
  memo?: LargeSearchMemo,
): Promise<Array<Scored<R>>> {
  const { mode, k, embedding, query, minSimilarity, strategy } = search;
  if (mode === 'vector') {
    const rows = await vectorSearch<R>(run, target, embedding!, k, strategy, exactSearchThreshold, memo);
    return atLeast(rows, minSimilarity).map((r) => ({ ...r, score: r.similarity! }));
  }
  if (mode === 'text') return textSearch<R>(run, target, query!, embedding, k);

  const n = hybridCandidates(k);
  // Sequential, not Promise.all: inside a transaction (or on the embedded database) the client has one connection.
  const vectorRows = atLeast(await vectorSearch<R>(run, target, embedding!, n, strategy, exactSearchThreshold, memo), minSimilarity);
  const textRows = await textSearch<R>(run, target, query!, embedding, n);
  return reciprocalRankFusion<WithSimilarity<R>>([vectorRows, textRows], (r) => r.id)
    .slice(0, k)
    .map(({ item, score }) => ({ ...item, score }));
}

type WithSimilarity<R> = R & { similarity: number | null };

/**
 * The `limit` rows nearest to `embedding` among the target's rows, best first.
 *
 * Accuracy (strategy `auto`): the result is exact when at most `exactSearchThreshold` rows match (default
 * 10,000). Above that it comes from the HNSW index and is approximate: recall measured ≥ 0.95 in tools/bench on
 * clustered data, so a true neighbour may occasionally be missing or two near-ties swapped.
 *
 * Exact vs ANN: a filtered HNSW scan is approximate and, when few rows pass the filter, may stop before it has
 * found them (hnsw.max_scan_tuples), so a selective filter could miss true neighbours. We therefore count the
 * matching rows first with a bounded query (it stops at threshold + 1, so it costs at most that many index
 * entries) and, when there are at most `exactSearchThreshold` of them, compute the distance for every one of
 * them: exact, and cheap at that size. Above the threshold the HNSW index answers (iterative_scan=strict_order
 * keeps scanning until `limit` rows pass the filter); should it still come back short, the exact scan runs.
 */
export async function vectorSearch<R>(
  run: RowQuery,
  target: SearchTarget,
  embedding: ArrayLike<number>,
  limit: number,
  strategy: SearchStrategy,
  exactSearchThreshold: number,
  memo?: LargeSearchMemo,
): Promise<Array<WithSimilarity<R>>> {
  if (strategy !== 'auto') return withSimilarity<R>(await run(vectorSearchSql(target, embedding, limit, strategy === 'exact')));
  const key = memo && LargeSearchMemo.key(target, exactSearchThreshold);
  if (key !== undefined && memo!.isLarge(key)) {
    // Known to match more than the threshold: the HNSW statement on its own, the form the raw query has. Measured
    // (8 concurrent searches over 20,000 × 1536 on this 2-core machine, same vectors): ~2,250 statements/s alone vs
    // ~1,780/s for autoVectorSearchSql with the count skipped, whose CTEs, union and gates cost a fifth of the
    // database's time. Should it come back short (the filter matched fewer rows than the index walk reached), the
    // counted statement decides again, and answers exactly when few rows match.
    const ann = await run<R & { distance: number }>(vectorSearchSql(target, embedding, limit, false));
    if (ann.length === limit) {
      memo!.remember(key);
      return withSimilarity<R>(ann);
    }
    memo!.forget(key);
  }
  const rows = await run<R & { distance: number; ann: boolean }>(autoVectorSearchSql(target, embedding, limit, exactSearchThreshold));
  // The HNSW branch answered only if more than the threshold matched (and it found `limit` rows).
  if (key !== undefined) {
    if (rows.length > 0 && rows[0].ann) memo!.remember(key);
    else memo!.forget(key);
  }
  for (const row of rows) delete (row as { ann?: boolean }).ann;
  return withSimilarity<R>(rows);
}

/**
 * Remembers for a few seconds which searches (organization and filter, i.e. the target's conditions) matched more
 * rows than the exact threshold, so that their next searches skip the bounded count. Measured reason: on 20,000
 * memories the count (up to 10,001 heap rows) cost ~3 ms of database time where the HNSW query itself costs ~1 ms,
 * so it made the search three to four times the cost of the query it decides about (EXPLAIN ANALYZE; tools/bench
 * api-data). Only "more than the threshold" is remembered, never "at most": a search that matched few rows counts
 * every time, so it is exact every time. The price: for up to `ttlMs` after rows were deleted or expired down to the
 * threshold, such a search may still come from the HNSW index (approximate, recall ≥ 0.95 measured), and an HNSW
 * answer that comes back short still falls back to the exact scan and forgets the entry. Per process (per replica).
 */
export class LargeSearchMemo {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ttlMs = 5_000,
    private readonly maxEntries = 10_000,
  ) {}

  static key(target: SearchTarget, exactSearchThreshold: number): string {
    return `${exactSearchThreshold}\u0000${target.from.text}\u0000${target.where.text}\u0000${JSON.stringify(target.where.values)}`;
  }

  isLarge(key: string, now = Date.now()): boolean {
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (until > now) return true;
    this.until.delete(key);
    return false;
  }

  remember(key: string, now = Date.now()): void {
    // Bounded: many distinct filters just start over (each entry only saves one count).
    if (this.until.size >= this.maxEntries && !this.until.has(key)) this.until.clear();
    this.until.set(key, now + this.ttlMs);
  }

  forget(key: string): void {
    this.until.delete(key);
  }
}

/**
 * Strategy `auto` as one statement: the bounded count, then either the exact scan or the HNSW query, and the exact
 * scan again should the HNSW query come back short. Measured reason (tools/bench api-data, profile of the API under
 * search load): as two statements, count then search, a search cost three round trips with BEGIN and COMMIT, and
 * each pg query costs the API about as much CPU as the rest of the request. Each branch is gated by a one-time
 * filter on the count (an InitPlan), so PostgreSQL runs only the one it needs; the ANN branch keeps the exact form
 * the HNSW index serves (`ORDER BY <column> <=> <vector> LIMIT n`, the vector an InitPlan of the one parameter, so
 * it is sent once), the exact branch the form no index can serve (see vectorSearchSql). Both return `distance`.
 * `limit` and the threshold are written in as integers (validated here), not parameters: with an unknown LIMIT a
 * generic plan would assume 10 % of the rows and prefer a sequential scan to the index. `ann` says which branch
 * answered. (A search LargeSearchMemo knows to be large skips this statement for the ANN form alone: vectorSearch.)
 */
export function autoVectorSearchSql(
  target: SearchTarget,
  embedding: ArrayLike<number>,
  limit: number,
  exactSearchThreshold: number,
): Prisma.Sql {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  if (!Number.isInteger(exactSearchThreshold) || exactSearchThreshold < 0) throw new RangeError('exactSearchThreshold must be a non-negative integer');
  const { columns, from, where, embedding: column } = target;
  const n = Prisma.raw(String(limit));
  const threshold = Prisma.raw(String(exactSearchThreshold));
  const bound = Prisma.raw(String(exactSearchThreshold + 1));
  return Prisma.sql`
    with query as (select ${vectorParam(embedding)} as v),
    matching as (
      select (select count(*)::int from (select 1 from ${from} where ${where} and ${column} is not null limit ${bound}) t) as n),
    ann as materialized (
      select ${columns}, (${column} <=> (select v from query)) as distance
      from ${from}
      where ${where} and ${column} is not null and (select n from matching) > ${threshold}
      order by distance
      limit ${n})
    select *, true as ann from ann where (select count(*) from ann) = ${n}
    union all
    (select ${columns}, (${column} <=> (select v from query)) as distance, false as ann
     from ${from}
     where ${where} and ${column} is not null and ((select n from matching) <= ${threshold} or (select count(*) from ann) < ${n})
     order by 1 - (${column} <=> (select v from query)) desc, "id"
     limit ${n})`;
}

/**
 * The SQL of one vector search. The HNSW index can serve only `ORDER BY <column> <=> <constant> [ASC] LIMIT n`,
 * so the ANN form is written exactly that way, and the exact form orders by the similarity `1 − distance`
 * descending — an expression no index provides, so PostgreSQL must compute it for every matching row (found
 * through the btree indexes of the filter) and keep the top n. That holds under any planner cost settings,
 * unlike `SET LOCAL enable_indexscan = off`, which would also need a transaction and disable the btree indexes.
 */
export function vectorSearchSql(target: SearchTarget, embedding: ArrayLike<number>, limit: number, exact: boolean): Prisma.Sql {
  // LIMIT written in (validated), as in autoVectorSearchSql: a prepared statement's generic plan with an unknown
  // LIMIT would price the HNSW walk for 10 % of the rows.
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('limit must be a positive integer');
  const q = vectorParam(embedding);
  const { columns, from, where, embedding: column } = target;
  // The query vector is sent once: in the ANN form ORDER BY names the select-list alias, which the planner
  // matches to the same expression (so the index still serves it); similarity is then 1 − distance.
  const select = exact
    ? Prisma.sql`1 - (${column} <=> ${q}) as similarity`
    : Prisma.sql`(${column} <=> ${q}) as distance`;
  const order = exact ? Prisma.sql`similarity desc, "id"` : Prisma.sql`distance`;
  return Prisma.sql`
    select ${columns}, ${select}
    from ${from}
    where ${where} and ${column} is not null
    order by ${order}
    limit ${Prisma.raw(String(limit))}`;
}

/** Rows of either form of vectorSearchSql, with `similarity` (the ANN form returns the distance). */
function withSimilarity<R>(rows: Array<R & { similarity?: number; distance?: number }>): Array<WithSimilarity<R>> {
  return rows.map((row) => {
    if (row.distance === undefined) return row as WithSimilarity<R>;
    const { distance, ...rest } = row;
    return { ...(rest as R), similarity: 1 - distance };
  });
}

/** How many rows match, counting no further than threshold + 1. */
export async function countMatching(run: RowQuery, target: SearchTarget, threshold: number): Promise<number> {
  const [{ n }] = await run<{ n: number }>(Prisma.sql`
    select count(*)::int as n
    from (select 1 from ${target.from} where ${target.where} and ${target.embedding} is not null limit ${threshold + 1}) t`);
  return n;
}

/**
 * Full-text search: websearch_to_tsquery('english', query) (quotes, OR, -negation; never a syntax error) against
 * the generated search_vector, ranked by ts_rank_cd (cover density). With an embedding, each row also gets its
 * cosine similarity (for hybrid results); without, similarity is null.
 */
export async function textSearch<R>(
  run: RowQuery,
  target: SearchTarget,
  query: string,
  embedding: ArrayLike<number> | null,
  limit: number,
): Promise<Array<Scored<R>>> {
  const { columns, from, where, searchVector } = target;
  const similarity = embedding
    ? Prisma.sql`1 - (${target.embedding} <=> ${vectorParam(embedding)})`
    : Prisma.sql`null::float8`;
  return run<Scored<R>>(Prisma.sql`
    select ${columns}, ${similarity} as similarity, ts_rank_cd(${searchVector}, tsq)::float8 as score
    from ${from} cross join websearch_to_tsquery('english', ${query}) tsq
    where ${where} and ${searchVector} @@ tsq
    order by score desc, "id"
    limit ${limit}`);
}

function atLeast<R extends { similarity: number | null }>(rows: R[], minSimilarity: number | null): R[] {
  // Applied to the top rows after the search picked them, so a floor never cuts the scan short.
  return minSimilarity === null ? rows : rows.filter((r) => r.similarity !== null && r.similarity >= minSimilarity);
}
