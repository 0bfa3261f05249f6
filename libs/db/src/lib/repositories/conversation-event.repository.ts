import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { PrismaService, type Db } from '../prisma.service';
import { isUuid } from '../pagination';

export const CONVERSATION_EVENT_TYPES = [
  'message.created',
  'message.delta',
  'message.completed',
  'conversation.updated',
] as const;
export type ConversationEventType = (typeof CONVERSATION_EVENT_TYPES)[number];

export interface ConversationEventRow {
  conversationId: string;
  seq: number;
  type: ConversationEventType;
  payload: Prisma.JsonValue;
  createdAt: Date;
}

/** NOTIFY channel; the payload is `<conversationId>:<last seq written>` (the events themselves stay in the table). */
export const CONVERSATION_EVENTS_CHANNEL = 'agenthub_conversation_events';

/**
 * The live-event log of conversations. Events are written in the transaction of the change they describe, so a
 * subscriber never sees an event of a change that rolled back, and numbered per conversation without gaps
 * (`conversations.last_event_seq`, incremented by the same statement, whose row lock orders concurrent writers by
 * commit): a client that reconnects with `Last-Event-ID: n` gets exactly the events after n.
 */
@Injectable()
export class ConversationEventRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /** Appends events and announces them (NOTIFY is delivered at commit). Returns the seqs given, in order. */
  async record(
    organizationId: string,
    conversationId: string,
    events: Array<{ type: ConversationEventType; payload: Prisma.InputJsonValue }>,
    db: Db = this.prisma,
  ): Promise<number[]> {
    if (!events.length) return [];
    const types = events.map((e) => e.type);
    const payloads = events.map((e) => JSON.stringify(e.payload));
    const rows = await this.prisma.queryRows<{ seq: number }>(
      db,
      Prisma.sql`
        with c as (
          update conversations set last_event_seq = last_event_seq + ${events.length}
           where id = ${conversationId}::uuid and organization_id = ${organizationId}::uuid
          returning id, last_event_seq
        ), ins as (
          insert into conversation_events (organization_id, conversation_id, seq, type, payload)
          select ${organizationId}::uuid, c.id, c.last_event_seq - ${events.length} + e.ord::int, e.type, e.payload::jsonb
            from c, unnest(${types}::text[], ${payloads}::text[]) with ordinality as e(type, payload, ord)
          returning seq
        ), announced as (
          select pg_notify(${CONVERSATION_EVENTS_CHANNEL}, ${conversationId} || ':' || max(seq)) from ins having count(*) > 0
        )
        select seq from ins, (select count(*) from announced) a order by seq`,
    );
    return rows.map((r) => r.seq);
  }

  /** Events after `afterSeq`, oldest first. */
  async listAfter(
    organizationId: string,
    conversationId: string,
    afterSeq: number,
    limit = 500,
    db: Db = this.prisma,
  ): Promise<ConversationEventRow[]> {
    if (!isUuid(conversationId)) return [];
    const rows = await db.conversationEvent.findMany({
      where: { organizationId, conversationId, seq: { gt: afterSeq } },
      orderBy: { seq: 'asc' },
      take: limit,
      select: { conversationId: true, seq: true, type: true, payload: true, createdAt: true },
    });
    return rows as ConversationEventRow[];
  }

  /** The newest event's seq (0 when there is none): where a subscriber without Last-Event-ID starts. */
  async lastSeq(organizationId: string, conversationId: string, db: Db = this.prisma): Promise<number | null> {
    if (!isUuid(conversationId)) return null;
    const row = await db.conversation.findFirst({
      where: { id: conversationId, organizationId, deletedAt: null },
      select: { lastEventSeq: true },
    });
    return row ? row.lastEventSeq : null;
  }

  /** Retention: events are for live delivery and short reconnects, not history (messages are the history). */
  async purgeOlderThan(before: Date, db: Db = this.prisma): Promise<number> {
    const { count } = await db.conversationEvent.deleteMany({ where: { createdAt: { lt: before } } });
    return count;
  }
}
