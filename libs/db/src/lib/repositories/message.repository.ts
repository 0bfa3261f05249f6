import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { MessageRole, MessageType } from '../../generated/prisma/enums';
import { fixedText, PrismaService, type Db } from '../prisma.service';
import { ConflictError, InvalidInputError, InvalidStateError, NotFoundError, isUniqueViolation } from '../errors';
import { isUuid, pageSize, type Page } from '../pagination';
import { checkJson, checkText, MAX_TEXT_LENGTH, throwIfProblems, type Problem } from '../validation';
import { auditInsertSql, auditInsertWithCte, type AuditRow } from './audit-log.repository';

export const MESSAGE_SELECT = {
  id: true,
  organizationId: true,
  conversationId: true,
  seq: true,
  role: true,
  content: true,
  messageType: true,
  toolName: true,
  toolArgs: true,
  toolCallId: true,
  isStreaming: true,
  isComplete: true,
  model: true,
  tokensUsed: true,
  clientId: true,
  metadata: true,
  createdAt: true,
  updatedAt: true,
} satisfies Prisma.MessageSelect;
/**
 * A message as the repository returns it. `createdAt` / `updatedAt` are ISO 8601 UTC strings with milliseconds
 * (`2026-11-30T09:45:06.324Z`, what the API sends): PostgreSQL writes them so, where parsing each timestamp into a
 * Date and writing it back out cost ~8 % of the API's CPU on a page of 50 messages (profile of the page load).
 */
export type MessageRow = Omit<Prisma.MessageGetPayload<{ select: typeof MESSAGE_SELECT }>, 'createdAt' | 'updatedAt'> & {
  createdAt: string;
  updatedAt: string;
};

