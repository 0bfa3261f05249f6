import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { InvalidInputError } from '../errors';
import { isUuid } from '../pagination';
import { ownedReferences } from '../references';
import { Db, PrismaService } from '../prisma.service';
import { checkJson, checkText, throwIfProblems, type Problem } from '../validation';

export interface AnalyticsEventInput {
  type: string;
  agentId?: string | null;
  conversationId?: string | null;
  userId?: string | null;
  data?: Record<string, unknown> | null;
  /** When it happened (Date or ISO 8601 string); default: now. */
  occurredAt?: Date | string | null;
}

export type UsageInterval = 'day' | 'hour';

export interface UsageQuery {
  /** Inclusive. */
  from: Date;
  /** Exclusive. */
  to: Date;
  interval: UsageInterval;
  agentId?: string;
}

export interface UsageRow {
  /** Start of the UTC day or hour. */
  bucket: Date;
  /** null for events recorded without an agent. */
  agentId: string | null;
  conversations: number;
  messages: number;
  tokens: number;
  events: number;
}

export const MAX_INGEST_BATCH = 10_000;
const MAX_TYPE_LENGTH = 100;
/** 8 columns × 2,000 rows stays well under PostgreSQL's 65,535 bind parameters. */
const INSERT_CHUNK = 2_000;
/** The most buckets one usage query may span: 10,000 hours is about 13.7 months, 10,000 days about 27 years. */
export const MAX_USAGE_BUCKETS = 10_000;
const BUCKET_MS: Record<UsageInterval, number> = { hour: 3_600_000, day: 86_400_000 };
const REFERENCES = [
  { field: 'agentId', kind: 'agent' },
  { field: 'conversationId', kind: 'conversation' },
  { field: 'userId', kind: 'user' },
] as const;

/** The agent_key of activity without an agent (usage_rollups' primary key cannot hold NULL). */
const NO_AGENT = '00000000-0000-0000-0000-000000000000';
const HOUR_MS = 3_600_000;

/**
 * Client-reported analytics events and the usage figures derived from conversations, messages and events.
 *
 * Usage comes from an hourly rollup (migration 20261122130000_usage_rollups): statement triggers on conversations,
 * messages (and a row trigger for tokens set on completion) and analytics_events insert per-statement deltas into
 * usage_rollup_deltas; `foldUsage` folds them into usage_rollups (one row per organization, hour and agent). A usage
 * read folds its organization's pending deltas first, so it is always up to date, and then reads at most one row
 * per hour and agent however many events there are. Only the partial hours at the edges of a range that does not
 * start or end on a whole hour are counted from the raw tables.
 */
