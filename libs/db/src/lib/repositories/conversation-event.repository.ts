import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { PrismaService, type Db } from '../prisma.service';
import { isUuid } from '../pagination';

export const CONVERSATION_EVENT_TYPES = [
  'message.created',
  'message.delta',
  'message.completed',
  'message.deleted',
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

/**
 * NOTIFY channel; the payload is `<conversationId>:<last seq written>` (the events themselves stay in the table).
 * Sent after the writing transaction commits (`announce`), never inside it: PostgreSQL serialises the commits of
 * all transactions that sent a NOTIFY (a cluster-wide lock taken at commit), which capped appends at ~300–430
 * commits/s with 8 writers on separate rows (pgbench on this 2-core machine), whatever the organization.
 */
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

  /**
   * Appends events in the caller's transaction. Returns the seqs given, in order. The caller announces them
   * (`announce`) once the transaction has committed.
   */
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
        )
        select seq from ins order by seq`,
      { prepare: true },
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
  /**
   * Wakes every replica's feeds of these conversations (`<conversationId>:<seq>` on CONVERSATION_EVENTS_CHANNEL):
   * one statement, so one NOTIFY transaction however many conversations. Outside any transaction, after the events
   * committed. A lost announcement (a crash in between) delays delivery until the feeds' periodic check.
   */
  async announce(events: Array<{ conversationId: string; seq: number }>): Promise<void> {
    // The embedded database serves one API process (a second process joining it is a CLI or Studio, never a
    // subscriber), which delivers its own events locally; and a lone query on its shared backend can interleave
    // with another connection's open transaction and leave both waiting.
    if (!events.length || this.prisma.mode === 'embedded') return;
    await this.prisma.queryRows(
      this.prisma,
      Prisma.sql`select pg_notify(${CONVERSATION_EVENTS_CHANNEL}, e) from unnest(${events.map((e) => `${e.conversationId}:${e.seq}`)}::text[]) e`,
    );
  }

  /** The last event seq of each of these conversations of the organization (deleted ones left out). */
  async lastSeqs(organizationId: string, conversationIds: string[], db: Db = this.prisma): Promise<Map<string, number>> {
    const ids = conversationIds.filter(isUuid);
    if (!ids.length) return new Map();
    const rows = await this.prisma.queryRows<{ id: string; seq: number }>(
      db,
      Prisma.sql`select id, last_event_seq as seq from conversations
                  where organization_id = ${organizationId}::uuid and id = any(${ids}::uuid[]) and deleted_at is null`,
    );
    return new Map(rows.map((r) => [r.id, r.seq]));
  }

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
