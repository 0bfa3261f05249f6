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

/**
 * Client-reported analytics events and the usage figures derived from conversations, messages and events.
 * `usage` runs over the raw tables; when a rollup table arrives only `usageQuery` changes.
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

    const rows = await db.$queryRaw<
      Array<{ bucket: Date; agent_id: string | null; conversations: bigint; messages: bigint; tokens: bigint; events: bigint }>
    >(usageQuery(organizationId, query));
    return rows.map((r) => ({
      bucket: new Date(r.bucket),
      agentId: r.agent_id,
      conversations: Number(r.conversations),
      messages: Number(r.messages),
      tokens: Number(r.tokens),
      events: Number(r.events),
    }));
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

/** The one place usage is computed from the raw tables (see `usage`). */
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