/** A timestamptz(3) column as `toISOString()` writes it. */
const isoColumn = (column: string) => `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * A message as the API shows it (MessageRow without organizationId), by the alias `m`: camelCase aliases, enums as
 * text, times as ISO strings. The SELECT list of every raw message read (append, page, search, with the organization
 * id in front: MESSAGE_COLUMNS) and the payload of its `message.created` live event, which the append statement
 * writes itself (CREATED_EVENT_PAYLOAD).
 */
const MESSAGE_VIEW_COLUMNS = `
  m.id, m.conversation_id AS "conversationId", m.seq, m.role::text AS role,
  m.content, m.message_type::text AS "messageType", m.tool_name AS "toolName", m.tool_args AS "toolArgs",
  m.tool_call_id AS "toolCallId", m.is_streaming AS "isStreaming", m.is_complete AS "isComplete", m.model,
  m.tokens_used AS "tokensUsed", m.client_id AS "clientId", m.metadata, ${isoColumn('m.created_at')} AS "createdAt",
  ${isoColumn('m.updated_at')} AS "updatedAt"`;
const MESSAGE_COLUMNS = Prisma.raw(`m.organization_id AS "organizationId", ${MESSAGE_VIEW_COLUMNS}`);
/** The `message.created` event's payload of the inserted row `m` (jsonb; its key order is jsonb's, as before). */
const CREATED_EVENT_PAYLOAD = Prisma.raw(`(SELECT to_jsonb(v) FROM (SELECT ${MESSAGE_VIEW_COLUMNS}) v)`);

/** The columns both append statements (batch, one message) insert, in the order of their SELECT lists. */
const MESSAGE_INSERT_COLUMNS = Prisma.raw(
  'id, organization_id, conversation_id, seq, role, content, message_type, tool_name, tool_args, tool_call_id, ' +
    'is_streaming, is_complete, model, tokens_used, client_id, metadata, created_at, updated_at',
);

export interface MessageInput {
  role: MessageRole;
  content?: string;
  messageType?: MessageType;
  toolName?: string | null;
  toolArgs?: Prisma.InputJsonValue | null;
  toolCallId?: string | null;
  model?: string | null;
  tokensUsed?: number | null;
  metadata?: Prisma.InputJsonObject;
  clientId?: string | null;
  isStreaming?: boolean;
}

export interface MessageSearchHit extends MessageRow {
  rank: number;
  snippet: string;
}

/** Runs a statement on some connection and returns its rows (the importer's SqlClient is one). */
export interface SqlRunner {
  query<T = unknown>(sql: Prisma.Sql): Promise<T[]>;
}

/**
 * One message of a batch append (validated, in the database's column names), in a conversation; `id` and
 * `created_at` null for a new id and now(). `idx` orders the records of one conversation.
 */
export interface AppendRecord extends MessageRecord {
  conversation_id: string;
  id: string | null;
  created_at: string | null;
}

/**
 * THE append rule, for any number of messages in any number of conversations (the API's batch appends and the
 * importer's appends to existing conversations; the one-message statement, insertOne, is its shortest form).
 * The UPDATE of each conversation row takes its row lock, so concurrent appends to one conversation queue there
 * and each sees the previous one's last_seq; the INSERT reads that value in the same statement: seq is gap-free,
 * in record order, and the counters move with it. A clientId the conversation already has is skipped (the NOT
 * EXISTS reads the snapshot from before the lock wait: a concurrent twin fails on the unique index instead).
 * lastMessageAt is now() for an append (the newest message's time, as API.md says), and for records that carry
 * their own (older) times — an import — the latest of those and what the conversation had: neither moves back. `recordCreatedEvents` also writes each new message's `message.created` live event; `returning` the new rows
 * (MESSAGE_COLUMNS and the conversation's last event seq) or only their number.
 */
function appendSql(
  organizationId: string,
  records: AppendRecord[],
  options: { recordCreatedEvents: boolean; returning: 'rows' | 'count' },
): Prisma.Sql {
  const reserve = options.recordCreatedEvents;
  const result =
    options.returning === 'rows'
      ? Prisma.sql`SELECT ${MESSAGE_COLUMNS}, CASE WHEN ${reserve}::boolean THEN conv.last_event END AS "lastEventSeq"
                     FROM m JOIN conv ON conv.id = m.conversation_id ORDER BY m.conversation_id, m.seq`
      : Prisma.sql`SELECT count(*)::int AS n FROM m`;
  return Prisma.sql`
    WITH input AS (
      SELECT * FROM jsonb_to_recordset(${JSON.stringify(records)}::jsonb) AS i(
        idx int, conversation_id uuid, id uuid, role message_role, content text, message_type message_type, tool_name text,
        tool_args jsonb, tool_call_id text, is_streaming boolean, model text, tokens_used int, client_id text, metadata jsonb,
        created_at timestamptz)
    ), fresh AS (
      SELECT i.*, row_number() OVER (PARTITION BY i.conversation_id ORDER BY i.idx) AS n
        FROM input i
       WHERE i.client_id IS NULL OR NOT EXISTS (
             SELECT 1 FROM messages e WHERE e.conversation_id = i.conversation_id AND e.client_id = i.client_id)
    ), counts AS (
      SELECT conversation_id, count(*)::int AS cnt, max(created_at) AS dated_at FROM fresh GROUP BY conversation_id
    ), conv AS (
      UPDATE conversations c
         SET last_seq = c.last_seq + f.cnt, message_count = c.message_count + f.cnt,
             last_event_seq = c.last_event_seq + CASE WHEN ${reserve}::boolean THEN f.cnt ELSE 0 END,
             last_message_at = CASE WHEN f.dated_at IS NULL THEN now() ELSE greatest(c.last_message_at, f.dated_at) END,
             last_activity_at = greatest(c.last_activity_at, coalesce(f.dated_at, now())),
             updated_at = now()
        FROM counts f
       WHERE c.id = f.conversation_id AND c.organization_id = ${organizationId}::uuid AND c.status <> 'deleted'
      RETURNING c.id, c.last_seq - f.cnt AS base, c.last_seq AS last_seq, c.last_event_seq AS last_event
    ), m AS (
      INSERT INTO messages (${MESSAGE_INSERT_COLUMNS})
      SELECT coalesce(f.id, gen_random_uuid()), ${organizationId}::uuid, f.conversation_id, conv.base + f.n, f.role,
             coalesce(f.content, ''), f.message_type, f.tool_name, f.tool_args, f.tool_call_id, coalesce(f.is_streaming, false),
             NOT coalesce(f.is_streaming, false), f.model, f.tokens_used, f.client_id, coalesce(f.metadata, '{}'),
             coalesce(f.created_at, now()), now()
        FROM fresh f JOIN conv ON conv.id = f.conversation_id
      RETURNING id, organization_id, conversation_id, seq, role, content, message_type, tool_name, tool_args,
                tool_call_id, is_streaming, is_complete, model, tokens_used, client_id, metadata, created_at, updated_at
    ), events AS (
      INSERT INTO conversation_events (organization_id, conversation_id, seq, type, payload)
      SELECT m.organization_id, m.conversation_id, conv.last_event - conv.last_seq + m.seq, 'message.created', ${CREATED_EVENT_PAYLOAD}
        FROM m JOIN conv ON conv.id = m.conversation_id
       WHERE ${reserve}::boolean
    )
    ${result}`;
}

export interface AppendOptions {
  /** write each new message's `message.created` live event in the same statement */
  recordCreatedEvents?: boolean;
  /**
   * the audit entry of the messages written now: for one message built before the statement (with the id chosen for
   * it) and inserted only with it; for a batch built after it, and not at all when every message was a replay
   */
  audit?: (created: Array<{ id: string; role: MessageRole }>) => AuditRow;
  /** in a raw transaction, commit with the append statement when it can (see appendWithOutcome) */
  commit?: boolean;
}

export interface AppendOutcome {
  /** every message of the request, in request order (replays as stored) */
  messages: MessageRow[];
  /** the messages written now, in seq order */
  inserted: MessageRow[];
  /** the last live event seq written (recordCreatedEvents), null when none */
  lastEventSeq: number | null;
  /** the audit entry inserted (AppendOptions.audit), null when none */
  audit: AuditRow | null;
}

/** A message's roles and types: the schema's enums, as lists (for the API's DTO and the importers' mapping). */
export const MESSAGE_ROLES = Object.values(MessageRole) as [MessageRole, ...MessageRole[]];
export const MESSAGE_TYPES = Object.values(MessageType) as [MessageType, ...MessageType[]];

/**
 * The limits of a message input, checked where a message comes in (the API's DTO, with its 4xx) and again by
 * this repository for every other caller: one definition, so the two cannot drift apart.
 */
export const MESSAGE_LIMITS = {
  /** messages per append request */
  perAppend: 1000,
  /** characters of content (and of one streamed delta) */
  content: MAX_TEXT_LENGTH,
  /** characters of toolName, toolCallId and model */
  name: 1000,
  /** characters of clientId */
  clientId: 255,
  /** tokensUsed, and seq: PostgreSQL integers */
  integer: 2 ** 31 - 1,
} as const;

export const MAX_MESSAGES_PER_APPEND = MESSAGE_LIMITS.perAppend;
const MAX_SEQ = MESSAGE_LIMITS.integer;
const isSeq = (n: number) => Number.isInteger(n) && n >= 0 && n <= MAX_SEQ;
const ROLES = new Set<string>(MESSAGE_ROLES);
const TYPES = new Set<string>(MESSAGE_TYPES);

@Injectable()
export class MessageRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /**
   * Appends messages to a conversation and returns them in request order.
   *
   * Each new message gets the next `seq` (1, 2, 3 … per conversation, gap-free, in request order) and the
   * conversation's messageCount / lastMessageAt move in the same statement. A `clientId` already stored in the
   * conversation (or repeated within the batch) returns the existing message instead of a new one.
   *
   * Why one hand-written statement: the UPDATE of the conversation row takes its row lock, so concurrent appends
   * to one conversation queue there and each sees the previous one's last_seq; the INSERT reads that value in
   * the same statement. Being a single statement it is atomic on its own — no gap can be left by a failure —
   * and costs one round trip, which keeps appends close to a raw INSERT. The NOT EXISTS dedup reads the
   * snapshot from before the lock wait, so a concurrent append of the same clientId can still collide on the
   * unique (conversation_id, client_id) index: that rolls the statement back and it is simply run again.
   * Outside a transaction the statement goes straight to the pool (PrismaService.queryRows).
   */
  async append(
    organizationId: string,
    conversationId: string,
    inputs: MessageInput[],
    db: Db = this.prisma,
  ): Promise<MessageRow[]> {
    return (await this.appendWithOutcome(organizationId, conversationId, inputs, db)).messages;
  }

  /**
   * `append`, also telling which of the returned messages were written now (the rest are clientId replays).
   * With `recordCreatedEvents`, the same statement also writes one `message.created` live event per message written
   * now (seqs from `conversations.last_event_seq`, moved under the row lock it takes anyway; the payload is the
   * message as returned) and returns the last event seq, for the caller to deliver once committed
   * (ConversationEventRecorder.recorded, ConversationEventRepository.announce). Measured reason for one statement
   * (tools/bench profile, append load, alternating runs): as a second INSERT sent with the COMMIT, its payloads the
   * message views as JSON text, 1,154 appends/s with 0.56 ms of the API's CPU and 0.81 ms of the database's per
   * append; in this statement 1,224/s, 0.53 ms and 0.76 ms.
   *
   * `audit` builds the audit entry of the messages written now (their ids and roles); it is inserted in the same
   * transaction and returned, for the caller to witness once committed. For one message, by the append statement
   * itself, and with `commit` (a raw transaction whose last write this is: nothing may be written after it in the
   * same transaction) the statement also commits: one round trip for the whole request. For a batch, the entry
   * follows the statement, with the COMMIT.
   */
  async appendWithOutcome(
    organizationId: string,
    conversationId: string,
    inputs: MessageInput[],
    db: Db = this.prisma,
    options: AppendOptions = {},
  ): Promise<AppendOutcome> {
    const reserve = options.recordCreatedEvents ?? false;
    const rows = validateInputs(inputs);
    if (!isUuid(conversationId)) throw new NotFoundError('conversation', conversationId);
    // Within one request, a repeated clientId maps to its first occurrence.
    const firstIndex = new Map<string, number>();
    const unique = rows.filter((r, i) => {
      if (!r.client_id) return true;
      if (firstIndex.has(r.client_id)) return false;
      firstIndex.set(r.client_id, i);
      return true;
    });
    // One message: its id is chosen here, so its audit entry (MAC included) can be built before the statement and
    // inserted by it, only if the message is (a clientId replay writes neither).
    const one = unique.length === 1 ? { id: randomUUID(), role: unique[0].role as MessageRole } : null;
    const oneEntry = one && options.audit ? options.audit([one]) : null;
    for (let attempt = 0; ; attempt++) {
      try {
        const inserted = one
          ? await this.insertOne(organizationId, conversationId, unique[0], one.id, reserve, oneEntry, db, options.commit ?? false)
          : await this.prisma.queryRows<MessageRow & { lastEventSeq?: number }>(
              db,
              appendSql(organizationId, unique.map((r) => ({ ...r, conversation_id: conversationId, id: null, created_at: null })), {
                recordCreatedEvents: reserve,
                returning: 'rows',
              }),
              { prepare: true },
            );
        const lastEventSeq = reserve && inserted.length ? (inserted[0] as { lastEventSeq?: number }).lastEventSeq ?? null : null;
        for (const row of inserted) delete (row as { lastEventSeq?: number }).lastEventSeq;
        let audit: AuditRow | null = null;
        if (inserted.length > 0 && options.audit) {
          if (one) audit = oneEntry;
          else {
            // A batch: which messages are new is known only now. The entry goes out with the COMMIT.
            audit = options.audit(inserted.map((m) => ({ id: m.id, role: m.role })));
            await this.prisma.queryRows(db, auditInsertSql([audit]), { deferUntilCommit: true });
          }
        }
        if (inserted.length === unique.length) return { messages: this.inRequestOrder(rows, inserted, []), inserted, lastEventSeq, audit };
        // Some clientIds already existed, or the conversation is not there: look both up.
        const clientIds = unique.map((r) => r.client_id).filter((c): c is string => !!c);
        const existing = await db.$queryRaw<MessageRow[]>`
          SELECT ${MESSAGE_COLUMNS} FROM messages m
           WHERE m.conversation_id = ${conversationId}::uuid AND m.organization_id = ${organizationId}::uuid
             AND m.client_id = ANY(${clientIds}::text[])`;
        if (inserted.length + existing.length < unique.length || !(await this.conversationExists(organizationId, conversationId, db))) {
          throw new NotFoundError('conversation', conversationId);
        }
        return { messages: this.inRequestOrder(rows, inserted, existing), inserted, lastEventSeq, audit };
      } catch (e) {
        if (!isUniqueViolation(e)) throw e;
        // Outside a transaction the statement simply runs again on a fresh snapshot. Inside a caller's
        // transaction the violation has aborted it, so the caller must retry the whole transaction.
        if (attempt < 3 && db === this.prisma) continue;
        const conflict = new ConflictError('a message with this clientId was appended concurrently; retry');
        conflict.retryTransaction = true;
        throw conflict;
      }
    }
  }

  /**
   * The batch append for a bulk writer on a connection of its own (the importer's, which also COPYs): the same
   * statement as `appendWithOutcome`'s, for messages of several conversations at once, each record with its id
   * and creation time (an importer's stable id and the source's time). Records are in order within each
   * conversation; a clientId the conversation already has, and a conversation not there (or deleted), write
   * nothing. Returns how many messages were written. No live events: nobody watches an import.
   */
  async appendRecords(client: SqlRunner, organizationId: string, records: AppendRecord[]): Promise<number> {
    if (records.length === 0) return 0;
    const [row] = await client.query<{ n: number }>(appendSql(organizationId, records, { recordCreatedEvents: false, returning: 'count' }));
    return row.n;
  }

  /**
   * The statement of `appendWithOutcome` for one message, the common case (an agent's turn): the same rule — the
   * conversation's row lock orders the appends, its `last_seq` gives the seq, a known clientId inserts nothing —
   * in the smallest plan: no JSON input to unpack, no window function, no count. PostgreSQL spends less than half
   * the time initialising and running it (pgbench, same transaction, 16 clients: ~1.5× the appends per second of
   * the batch statement with one message). A clientId seen in the statement's snapshot leaves the conversation
   * untouched and the row set empty, which the caller resolves like a replay in a batch. The message's id comes
   * from the caller, so that `audit`, the entry naming it, is inserted by the same statement (only with the message).
   * `commit`: sent with BEGIN and COMMIT when they are pending — a whole append in one round trip, holding the
   * conversation's row lock for no round trip at all (RawSession). Measured against the two round trips before
   * (statement, then audit INSERT + COMMIT), alternating: the append bench 0.18×/0.18× → 0.21×/0.22× raw INSERT,
   * CPU per append 0.82–0.96 → 0.75–0.81 ms in the API and 1.07–1.20 → 0.96–1.01 ms in PostgreSQL
   * (tools/bench profile.main.ts --case append). pgbench alone shows no difference: the gain is the client's.
   */
  private insertOne(
    organizationId: string,
    conversationId: string,
    r: MessageRecord,
    id: string,
    reserve: boolean,
    audit: AuditRow | null,
    db: Db,
    commit: boolean,
  ) {
    const audited = audit ? auditInsertWithCte(audit, 'm') : Prisma.empty;
    return this.prisma.queryRows<MessageRow & { lastEventSeq?: number }>(
      db,
      fixedText(audit ? 'message.insertOne:audited' : 'message.insertOne', Prisma.sql`
        WITH conv AS (
          UPDATE conversations c
             SET last_seq = c.last_seq + 1, message_count = c.message_count + 1,
                 last_event_seq = c.last_event_seq + CASE WHEN ${reserve}::boolean THEN 1 ELSE 0 END,
                 last_message_at = now(), last_activity_at = now(), updated_at = now()
           WHERE c.id = ${conversationId}::uuid AND c.organization_id = ${organizationId}::uuid AND c.status <> 'deleted'
             AND (${r.client_id}::text IS NULL OR NOT EXISTS (
                  SELECT 1 FROM messages e WHERE e.conversation_id = ${conversationId}::uuid AND e.client_id = ${r.client_id}::text))
          RETURNING c.last_seq, c.last_event_seq
        ), m AS (
          INSERT INTO messages (${MESSAGE_INSERT_COLUMNS})
          SELECT ${id}::uuid, ${organizationId}::uuid, ${conversationId}::uuid, conv.last_seq, ${r.role}::message_role,
                 ${r.content}::text, ${r.message_type}::message_type, ${r.tool_name}::text, ${r.tool_args === null ? null : JSON.stringify(r.tool_args)}::jsonb,
                 ${r.tool_call_id}::text, ${r.is_streaming}::boolean, NOT ${r.is_streaming}::boolean, ${r.model}::text, ${r.tokens_used}::int,
                 ${r.client_id}::text, ${JSON.stringify(r.metadata)}::jsonb, now(), now()
            FROM conv
          RETURNING *
        ), events AS (
          INSERT INTO conversation_events (organization_id, conversation_id, seq, type, payload)
          SELECT m.organization_id, m.conversation_id, (SELECT last_event_seq FROM conv), 'message.created', ${CREATED_EVENT_PAYLOAD}
            FROM m
           WHERE ${reserve}::boolean
        )${audited}
        SELECT ${MESSAGE_COLUMNS}, CASE WHEN ${reserve}::boolean THEN (SELECT last_event_seq FROM conv) END AS "lastEventSeq" FROM m`),
      { prepare: true, commit },
    );
  }

  private async conversationExists(organizationId: string, id: string, db: Db): Promise<boolean> {
    if (!isUuid(id)) return false;
    const rows = await this.prisma.queryRows<{ one: number }>(
      db,
      Prisma.sql`SELECT 1 AS one FROM conversations WHERE id = ${id}::uuid AND organization_id = ${organizationId}::uuid AND status <> 'deleted'`,
      { prepare: true },
    );
    return rows.length === 1;
  }

  private inRequestOrder(rows: Array<{ client_id: string | null }>, inserted: MessageRow[], existing: MessageRow[]) {
    const byClientId = new Map<string, MessageRow>();
    for (const m of [...existing, ...inserted]) if (m.clientId) byClientId.set(m.clientId, m);
    let next = 0;
    const withoutClientId = inserted.filter((m) => !m.clientId);
    return rows.map((r) => (r.client_id ? byClientId.get(r.client_id)! : withoutClientId[next++]));
  }

  async findById(organizationId: string, id: string, db: Db = this.prisma): Promise<MessageRow | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.prisma.queryRows<MessageRow>(
      db,
      Prisma.sql`
        SELECT ${MESSAGE_COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE m.id = ${id}::uuid AND m.organization_id = ${organizationId}::uuid AND c.status <> 'deleted'`,
      { prepare: true },
    );
    return row ?? null;
  }

  /**
   * Messages of a conversation by seq. `afterSeq` / `beforeSeq` bound the range; the next page starts after
   * the last seq returned, so the cursor is simply that seq. null when the conversation is not found.
   */
  async listPage(
    organizationId: string,
    conversationId: string,
    options: { afterSeq?: number; beforeSeq?: number; order?: 'asc' | 'desc'; limit?: number; cursor?: string | null } = {},
    db: Db = this.prisma,
  ): Promise<Page<MessageRow> | null> {
    if (!isUuid(conversationId)) return null;
    const limit = pageSize(options.limit);
    const order = options.order ?? 'asc';
    let { afterSeq, beforeSeq } = options;
    for (const [path, value] of [['afterSeq', afterSeq], ['beforeSeq', beforeSeq]] as const) {
      if (value !== undefined && !isSeq(value)) {
        throw new InvalidInputError(`${path} must be an integer from 0 to ${MAX_SEQ}`, [{ path, message: 'out of range' }]);
      }
    }
    if (options.cursor) {
      const seq = Number(Buffer.from(options.cursor, 'base64url').toString('utf8'));
      if (!isSeq(seq)) {
        throw new InvalidInputError('cursor is not valid', [{ path: 'cursor', message: 'not a cursor this API issued' }]);
      }
      if (order === 'asc') afterSeq = Math.max(afterSeq ?? 0, seq);
      else beforeSeq = Math.min(beforeSeq ?? Number.MAX_SAFE_INTEGER, seq);
    }
    // One round trip for "does the conversation exist" and its page: no conversation, no row; a conversation
    // without messages in range, one row of NULL message columns (the LEFT JOIN). Two statement texts (asc, desc)
    // so each is prepared once with its own plan.
    const rows = await this.prisma.queryRows<MessageRow>(
      db,
      fixedText(`message.listPage:${order}`, Prisma.sql`
        SELECT ${MESSAGE_COLUMNS}
          FROM conversations c
          LEFT JOIN LATERAL (
            SELECT * FROM messages x
             WHERE x.conversation_id = c.id AND x.organization_id = c.organization_id
               AND x.seq > ${afterSeq ?? -1}::int AND x.seq < ${Math.min(beforeSeq ?? MAX_SEQ + 1, MAX_SEQ + 1)}::bigint
             ORDER BY x.seq ${Prisma.raw(order === 'asc' ? 'ASC' : 'DESC')}
             LIMIT ${limit + 1}::int
          ) m ON true
         WHERE c.id = ${conversationId}::uuid AND c.organization_id = ${organizationId}::uuid AND c.status <> 'deleted'
         ORDER BY m.seq ${Prisma.raw(order === 'asc' ? 'ASC' : 'DESC')}`),
      { prepare: true },
    );
    if (rows.length === 0) return null;
    const found = rows[0].id === null ? [] : rows;
    const data = found.slice(0, limit);
    const last = data[data.length - 1];
    return {
      data,
      nextCursor: found.length > limit && last ? Buffer.from(String(last.seq)).toString('base64url') : null,
    };
  }

  /** Appends a streamed delta. After completion it is an InvalidStateError; unknown message null. */
  async appendChunk(organizationId: string, messageId: string, delta: string, db: Db = this.prisma): Promise<MessageRow | null> {
    const problems: Problem[] = [];
    checkText(delta, 'delta', problems);
    throwIfProblems(problems, 'invalid chunk');
    if (!isUuid(messageId)) return null;
    const updated = await db.$queryRaw<MessageRow[]>`
      UPDATE messages m SET content = m.content || ${delta}, updated_at = now()
        FROM conversations c
       WHERE m.id = ${messageId}::uuid AND m.organization_id = ${organizationId}::uuid
         AND c.id = m.conversation_id AND c.status <> 'deleted'
         AND m.is_streaming AND NOT m.is_complete
         AND length(m.content) + ${delta.length} <= ${MAX_TEXT_LENGTH}
      RETURNING ${MESSAGE_COLUMNS}`;
    if (updated[0]) return updated[0];
    const current = await this.findById(organizationId, messageId, db);
    if (!current) return null;
    if (current.isStreaming && !current.isComplete) {
      throw new InvalidInputError(`a message holds at most ${MAX_TEXT_LENGTH} characters`, [
        { path: 'delta', message: 'would make the message too long' },
      ]);
    }
    throw new InvalidStateError('the message is not streaming or already complete');
  }

  /** Ends a streamed message: isStreaming false, isComplete true. Completing twice is an InvalidStateError. */
  async complete(
    organizationId: string,
    messageId: string,
    input: { tokensUsed?: number | null } = {},
    db: Db = this.prisma,
  ): Promise<MessageRow | null> {
    if (!isUuid(messageId)) return null;
    const updated = await db.$queryRaw<MessageRow[]>`
      UPDATE messages m SET is_streaming = false, is_complete = true,
             tokens_used = COALESCE(${input.tokensUsed ?? null}::int, m.tokens_used), updated_at = now()
        FROM conversations c
       WHERE m.id = ${messageId}::uuid AND m.organization_id = ${organizationId}::uuid
         AND c.id = m.conversation_id AND c.status <> 'deleted'
         AND NOT m.is_complete
      RETURNING ${MESSAGE_COLUMNS}`;
    if (updated[0]) return updated[0];
    return this.stateOrNull(organizationId, messageId, db, 'the message is already complete');
  }

  /**
   * Deletes one message for good (an integration whose framework deletes messages, e.g. AgentOS's storage
   * adapter; a user's erasure request). The conversation's messageCount goes down in the same statement; the seqs
   * of the other messages stay as they are, so a deleted message leaves a hole in a conversation's seqs (new appends
   * still take last_seq + 1: seqs are never reused). null when the message is not found (or its conversation is
   * deleted).
   */
  async deleteById(organizationId: string, id: string, db: Db = this.prisma): Promise<MessageRow | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.prisma.queryRows<MessageRow>(
      db,
      Prisma.sql`
        WITH d AS (
          DELETE FROM messages m USING conversations c
           WHERE m.id = ${id}::uuid AND m.organization_id = ${organizationId}::uuid
             AND c.id = m.conversation_id AND c.status <> 'deleted'
          RETURNING m.*
        ), u AS (
          -- (the statement's snapshot still holds the deleted row: the newest other message gives last_message_at)
          UPDATE conversations c SET message_count = greatest(c.message_count - 1, 0), updated_at = now(),
                 last_message_at = (SELECT max(x.created_at) FROM messages x WHERE x.conversation_id = c.id AND x.id <> d.id)
            FROM d WHERE c.id = d.conversation_id
        )
        SELECT ${MESSAGE_COLUMNS} FROM d m`,
      { prepare: true },
    );
    return row ?? null;
  }

  /**
   * The organization's messages with this clientId (unique within a conversation, so one per conversation at most),
   * oldest first, optionally within one conversation. Across the organization through the partial index on
   * (organization_id, client_id) (migration message_client_id_lookup: only messages that have a clientId pay for it);
   * within a conversation through its unique (conversation_id, client_id) index. Two statements, so that each keeps
   * its own plan once prepared.
   */
  async findByClientId(
    organizationId: string,
    clientId: string,
    options: { conversationId?: string; limit?: number } = {},
    db: Db = this.prisma,
  ): Promise<MessageRow[]> {
    const problems: Problem[] = [];
    checkText(clientId, 'clientId', problems);
    throwIfProblems(problems, 'invalid clientId');
    const limit = pageSize(options.limit);
    if (options.conversationId !== undefined) {
      if (!isUuid(options.conversationId)) return [];
      return this.prisma.queryRows<MessageRow>(
        db,
        Prisma.sql`
          SELECT ${MESSAGE_COLUMNS}
            FROM messages m JOIN conversations c ON c.id = m.conversation_id AND c.status <> 'deleted'
           WHERE m.conversation_id = ${options.conversationId}::uuid AND m.client_id = ${clientId}::text
             AND m.organization_id = ${organizationId}::uuid`,
        { prepare: true },
      );
    }
    return this.prisma.queryRows<MessageRow>(
      db,
      Prisma.sql`
        SELECT ${MESSAGE_COLUMNS}
          FROM messages m JOIN conversations c ON c.id = m.conversation_id AND c.status <> 'deleted'
         WHERE m.organization_id = ${organizationId}::uuid AND m.client_id = ${clientId}::text
         ORDER BY m.created_at, m.id
         LIMIT ${limit}::int`,
      { prepare: true },
    );
  }

  private async stateOrNull(organizationId: string, id: string, db: Db, problem: string): Promise<null> {
    if (await this.findById(organizationId, id, db)) throw new InvalidStateError(problem);
    return null;
  }

  /**
   * Full-text search over the organization's messages (English stemming, websearch syntax: quotes, OR, -word),
   * ranked by ts_rank_cd, with a highlighted snippet (<b>…</b>). Deleted conversations never show up.
   */
  async searchText(
    organizationId: string,
    options: { query: string; agentId?: string; conversationId?: string; limit?: number },
    db: Db = this.prisma,
  ): Promise<MessageSearchHit[]> {
    const query = options.query?.trim();
    if (!query) throw new InvalidInputError('q must not be empty', [{ path: 'q', message: 'required' }]);
    const limit = pageSize(options.limit);
    const problems: Problem[] = [];
    checkText(query, 'q', problems, 1000);
    for (const path of ['agentId', 'conversationId'] as const) {
      if (options[path] !== undefined && !isUuid(options[path])) problems.push({ path, message: 'must be a UUID' });
    }
    throwIfProblems(problems, 'invalid search');
    return db.$queryRaw<MessageSearchHit[]>`
      WITH q AS (SELECT websearch_to_tsquery('english', ${query}) AS tsq)
      SELECT ${MESSAGE_COLUMNS},
             ts_rank_cd(m.search_vector, q.tsq)::float8 AS rank,
             ts_headline('english', m.content, q.tsq, 'StartSel=<b>, StopSel=</b>, MaxFragments=2, MaxWords=30, MinWords=8') AS snippet
        FROM messages m
        JOIN conversations c ON c.id = m.conversation_id
        CROSS JOIN q
       WHERE m.organization_id = ${organizationId}::uuid
         AND m.search_vector @@ q.tsq
         AND c.status <> 'deleted'
         AND (${options.agentId ?? null}::uuid IS NULL OR c.agent_id = ${options.agentId ?? null}::uuid)
         AND (${options.conversationId ?? null}::uuid IS NULL OR m.conversation_id = ${options.conversationId ?? null}::uuid)
       ORDER BY rank DESC, m.created_at DESC, m.id
       LIMIT ${limit}`;
  }
}

/** A validated message input in the database's column names (validateInputs). */
export interface MessageRecord {
  idx: number;
  role: string;
  content: string;
  message_type: string;
  tool_name: string | null;
  tool_args: unknown;
  tool_call_id: string | null;
  is_streaming: boolean;
  model: string | null;
  tokens_used: number | null;
  client_id: string | null;
  metadata: unknown;
}

function validateInputs(inputs: MessageInput[]): MessageRecord[] {
  if (!Array.isArray(inputs) || inputs.length === 0 || inputs.length > MAX_MESSAGES_PER_APPEND) {
    throw new InvalidInputError(`between 1 and ${MAX_MESSAGES_PER_APPEND} messages per append`, [
      { path: 'messages', message: `must hold 1 to ${MAX_MESSAGES_PER_APPEND} messages` },
    ]);
  }
  const problems: Problem[] = [];
  const rows = inputs.map((m, idx) => {
    if (!ROLES.has(m.role)) problems.push({ path: `messages.${idx}.role`, message: `must be one of ${[...ROLES].join(', ')}` });
    const type = m.messageType ?? 'text';
    if (!TYPES.has(type)) problems.push({ path: `messages.${idx}.messageType`, message: `must be one of ${[...TYPES].join(', ')}` });
    checkText(m.content, `messages.${idx}.content`, problems, MESSAGE_LIMITS.content);
    for (const field of ['toolName', 'toolCallId', 'model'] as const) {
      checkText(m[field], `messages.${idx}.${field}`, problems, MESSAGE_LIMITS.name);
    }
    checkText(m.clientId, `messages.${idx}.clientId`, problems, MESSAGE_LIMITS.clientId);
    checkJson(m.toolArgs, `messages.${idx}.toolArgs`, problems);
    checkJson(m.metadata, `messages.${idx}.metadata`, problems);
    if (m.tokensUsed != null && (!Number.isInteger(m.tokensUsed) || m.tokensUsed < 0 || m.tokensUsed > MESSAGE_LIMITS.integer)) {
      problems.push({ path: `messages.${idx}.tokensUsed`, message: 'must be a non-negative integer' });
    }
    return {
      idx,
      role: m.role,
      content: m.content ?? '',
      message_type: type,
      tool_name: m.toolName ?? null,
      tool_args: m.toolArgs ?? null,
      tool_call_id: m.toolCallId ?? null,
      is_streaming: m.isStreaming ?? false,
      model: m.model ?? null,
      tokens_used: m.tokensUsed ?? null,
      client_id: m.clientId ?? null,
      metadata: m.metadata ?? {},
    };
  });
  throwIfProblems(problems, 'invalid message input');
  return rows;
}