@Injectable()
export class AnalyticsRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /**
   * Stores a batch (1 to 10,000 events) all or nothing. Every agentId, conversationId and userId must belong
   * to the organization (checked in one query); otherwise an `InvalidInputError` naming each offending
   * `events.<i>.<field>`, and nothing is written.
   */
  async ingest(
    organizationId: string,
    events: ReadonlyArray<AnalyticsEventInput>,
    db: Db = this.prisma,
  ): Promise<{ accepted: number }> {
    if (!Array.isArray(events) || events.length === 0 || events.length > MAX_INGEST_BATCH) {
      throw new InvalidInputError(`events must hold 1 to ${MAX_INGEST_BATCH} events`, [
        { path: 'events', message: `must hold 1 to ${MAX_INGEST_BATCH} events` },
      ]);
    }
    const now = new Date();
    const problems: Problem[] = [];
    const rows = events.map((event, i) => normaliseEvent(organizationId, event, i, now, problems));
    throwIfProblems(problems, 'invalid events');

    await this.assertReferencesBelong(db, organizationId, rows);
    // Chunks of our own, one after the other: Prisma's own chunking of a big createMany sends its statements
    // to the one transaction connection at once (pg then warns of concurrent client.query calls).
    const accepted = await this.prisma.inTransaction(db, async (tx) => {
      let count = 0;
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        count += (await tx.analyticsEvent.createMany({ data: rows.slice(i, i + INSERT_CHUNK) })).count;
      }
      return count;
    });
    return { accepted };
  }

  /**
   * Per UTC bucket and agent: conversations created, messages created (and the sum of their tokens_used) and
   * analytics events that occurred in [from, to). Messages count towards their conversation's agent. Only
   * buckets with activity are returned, ordered by bucket then agent (events without an agent last).
   */
  async usage(organizationId: string, query: UsageQuery, db: Db = this.prisma): Promise<UsageRow[]> {
    const problems: Problem[] = [];
    if (!(query.from instanceof Date) || Number.isNaN(query.from.getTime())) problems.push({ path: 'from', message: 'must be a date' });
    if (!(query.to instanceof Date) || Number.isNaN(query.to.getTime())) problems.push({ path: 'to', message: 'must be a date' });
    if (problems.length === 0 && query.from >= query.to) problems.push({ path: 'to', message: 'must be after from' });
    if (query.interval !== 'day' && query.interval !== 'hour') problems.push({ path: 'interval', message: 'must be day or hour' });
    if (problems.length === 0) {
      // UTC buckets touched by [from, to): an hour or a day is a whole number of epoch milliseconds in UTC.
      const unit = BUCKET_MS[query.interval];
      const buckets = Math.floor((query.to.getTime() - 1) / unit) - Math.floor(query.from.getTime() / unit) + 1;
      if (buckets > MAX_USAGE_BUCKETS) {
        problems.push({ path: 'to', message: `the range spans ${buckets} ${query.interval} buckets; at most ${MAX_USAGE_BUCKETS}` });
      }
    }
    if (query.agentId !== undefined && !isUuid(query.agentId)) problems.push({ path: 'agentId', message: 'must be a UUID' });
    throwIfProblems(problems, 'invalid usage query');

    // Whole hours come from the rollup, the partial hours at either edge (if any) from the raw tables.
    const firstHour = new Date(Math.ceil(query.from.getTime() / HOUR_MS) * HOUR_MS);
    const endHour = new Date(Math.floor(query.to.getTime() / HOUR_MS) * HOUR_MS);
    const parts: UsageRow[][] = [];
    if (firstHour < endHour) {
      await this.foldUsage(organizationId, db);
      parts.push(toUsageRows(await db.$queryRaw<RawUsageRow[]>(rollupQuery(organizationId, { ...query, from: firstHour, to: endHour }))));
      if (query.from < firstHour) parts.push(await this.rawUsage(organizationId, { ...query, to: firstHour }, db));
      if (endHour < query.to) parts.push(await this.rawUsage(organizationId, { ...query, from: endHour }, db));
    } else {
      parts.push(await this.rawUsage(organizationId, query, db));
    }
    return parts.length === 1 ? parts[0] : mergeUsage(parts.flat());
  }

  /**
   * Folds pending usage deltas into usage_rollups: one organization's (what a usage read does first), or every
   * organization's (for a scheduled job, so that reads never find a long backlog). Folds of one organization are
   * serialised by a transaction-level advisory lock, so two never add the same delta twice or deadlock.
   * Returns how many delta rows were folded.
   */
  async foldUsage(organizationId?: string, db: Db = this.prisma): Promise<number> {
    if (organizationId === undefined) {
      const orgs = await db.$queryRaw<Array<{ id: string }>>`select distinct organization_id::text as id from usage_rollup_deltas`;
      let folded = 0;
      for (const { id } of orgs) folded += await this.prisma.inTransaction(db, (tx) => this.foldUsage(id, tx));
      return folded;
    }
    return this.prisma.inTransaction(db, async (tx) => {
      await tx.$executeRaw`select pg_advisory_xact_lock(hashtext('agenthub:usage-fold'), hashtext(${organizationId}))`;
      const [{ n }] = await tx.$queryRaw<Array<{ n: number }>>`
        with moved as (
          delete from usage_rollup_deltas where organization_id = ${organizationId}::uuid
          returning organization_id, bucket, agent_key, conversations, messages, tokens, events
        ), folded as (
          insert into usage_rollups as r (organization_id, bucket, agent_key, conversations, messages, tokens, events)
          select organization_id, bucket, agent_key, sum(conversations), sum(messages), sum(tokens), sum(events)
            from moved group by 1, 2, 3
          on conflict (organization_id, bucket, agent_key) do update set
            conversations = r.conversations + excluded.conversations,
            messages = r.messages + excluded.messages,
            tokens = r.tokens + excluded.tokens,
            events = r.events + excluded.events
          returning 1
        )
        select (select count(*) from moved)::int as n, (select count(*) from folded)::int as groups`;
      return n;
    });
  }

  /** Usage straight from conversations, messages and events (the edges of a range that is not whole hours). */
  private async rawUsage(organizationId: string, query: UsageQuery, db: Db): Promise<UsageRow[]> {
    return toUsageRows(await db.$queryRaw<RawUsageRow[]>(usageQuery(organizationId, query)));
  }

  private async assertReferencesBelong(
    db: Db,
    organizationId: string,
    rows: ReadonlyArray<Prisma.AnalyticsEventCreateManyInput>,
  ): Promise<void> {
    const wanted = Object.fromEntries(
      REFERENCES.map(({ field, kind }) => [kind, [...new Set(rows.map((r) => r[field]).filter((v): v is string => !!v))]]),
    ) as Record<(typeof REFERENCES)[number]['kind'], string[]>;
    const owned = await ownedReferences(db, organizationId, wanted);

    const problems: Problem[] = [];
    rows.forEach((row, i) => {
      for (const { field, kind } of REFERENCES) {
        const id = row[field];
        if (id && !owned(kind, id)) problems.push({ path: `events.${i}.${field}`, message: `unknown ${kind}` });
      }
    });
    if (problems.length > 0) throw new InvalidInputError('events reference unknown ids', problems);
  }
}

