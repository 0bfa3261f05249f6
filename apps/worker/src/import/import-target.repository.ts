import { Inject, Injectable } from '@nestjs/common';
import { ConflictError, MessageRepository, Prisma, PrismaService, type AppendRecord } from '@agenthub/db';
import { toSql } from 'pgvector/utils';
import type {
  AgentRecord,
  ConversationRecord,
  DocumentRecord,
  EntityCounts,
  EventRecord,
  ExpectedConversation,
  MemoryRecord,
  OnConflict,
  PaymentRecord,
  UserRecord,
} from './import.types';
import { csvField, type SqlClient } from './sql-client';
import { stableId } from './stable-id';

const MESSAGE_COLUMNS = [
  'id', 'organization_id', 'conversation_id', 'seq', 'role', 'content', 'message_type', 'tool_name', 'tool_args', 'tool_call_id',
  'is_streaming', 'is_complete', 'model', 'tokens_used', 'client_id', 'metadata', 'created_at', 'updated_at',
] as const;

/** A message of a batch: MessageRepository's append record (its `idx` is `ord`, the position in its conversation). */
interface MessageRow extends Omit<AppendRecord, 'idx' | 'is_streaming'> {
  id: string;
  ord: number;
  client_id: string;
}

export type WriteCounts = Pick<EntityCounts, 'written' | 'updated' | 'skipped'>;
export interface RefIds {
  agents: Map<string, string>;
  users: Map<string, string>;
}

/** Thrown under `--on-conflict fail` when a row of the batch already exists; the batch is rolled back. */
export class ImportConflictError extends ConflictError {}

const json = (value: unknown) => JSON.stringify(value);
const iso = (d: Date | null) => (d ? d.toISOString() : null);

/**
 * Every write of the importers, as batched set-based SQL (one statement per entity and batch, the rows passed
 * as one JSON array and expanded with jsonb_to_recordset): row-by-row Prisma calls would make a 200,000-message
 * import take minutes. This is raw SQL against tables other repositories own, which STYLE.md keeps in those
 * repositories; it lives here because bulk import is the only caller and its invariants (gap-free seq, counters,
 * deterministic ids) are the importer's. Every method runs on the caller's transaction.
 */