function normaliseEvent(
  organizationId: string,
  event: AnalyticsEventInput,
  i: number,
  now: Date,
  problems: Problem[],
): Prisma.AnalyticsEventCreateManyInput {
  const at = (field: string) => `events.${i}.${field}`;
  if (event === null || typeof event !== 'object') {
    problems.push({ path: `events.${i}`, message: 'must be an object' });
    return { organizationId, type: '' };
  }
  if (typeof event.type !== 'string' || event.type.length === 0 || event.type.length > MAX_TYPE_LENGTH) {
    problems.push({ path: at('type'), message: `must be 1 to ${MAX_TYPE_LENGTH} characters` });
  } else {
    checkText(event.type, at('type'), problems, MAX_TYPE_LENGTH);
  }
  const ids: Partial<Record<'agentId' | 'conversationId' | 'userId', string>> = {};
  for (const { field } of REFERENCES) {
    const v = event[field];
    if (v === undefined || v === null) continue;
    if (!isUuid(v)) problems.push({ path: at(field), message: 'must be a UUID' });
    else ids[field] = v.toLowerCase();
  }
  let occurredAt = now;
  if (event.occurredAt !== undefined && event.occurredAt !== null) {
    const d = event.occurredAt instanceof Date ? event.occurredAt : typeof event.occurredAt === 'string' ? new Date(event.occurredAt) : undefined;
    if (!d || Number.isNaN(d.getTime())) problems.push({ path: at('occurredAt'), message: 'must be an ISO 8601 date-time' });
    else occurredAt = d;
  }
  const data = event.data ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) problems.push({ path: at('data'), message: 'must be an object' });
  // JSONB cannot hold NUL characters (in strings or keys): an input error, never a raw SQL error.
  else checkJson(data, at('data'), problems);
  return {
    organizationId,
    type: event.type,
    ...ids,
    data: data as Prisma.InputJsonObject,
    occurredAt,
    receivedAt: now,
  };
}

type RawUsageRow = { bucket: Date; agent_id: string | null; conversations: bigint; messages: bigint; tokens: bigint; events: bigint };

function toUsageRows(rows: RawUsageRow[]): UsageRow[] {
  return rows.map((r) => ({
    bucket: new Date(r.bucket),
    agentId: r.agent_id,
    conversations: Number(r.conversations),
    messages: Number(r.messages),
    tokens: Number(r.tokens),
    events: Number(r.events),
  }));
}

/** Sums rows of the same bucket and agent, ordered by bucket then agent (no agent last), like the queries. */
function mergeUsage(rows: UsageRow[]): UsageRow[] {
  const merged = new Map<string, UsageRow>();
  for (const row of rows) {
    const key = `${row.bucket.getTime()}|${row.agentId ?? ''}`;
    const into = merged.get(key);
    if (!into) merged.set(key, { ...row });
    else {
      into.conversations += row.conversations;
      into.messages += row.messages;
      into.tokens += row.tokens;
      into.events += row.events;
    }
  }
  const byAgent = (x: string | null, y: string | null) => (x === y ? 0 : x === null ? 1 : y === null ? -1 : x < y ? -1 : 1);
  return [...merged.values()].sort((x, y) => x.bucket.getTime() - y.bucket.getTime() || byAgent(x.agentId, y.agentId));
}

/** Usage of whole hours [from, to) from usage_rollups, in the same shape as usageQuery. */
function rollupQuery(organizationId: string, q: UsageQuery): Prisma.Sql {
  const agentFilter = q.agentId ? Prisma.sql`AND r.agent_key = ${q.agentId}::uuid` : Prisma.empty;
  return Prisma.sql`
    SELECT date_trunc(${q.interval}::text, r.bucket, 'UTC') AS bucket, nullif(r.agent_key, ${NO_AGENT}::uuid)::text AS agent_id,
           sum(r.conversations)::bigint AS conversations, sum(r.messages)::bigint AS messages,
           sum(r.tokens)::bigint AS tokens, sum(r.events)::bigint AS events
      FROM usage_rollups r
     WHERE r.organization_id = ${organizationId}::uuid
       AND r.bucket >= ${q.from}::timestamptz AND r.bucket < ${q.to}::timestamptz ${agentFilter}
     GROUP BY 1, 2
    HAVING sum(r.conversations) + sum(r.messages) + sum(r.tokens) + sum(r.events) > 0
     ORDER BY 1, 2 NULLS LAST`;
}

/** Usage computed from the raw tables (the partial hours at the edges of a range, see `usage`). */
function usageQuery(organizationId: string, q: UsageQuery): Prisma.Sql {
  const agentFilter = (column: Prisma.Sql) => (q.agentId ? Prisma.sql`AND ${column} = ${q.agentId}::uuid` : Prisma.empty);
  return Prisma.sql`
    WITH conv AS (
      SELECT date_trunc(${q.interval}::text, c.created_at, 'UTC') AS bucket, c.agent_id, count(*) AS n
        FROM conversations c
       WHERE c.organization_id = ${organizationId}::uuid
         AND c.created_at >= ${q.from}::timestamptz AND c.created_at < ${q.to}::timestamptz ${agentFilter(Prisma.sql`c.agent_id`)}
       GROUP BY 1, 2
    ), msg AS (
      SELECT date_trunc(${q.interval}::text, m.created_at, 'UTC') AS bucket, c.agent_id,
             count(*) AS n, coalesce(sum(m.tokens_used), 0) AS tokens
        FROM messages m
        JOIN conversations c ON c.id = m.conversation_id
       WHERE m.organization_id = ${organizationId}::uuid
         AND m.created_at >= ${q.from}::timestamptz AND m.created_at < ${q.to}::timestamptz ${agentFilter(Prisma.sql`c.agent_id`)}
       GROUP BY 1, 2
    ), ev AS (
      SELECT date_trunc(${q.interval}::text, e.occurred_at, 'UTC') AS bucket, e.agent_id, count(*) AS n
        FROM analytics_events e
       WHERE e.organization_id = ${organizationId}::uuid
         AND e.occurred_at >= ${q.from}::timestamptz AND e.occurred_at < ${q.to}::timestamptz ${agentFilter(Prisma.sql`e.agent_id`)}
       GROUP BY 1, 2
    )
    SELECT bucket, agent_id::text AS agent_id,
           sum(conversations)::bigint AS conversations, sum(messages)::bigint AS messages,
           sum(tokens)::bigint AS tokens, sum(events)::bigint AS events
      FROM (
        SELECT bucket, agent_id, n AS conversations, 0 AS messages, 0 AS tokens, 0 AS events FROM conv
        UNION ALL SELECT bucket, agent_id, 0, n, tokens, 0 FROM msg
        UNION ALL SELECT bucket, agent_id, 0, 0, 0, n FROM ev
      ) u
     GROUP BY bucket, agent_id
     ORDER BY 1, u.agent_id NULLS LAST`;
}