@Injectable()
export class ImportTargetRepository {
  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Inject(MessageRepository) private readonly messages: MessageRepository,
  ) {}

  async organizationExists(organizationId: string): Promise<boolean> {
    return (await this.prisma.organization.count({ where: { id: organizationId } })) === 1;
  }

  /** Agents by name: existing ones (any not deleted first) are reused; missing ones created. */
  async upsertAgents(c: SqlClient, org: string, agents: AgentRecord[], mode: OnConflict): Promise<{ counts: WriteCounts; ids: Map<string, string> }> {
    const names = agents.map((a) => a.name);
    const existing = await this.agentIds(c, org, names);
    if (mode === 'fail' && existing.size) throw conflict('agent', [...existing.keys()]);
    const counts: WriteCounts = { written: 0, updated: 0, skipped: 0 };
    const fresh = agents.filter((a) => !existing.has(a.name));
    const rows = (list: AgentRecord[], ids: (a: AgentRecord) => string) =>
      json(list.map((a) => ({ id: ids(a), name: a.name, description: a.description, config: a.config, is_active: a.isActive, metadata: a.metadata, created_at: iso(a.createdAt) })));
    if (fresh.length) {
      const inserted = await c.query<{ n: number }>(Prisma.sql`
        WITH i AS (SELECT * FROM jsonb_to_recordset(${rows(fresh, (a) => stableId(org, 'agent', a.name))}::jsonb)
                     AS i(id uuid, name text, description text, config jsonb, is_active boolean, metadata jsonb, created_at timestamptz)),
             ins AS (INSERT INTO agents (id, organization_id, name, description, config, is_active, metadata, created_at, updated_at)
                     SELECT id, ${org}::uuid, name, description, config, is_active, metadata, coalesce(created_at, now()), now() FROM i
                     ON CONFLICT (id) DO NOTHING RETURNING 1)
        SELECT count(*)::int AS n FROM ins`);
      counts.written = inserted[0].n;
    }
    const old = agents.filter((a) => existing.has(a.name));
    if (old.length && mode === 'replace') {
      const updated = await c.query<{ n: number }>(Prisma.sql`
        WITH i AS (SELECT * FROM jsonb_to_recordset(${rows(old, (a) => existing.get(a.name)!)}::jsonb)
                     AS i(id uuid, name text, description text, config jsonb, is_active boolean, metadata jsonb, created_at timestamptz)),
             upd AS (UPDATE agents a SET description = i.description, config = i.config, is_active = i.is_active,
                            metadata = a.metadata || i.metadata, version = a.version + 1, updated_at = now()
                       FROM i WHERE a.id = i.id AND a.organization_id = ${org}::uuid
                        AND (a.description, a.config, a.is_active, a.metadata || i.metadata)
                            IS DISTINCT FROM (i.description, i.config, i.is_active, a.metadata)
                     RETURNING 1)
        SELECT count(*)::int AS n FROM upd`);
      counts.updated = updated[0].n;
    }
    counts.skipped = agents.length - counts.written - counts.updated;
    return { counts, ids: await this.agentIds(c, org, names) };
  }

  private async agentIds(c: SqlClient, org: string, names: string[]): Promise<Map<string, string>> {
    if (!names.length) return new Map();
    const rows = await c.query<{ id: string; name: string }>(Prisma.sql`
      SELECT DISTINCT ON (name) id::text, name FROM agents
       WHERE organization_id = ${org}::uuid AND name = ANY(${names}::text[])
       ORDER BY name, (deleted_at IS NOT NULL), created_at, id`);
    return new Map(rows.map((r) => [r.name, r.id]));
  }

  /** Users by externalId; replace merges the imported metadata into theirs. */
  async upsertUsers(c: SqlClient, org: string, users: UserRecord[], mode: OnConflict): Promise<{ counts: WriteCounts; ids: Map<string, string> }> {
    const externalIds = users.map((u) => u.externalId);
    if (mode === 'fail') {
      const existing = await this.userIds(c, org, externalIds);
      if (existing.size) throw conflict('user', [...existing.keys()]);
    }
    const counts: WriteCounts = { written: 0, updated: 0, skipped: 0 };
    if (users.length) {
      const payload = json(users.map((u) => ({ id: stableId(org, 'user', u.externalId), external_id: u.externalId, name: u.name, metadata: u.metadata })));
      const onConflict =
        mode === 'replace'
          ? Prisma.sql`DO UPDATE SET name = coalesce(excluded.name, users.name), metadata = users.metadata || excluded.metadata, version = users.version + 1, updated_at = now()
                        WHERE (users.name, users.metadata) IS DISTINCT FROM (coalesce(excluded.name, users.name), users.metadata || excluded.metadata)`
          : Prisma.sql`DO NOTHING`;
      const rows = await c.query<{ inserted: number; updated: number }>(Prisma.sql`
        WITH i AS (SELECT * FROM jsonb_to_recordset(${payload}::jsonb) AS i(id uuid, external_id text, name text, metadata jsonb)),
             up AS (INSERT INTO users (id, organization_id, external_id, name, role, metadata, created_at, updated_at)
                    SELECT id, ${org}::uuid, external_id, name, 'member', metadata, now(), now() FROM i
                    ON CONFLICT (organization_id, external_id) ${onConflict}
                    RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM up`);
      counts.written = rows[0].inserted;
      counts.updated = rows[0].updated;
      counts.skipped = users.length - counts.written - counts.updated;
    }
    return { counts, ids: await this.userIds(c, org, externalIds) };
  }

  private async userIds(c: SqlClient, org: string, externalIds: string[]): Promise<Map<string, string>> {
    if (!externalIds.length) return new Map();
    const rows = await c.query<{ id: string; external_id: string }>(Prisma.sql`
      SELECT id::text, external_id FROM users WHERE organization_id = ${org}::uuid AND external_id = ANY(${externalIds}::text[])`);
    return new Map(rows.map((r) => [r.external_id, r.id]));
  }

  /** Loads the name → id maps of a resumed run (its agents and users were written before the interruption). */
  async refIds(c: SqlClient, org: string, agentNames: string[], userExternalIds: string[]): Promise<RefIds> {
    return { agents: await this.agentIds(c, org, agentNames), users: await this.userIds(c, org, userExternalIds) };
  }

  /**
   * Conversations and their messages. New messages get seq after the conversation's last_seq, in source order
   * (1..n for a new conversation), and message_count / last_seq / last_message_at move in the same statement:
   * for a conversation that was there, that is MessageRepository.appendRecords (the API's append rule); one
   * created by this batch gets its counters with its row and its messages by COPY, seq = position. Messages are
   * matched by (conversation, clientId).
   */
  async writeConversations(
    c: SqlClient,
    org: string,
    conversations: ConversationRecord[],
    refs: RefIds,
    mode: OnConflict,
  ): Promise<{ conversations: WriteCounts; messages: WriteCounts }> {
    const convRows = conversations.map((c) => ({
      id: stableId(org, 'conversation', c.sourceId),
      // Counters for the case the row is new: then exactly these messages follow with seq 1..n.
      message_count: c.messages.length,
      last_message_at: c.messages.length ? iso(new Date(Math.max(...c.messages.map((m) => m.createdAt.getTime())))) : null,
      agent_id: refs.agents.get(c.agentName) ?? null,
      user_id: c.userExternalId ? (refs.users.get(c.userExternalId) ?? null) : null,
      session_id: c.sessionId ?? c.sourceId,
      title: c.title,
      metadata: c.metadata,
      created_at: iso(c.createdAt),
      last_activity_at: iso(c.lastActivityAt),
    }));
    const missingAgent = convRows.find((r) => !r.agent_id);
    if (missingAgent) throw new Error(`internal: no agent resolved for conversation ${missingAgent.session_id}`);
    const msgRows: MessageRow[] = conversations.flatMap((c, ci) =>
      c.messages.map((m, ord) => ({
        id: stableId(org, 'message', m.clientId),
        conversation_id: convRows[ci].id,
        ord,
        role: m.role,
        content: m.content,
        message_type: m.messageType,
        tool_name: m.toolName,
        tool_args: m.toolArgs,
        tool_call_id: m.toolCallId,
        model: m.model,
        tokens_used: m.tokensUsed,
        client_id: m.clientId,
        metadata: m.metadata,
        created_at: iso(m.createdAt),
      })),
    );
    const convIds = convRows.map((r) => r.id);
    const clientIds = msgRows.map((r) => r.client_id);
    if (mode === 'fail') {
      const taken = await c.query<{ ref: string }>(Prisma.sql`
        SELECT session_id AS ref FROM conversations WHERE id = ANY(${convIds}::uuid[])
        UNION ALL
        (SELECT client_id FROM messages WHERE conversation_id = ANY(${convIds}::uuid[]) AND client_id = ANY(${clientIds}::text[]) LIMIT 5)`);
      if (taken.length) throw conflict('conversation or message', taken.map((t) => t.ref));
    }
    const convPayload = json(convRows);
    const convConflict =
      mode === 'replace'
        ? Prisma.sql`DO UPDATE SET agent_id = excluded.agent_id, user_id = excluded.user_id, session_id = excluded.session_id,
                        title = excluded.title, metadata = excluded.metadata, created_at = excluded.created_at,
                        last_activity_at = greatest(conversations.last_activity_at, excluded.last_activity_at), updated_at = now()
                      WHERE conversations.organization_id = excluded.organization_id
                        AND (conversations.agent_id, conversations.user_id, conversations.session_id, conversations.title,
                             conversations.metadata, conversations.created_at)
                            IS DISTINCT FROM (excluded.agent_id, excluded.user_id, excluded.session_id, excluded.title,
                             excluded.metadata, excluded.created_at)`
        : Prisma.sql`DO NOTHING`;
    const [conv] = await c.query<{ fresh: string[]; updated: number }>(Prisma.sql`
      WITH i AS (SELECT * FROM jsonb_to_recordset(${convPayload}::jsonb) AS i(id uuid, agent_id uuid, user_id uuid, session_id text,
                   title text, metadata jsonb, created_at timestamptz, last_activity_at timestamptz, message_count int, last_message_at timestamptz)),
           up AS (INSERT INTO conversations (id, organization_id, agent_id, user_id, session_id, title, status, message_count, last_seq,
                                             last_message_at, last_activity_at, metadata, created_at, updated_at)
                  SELECT id, ${org}::uuid, agent_id, user_id, session_id, title, 'active', message_count, message_count, last_message_at,
                         greatest(last_activity_at, last_message_at), metadata, created_at, now() FROM i
                  ON CONFLICT (id) ${convConflict}
                  RETURNING id::text, (xmax = 0) AS inserted)
      SELECT coalesce(array_agg(id) FILTER (WHERE inserted), '{}') AS fresh, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM up`);

    const fresh = new Set(conv.fresh);
    // Messages of conversations created just now need no lookup, no seq arithmetic and no counter update:
    // their seq is their position and the conversation row was inserted with the final counters.
    const freshRows = msgRows.filter((m) => fresh.has(m.conversation_id));
    const oldRows = msgRows.filter((m) => !fresh.has(m.conversation_id));
    await this.insertNewMessages(c, org, freshRows);
    let updatedMessages = 0;
    const msgPayload = json(oldRows);
    if (mode === 'replace' && oldRows.length) {
      const [u] = await c.query<{ n: number }>(Prisma.sql`
        WITH i AS (SELECT * FROM jsonb_to_recordset(${msgPayload}::jsonb) AS i(id uuid, conversation_id uuid, ord int, role message_role,
                     content text, message_type message_type, tool_name text, tool_args jsonb, tool_call_id text, model text,
                     tokens_used int, client_id text, metadata jsonb, created_at timestamptz)),
             upd AS (UPDATE messages m SET role = i.role, content = i.content, message_type = i.message_type, tool_name = i.tool_name,
                            tool_args = i.tool_args, tool_call_id = i.tool_call_id, model = i.model, tokens_used = i.tokens_used,
                            metadata = i.metadata, created_at = i.created_at, updated_at = now()
                       FROM i
                      WHERE m.conversation_id = i.conversation_id AND m.client_id = i.client_id AND m.organization_id = ${org}::uuid
                        AND (m.role, m.content, m.message_type, m.tool_name, m.tool_args, m.tool_call_id, m.model, m.tokens_used,
                             m.metadata, m.created_at)
                            IS DISTINCT FROM (i.role, i.content, i.message_type, i.tool_name, i.tool_args, i.tool_call_id, i.model,
                             i.tokens_used, i.metadata, i.created_at)
                     RETURNING 1)
        SELECT count(*)::int AS n FROM upd`);
      updatedMessages = u.n;
    }
    // Messages for conversations that were there already: the API's append rule (MessageRepository), which
    // numbers them after the conversation's last seq, skips clientIds it has and moves its counters.
    const appended = await this.messages.appendRecords(
      c,
      org,
      oldRows.map(({ ord, ...m }) => ({ ...m, idx: ord, is_streaming: false })),
    );
    const insertedMessages = freshRows.length + appended;
    return {
      conversations: { written: fresh.size, updated: conv.updated, skipped: conversations.length - fresh.size - conv.updated },
      messages: { written: insertedMessages, updated: updatedMessages, skipped: msgRows.length - insertedMessages - updatedMessages },
    };
  }

  /**
   * New messages with their final seq: COPY on PostgreSQL (the bulk-insert path, several times cheaper per row
   * than INSERT … SELECT), one INSERT … SELECT FROM jsonb_to_recordset where COPY is not available.
   */
  private async insertNewMessages(c: SqlClient, org: string, rows: MessageRow[]): Promise<void> {
    if (!rows.length) return;
    const now = new Date().toISOString();
    if (c.copy) {
      const lines = function* () {
        for (const m of rows) {
          yield [m.id, org, m.conversation_id, m.ord + 1, m.role, m.content, m.message_type, m.tool_name, m.tool_args, m.tool_call_id, 'f', 't',
            m.model, m.tokens_used, m.client_id, m.metadata, m.created_at, now].map(csvField).join(',') + '\n';
        }
      };
      await c.copy('messages', MESSAGE_COLUMNS, lines());
      return;
    }
    await c.query(Prisma.sql`
      INSERT INTO messages (${Prisma.raw(MESSAGE_COLUMNS.join(', '))})
      SELECT i.id, ${org}::uuid, i.conversation_id, i.ord + 1, i.role, i.content, i.message_type, i.tool_name, i.tool_args, i.tool_call_id,
             false, true, i.model, i.tokens_used, i.client_id, i.metadata, i.created_at, now()
        FROM jsonb_to_recordset(${json(rows)}::jsonb) AS i(id uuid, conversation_id uuid, ord int, role message_role, content text,
             message_type message_type, tool_name text, tool_args jsonb, tool_call_id text, model text, tokens_used int, client_id text,
             metadata jsonb, created_at timestamptz)`);
  }

  /** Payments by idempotency key `<source>:<id>`; refunds by their stable id. */
  async writePayments(
    c: SqlClient,
    org: string,
    source: string,
    payments: PaymentRecord[],
    refs: RefIds,
    mode: OnConflict,
  ): Promise<{ payments: WriteCounts; refunds: WriteCounts }> {
    const rows = payments.map((p) => ({
      id: stableId(org, 'payment', p.sourceId),
      user_id: p.userExternalId ? (refs.users.get(p.userExternalId) ?? null) : null,
      amount: p.amount,
      currency: p.currency,
      status: p.status,
      refunded_amount: p.refundedAmount,
      description: p.description,
      failure_reason: p.failureReason,
      idempotency_key: `${source}:${p.sourceId}`,
      request_hash: p.requestHash,
      metadata: p.metadata,
      created_at: iso(p.createdAt),
    }));
    const refunds = payments.flatMap((p) =>
      p.refunds.map((r) => ({ id: stableId(org, 'refund', r.sourceId), payment_key: `${source}:${p.sourceId}`, amount: r.amount, reason: r.reason, created_at: iso(r.createdAt) })),
    );
    const keys = rows.map((r) => r.idempotency_key);
    if (mode === 'fail' && rows.length) {
      const taken = await c.query<{ ref: string }>(Prisma.sql`
        SELECT idempotency_key AS ref FROM payments WHERE organization_id = ${org}::uuid AND idempotency_key = ANY(${keys}::text[]) LIMIT 5`);
      if (taken.length) throw conflict('payment', taken.map((t) => t.ref));
    }
    const onConflict =
      mode === 'replace'
        ? Prisma.sql`DO UPDATE SET user_id = excluded.user_id, amount = excluded.amount, currency = excluded.currency, status = excluded.status,
                        refunded_amount = excluded.refunded_amount, description = excluded.description, failure_reason = excluded.failure_reason,
                        request_hash = excluded.request_hash, metadata = excluded.metadata, created_at = excluded.created_at, updated_at = now()
                      WHERE (payments.user_id, payments.amount, payments.currency, payments.status, payments.refunded_amount, payments.description,
                             payments.failure_reason, payments.metadata, payments.created_at)
                            IS DISTINCT FROM (excluded.user_id, excluded.amount, excluded.currency, excluded.status, excluded.refunded_amount,
                             excluded.description, excluded.failure_reason, excluded.metadata, excluded.created_at)`
        : Prisma.sql`DO NOTHING`;
    const counts = { payments: { written: 0, updated: 0, skipped: 0 }, refunds: { written: 0, updated: 0, skipped: 0 } };
    if (rows.length) {
      const [p] = await c.query<{ inserted: number; updated: number }>(Prisma.sql`
        WITH i AS (SELECT * FROM jsonb_to_recordset(${json(rows)}::jsonb) AS i(id uuid, user_id uuid, amount numeric, currency text,
                     status payment_status, refunded_amount numeric, description text, failure_reason text, idempotency_key text,
                     request_hash text, metadata jsonb, created_at timestamptz)),
             up AS (INSERT INTO payments (id, organization_id, user_id, amount, currency, status, refunded_amount, description,
                                          failure_reason, idempotency_key, request_hash, metadata, created_at, updated_at)
                    SELECT id, ${org}::uuid, user_id, amount, currency, status, refunded_amount, description, failure_reason,
                           idempotency_key, request_hash, metadata, created_at, now() FROM i
                    ON CONFLICT (organization_id, idempotency_key) ${onConflict}
                    RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM up`);
      counts.payments = { written: p.inserted, updated: p.updated, skipped: rows.length - p.inserted - p.updated };
    }
    if (refunds.length) {
      const refundConflict =
        mode === 'replace'
          ? Prisma.sql`DO UPDATE SET amount = excluded.amount, reason = excluded.reason, created_at = excluded.created_at
                        WHERE (refunds.amount, refunds.reason, refunds.created_at) IS DISTINCT FROM (excluded.amount, excluded.reason, excluded.created_at)`
          : Prisma.sql`DO NOTHING`;
      const [r] = await c.query<{ inserted: number; updated: number }>(Prisma.sql`
        WITH i AS (SELECT * FROM jsonb_to_recordset(${json(refunds)}::jsonb) AS i(id uuid, payment_key text, amount numeric, reason text, created_at timestamptz)),
             up AS (INSERT INTO refunds (id, organization_id, payment_id, amount, reason, created_at)
                    SELECT i.id, ${org}::uuid, p.id, i.amount, i.reason, i.created_at
                      FROM i JOIN payments p ON p.organization_id = ${org}::uuid AND p.idempotency_key = i.payment_key
                    ON CONFLICT (id) ${refundConflict}
                    RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM up`);
      counts.refunds = { written: r.inserted, updated: r.updated, skipped: refunds.length - r.inserted - r.updated };
    }
    return counts;
  }

  async writeEvents(c: SqlClient, org: string, events: EventRecord[], refs: RefIds, mode: OnConflict): Promise<WriteCounts> {
    if (!events.length) return { written: 0, updated: 0, skipped: 0 };
    const rows = events.map((e) => ({
      id: stableId(org, 'event', e.sourceId),
      type: e.type,
      agent_id: e.agentName ? (refs.agents.get(e.agentName) ?? null) : null,
      data: e.data,
      occurred_at: iso(e.occurredAt),
    }));
    const ids = rows.map((r) => r.id);
    if (mode === 'fail') await this.failIfExists(c, 'analytics_events', 'analytics event', ids);
    const onConflict =
      mode === 'replace'
        ? Prisma.sql`DO UPDATE SET type = excluded.type, agent_id = excluded.agent_id, data = excluded.data, occurred_at = excluded.occurred_at
                      WHERE (analytics_events.type, analytics_events.agent_id, analytics_events.data, analytics_events.occurred_at)
                            IS DISTINCT FROM (excluded.type, excluded.agent_id, excluded.data, excluded.occurred_at)`
        : Prisma.sql`DO NOTHING`;
    const [r] = await c.query<{ inserted: number; updated: number }>(Prisma.sql`
      WITH i AS (SELECT * FROM jsonb_to_recordset(${json(rows)}::jsonb) AS i(id uuid, type text, agent_id uuid, data jsonb, occurred_at timestamptz)),
           up AS (INSERT INTO analytics_events (id, organization_id, type, agent_id, data, occurred_at, received_at)
                  SELECT id, ${org}::uuid, type, agent_id, data, occurred_at, now() FROM i
                  ON CONFLICT (id) ${onConflict}
                  RETURNING (xmax = 0) AS inserted)
      SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM up`);
    return { written: r.inserted, updated: r.updated, skipped: rows.length - r.inserted - r.updated };
  }

  async writeDocuments(c: SqlClient, org: string, documents: DocumentRecord[], refs: RefIds, mode: OnConflict): Promise<WriteCounts> {
    if (!documents.length) return { written: 0, updated: 0, skipped: 0 };
    const rows = documents.map((d) => ({
      id: stableId(org, 'document', d.sourceId),
      agent_id: d.agentName ? (refs.agents.get(d.agentName) ?? null) : null,
      title: d.title,
      content: d.content,
      metadata: d.metadata,
      created_at: iso(d.createdAt),
    }));
    const chunks = documents.flatMap((d, di) =>
      d.chunks.map((c, position) => ({
        id: stableId(org, 'document_chunk', `${d.sourceId}#${position}`),
        document_id: rows[di].id,
        position,
        content: c.content,
        embedding: c.embedding ? (toSql(c.embedding) as string) : null,
      })),
    );
    const ids = rows.map((r) => r.id);
    if (mode === 'fail') await this.failIfExists(c, 'documents', 'document', ids);
    const onConflict =
      mode === 'replace'
        ? Prisma.sql`DO UPDATE SET agent_id = excluded.agent_id, title = excluded.title, content = excluded.content, metadata = excluded.metadata,
                        created_at = excluded.created_at, updated_at = now()
                      WHERE (documents.agent_id, documents.title, documents.content, documents.metadata, documents.created_at)
                            IS DISTINCT FROM (excluded.agent_id, excluded.title, excluded.content, excluded.metadata, excluded.created_at)`
        : Prisma.sql`DO NOTHING`;
    const [r] = await c.query<{ inserted: number; updated: number }>(Prisma.sql`
      WITH i AS (SELECT * FROM jsonb_to_recordset(${json(rows)}::jsonb) AS i(id uuid, agent_id uuid, title text, content text, metadata jsonb, created_at timestamptz)),
           up AS (INSERT INTO documents (id, organization_id, agent_id, title, content, metadata, created_at, updated_at)
                  SELECT id, ${org}::uuid, agent_id, title, content, metadata, coalesce(created_at, now()), now() FROM i
                  ON CONFLICT (id) ${onConflict}
                  RETURNING id, (xmax = 0) AS inserted)
      SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM up`);
    if (chunks.length) {
      // Chunks follow their document: inserted with it, rewritten when it is replaced, untouched when it is skipped.
      const chunkConflict =
        mode === 'replace'
          ? Prisma.sql`DO UPDATE SET content = excluded.content, embedding = excluded.embedding
                        WHERE (document_chunks.content, document_chunks.embedding::text) IS DISTINCT FROM (excluded.content, excluded.embedding::text)`
          : Prisma.sql`DO NOTHING`;
      await c.query(Prisma.sql`
        INSERT INTO document_chunks (id, organization_id, document_id, position, content, embedding, created_at)
        SELECT i.id, ${org}::uuid, i.document_id, i.position, i.content, i.embedding::vector, now()
          FROM jsonb_to_recordset(${json(chunks)}::jsonb) AS i(id uuid, document_id uuid, position int, content text, embedding text)
        ON CONFLICT (document_id, position) ${chunkConflict}`);
    }
    return { written: r.inserted, updated: r.updated, skipped: rows.length - r.inserted - r.updated };
  }

  /**
   * Memories by stable id. `replace` rewrites every column the source supplies (counted as updated only when one
   * differs); the embedding is compared as text, the form pgvector prints it in.
   */
  async writeMemories(c: SqlClient, org: string, memories: MemoryRecord[], refs: RefIds, mode: OnConflict): Promise<WriteCounts> {
    if (!memories.length) return { written: 0, updated: 0, skipped: 0 };
    const rows = memories.map((m) => ({
      id: stableId(org, 'memory', m.sourceId),
      agent_id: m.agentName ? (refs.agents.get(m.agentName) ?? null) : null,
      user_id: m.userExternalId ? (refs.users.get(m.userExternalId) ?? null) : null,
      content: m.content,
      embedding: toSql(m.embedding) as string,
      importance: m.importance,
      kind: m.kind,
      metadata: m.metadata,
      created_at: iso(m.createdAt),
    }));
    if (mode === 'fail') await this.failIfExists(c, 'memories', 'memory', rows.map((r) => r.id));
    const onConflict =
      mode === 'replace'
        ? Prisma.sql`DO UPDATE SET agent_id = excluded.agent_id, user_id = excluded.user_id, content = excluded.content, embedding = excluded.embedding,
                        importance = excluded.importance, kind = excluded.kind, metadata = excluded.metadata, created_at = excluded.created_at, updated_at = now()
                      WHERE (memories.agent_id, memories.user_id, memories.content, memories.embedding::text, memories.importance, memories.kind, memories.metadata, memories.created_at)
                            IS DISTINCT FROM (excluded.agent_id, excluded.user_id, excluded.content, excluded.embedding::text, excluded.importance, excluded.kind, excluded.metadata, excluded.created_at)`
        : Prisma.sql`DO NOTHING`;
    const [r] = await c.query<{ inserted: number; updated: number }>(Prisma.sql`
      WITH i AS (SELECT * FROM jsonb_to_recordset(${json(rows)}::jsonb)
                   AS i(id uuid, agent_id uuid, user_id uuid, content text, embedding text, importance float8, kind text, metadata jsonb, created_at timestamptz)),
           up AS (INSERT INTO memories (id, organization_id, agent_id, user_id, content, embedding, importance, kind, metadata, created_at, updated_at)
                  SELECT id, ${org}::uuid, agent_id, user_id, content, embedding::vector, importance, kind, metadata, created_at, now() FROM i
                  ON CONFLICT (id) ${onConflict}
                  RETURNING (xmax = 0) AS inserted)
      SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE NOT inserted)::int AS updated FROM up`);
    return { written: r.inserted, updated: r.updated, skipped: rows.length - r.inserted - r.updated };
  }

  private async failIfExists(c: SqlClient, table: 'analytics_events' | 'documents' | 'memories', entity: string, ids: string[]): Promise<void> {
    const taken = await c.query<{ id: string }>(Prisma.sql`
      SELECT id::text FROM ${Prisma.raw(`"${table}"`)} WHERE id = ANY(${ids}::uuid[]) LIMIT 5`);
    if (taken.length) throw conflict(entity, taken.map((t) => t.id));
  }

  // ---- verification: what the target holds for the imported ids ----

  /** Per conversation (by source id): count and fingerprint of the imported messages (clientId under `prefix`), in seq order. */
  async conversationFingerprints(
    c: SqlClient,
    org: string,
    sourceIds: string[],
    clientIdPrefix: string,
  ): Promise<Map<string, { messages: number; hash: string }>> {
    const ids = sourceIds.map((s) => stableId(org, 'conversation', s));
    const like = `${clientIdPrefix}%`;
    const rows = await c.query<{ id: string; n: number; hash: string }>(Prisma.sql`
      SELECT c.id::text, count(m.id)::int AS n,
             md5(coalesce(string_agg(m.role::text || ':' || md5(m.content), ',' ORDER BY m.seq), '')) AS hash
        FROM conversations c
        LEFT JOIN messages m ON m.conversation_id = c.id AND m.client_id LIKE ${like}
       WHERE c.id = ANY(${ids}::uuid[]) AND c.organization_id = ${org}::uuid
       GROUP BY c.id`);
    const bySource = new Map(sourceIds.map((s, i) => [ids[i], s]));
    return new Map(rows.map((r) => [bySource.get(r.id)!, { messages: r.n, hash: r.hash }]));
  }

  /** How many of these stable ids exist in a table. */
  async countIds(c: SqlClient, org: string, table: 'analytics_events' | 'documents' | 'memories' | 'refunds', entity: string, sourceIds: string[]): Promise<number> {
    if (!sourceIds.length) return 0;
    const ids = sourceIds.map((s) => stableId(org, entity, s));
    const [r] = await c.query<{ n: number }>(Prisma.sql`
      SELECT count(*)::int AS n FROM ${Prisma.raw(`"${table}"`)} WHERE organization_id = ${org}::uuid AND id = ANY(${ids}::uuid[])`);
    return r.n;
  }

  /** Imported payments: count and total per currency (exact decimal text). */
  async paymentTotals(c: SqlClient, org: string, keys: string[]): Promise<Map<string, { count: number; total: string }>> {
    if (!keys.length) return new Map();
    const rows = await c.query<{ currency: string; n: number; total: string }>(Prisma.sql`
      SELECT currency, count(*)::int AS n, sum(amount)::text AS total FROM payments
       WHERE organization_id = ${org}::uuid AND idempotency_key = ANY(${keys}::text[]) GROUP BY currency`);
    return new Map(rows.map((r) => [r.currency, { count: r.n, total: r.total }]));
  }

  async countAgentsAndUsers(c: SqlClient, org: string, names: string[], externalIds: string[]): Promise<{ agents: number; users: number }> {
    const refs = await this.refIds(c, org, names, externalIds);
    return { agents: refs.agents.size, users: refs.users.size };
  }
}

function conflict(entity: string, refs: string[]): ImportConflictError {
  return new ImportConflictError(
    `${entity} already exists in the target (${refs.slice(0, 5).join(', ')}${refs.length > 5 ? ', …' : ''}); ` +
      `--on-conflict fail stops here (this batch was not written; use skip or replace to continue)`,
  );
}

export type { ExpectedConversation };
