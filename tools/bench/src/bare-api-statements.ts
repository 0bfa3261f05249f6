/**
 * The SQL the API sends for `POST /api/v1/conversations/:id/messages` (one message, no Idempotency-Key, row-level
 * security on), statement by statement and in order, for bare-api-server.ts to send the same on plain `pg`.
 *
 * KEEP IN STEP WITH THE API: this is the one place the bare server's SQL lives. When the API's append changes its
 * SQL (text, order, parameters, transaction shape), update the entries below and nothing else; the bench's
 * "API vs bare server" row then again separates framework cost from SQL cost. To see what the API sends, reset
 * pg_stat_statements (a measuring aid, not used by the bench), run the api suite and read the top-level
 * statements of the bench database; `calls / requests` per statement should match one pass through this list.
 *
 * Captured from pg_stat_statements and the code at 6c370ab. Texts are the code's own (pg_stat_statements shows
 * literals as $n); parameters are sent as the API sends them, unnamed (the API runs these inside a Prisma
 * interactive transaction, where `queryRows` uses `$queryRawUnsafe`: parsed and planned on every call).
 */

/** One statement: where it comes from, its text and how its bind values are built. */
export interface BareStatement<A extends unknown[] = []> {
  source: string;
  text: string;
  values(...args: A): unknown[];
}

const statement = <A extends unknown[]>(s: BareStatement<A>) => s;
const none = () => [];

/** conversation_events NOTIFY channel (libs/db conversation-event.repository.ts, CONVERSATION_EVENTS_CHANNEL). */
const CONVERSATION_EVENTS_CHANNEL = 'agenthub_conversation_events';

/** The row the append CTE reads from its JSON parameter (message.repository.ts, validateInputs). */
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

/**
 * Authentication (apps/api/src/common/auth/auth.service.ts, AuthService.lookup): only when the key is not in the
 * replica's 30 s cache, in its own transaction before the request's. bare-api-server.ts caches the same way.
 */
export const KEY_LOOKUP = {
  begin: statement({ source: 'PrismaService.transaction ($transaction on @prisma/adapter-pg)', text: 'BEGIN', values: none }),
  enterKeyLookup: statement({
    source: 'libs/db/src/lib/tenancy.ts enterKeyLookup',
    text: `select set_config('role', 'agenthub_app', true), set_config($1, $2, true)`,
    values: (keyHash: string) => ['app.api_key_hash', keyHash],
  }),
  findActiveByKey: statement({
    source: 'libs/db api-key.repository.ts findActiveByKey (Prisma findUnique by key_hash; revoked_at checked in JS)',
    text: `SELECT "public"."api_keys"."id", "public"."api_keys"."organization_id", "public"."api_keys"."user_id", "public"."api_keys"."name", "public"."api_keys"."role"::text, "public"."api_keys"."prefix", "public"."api_keys"."last_used_at", "public"."api_keys"."revoked_at", "public"."api_keys"."created_at" FROM "public"."api_keys" WHERE ("public"."api_keys"."key_hash" = $1 AND 1=1) LIMIT $2 OFFSET $3`,
    values: (keyHash: string) => [keyHash, 1, 0],
  }),
  enterTenant: statement({
    source: 'libs/db/src/lib/tenancy.ts enterTenant',
    text: `select set_config('role', 'agenthub_app', true), set_config($1, $2, true)`,
    values: (organizationId: string) => ['app.organization_id', organizationId],
  }),
  touchLastUsed: statement({
    source: 'libs/db api-key.repository.ts touchLastUsed (Prisma updateMany)',
    text: `UPDATE "public"."api_keys" SET "last_used_at" = $1 WHERE ("public"."api_keys"."id" = $2 AND ("public"."api_keys"."last_used_at" IS NULL OR "public"."api_keys"."last_used_at" < $3))`,
    values: (keyId: string, now: Date) => [now.toISOString(), keyId, new Date(now.getTime() - 60_000).toISOString()],
  }),
  commit: statement({ source: 'PrismaService.transaction', text: 'COMMIT', values: none }),
};

/**
 * The request's transaction, in this order (8 statements, one round trip each):
 * BEGIN, enterTenant, appendMessages, recordEvents, advanceAuditHead, insertAuditLog, setAuditHeadHash, COMMIT.
 */
export const APPEND_TRANSACTION = {
  begin: statement({
    source: 'apps/api/src/common/tenancy/tenant-transaction.interceptor.ts → TenantTransactions.run → PrismaService.tenantTransaction',
    text: 'BEGIN',
    values: none,
  }),
  enterTenant: KEY_LOOKUP.enterTenant,
  appendMessages: statement({
    source: 'libs/db message.repository.ts appendWithOutcome (the single append statement; MESSAGE_COLUMNS)',
    text: `
          WITH input AS (
            SELECT * FROM jsonb_to_recordset($1::jsonb) AS i(
              idx int, role message_role, content text, message_type message_type, tool_name text, tool_args jsonb,
              tool_call_id text, is_streaming boolean, model text, tokens_used int, client_id text, metadata jsonb)
          ), fresh AS (
            SELECT i.*, row_number() OVER (ORDER BY i.idx) AS n
              FROM input i
             WHERE i.client_id IS NULL OR NOT EXISTS (
                   SELECT 1 FROM messages e WHERE e.conversation_id = $2::uuid AND e.client_id = i.client_id)
          ), conv AS (
            UPDATE conversations c
               SET last_seq = c.last_seq + f.cnt, message_count = c.message_count + f.cnt,
                   last_message_at = now(), last_activity_at = now(), updated_at = now()
              FROM (SELECT count(*)::int AS cnt FROM fresh) f
             WHERE c.id = $3::uuid AND c.organization_id = $4::uuid
               AND c.status <> 'deleted' AND f.cnt > 0
            RETURNING c.last_seq - f.cnt AS base
          ), m AS (
            INSERT INTO messages (id, organization_id, conversation_id, seq, role, content, message_type, tool_name,
                                  tool_args, tool_call_id, is_streaming, is_complete, model, tokens_used, client_id,
                                  metadata, created_at, updated_at)
            SELECT gen_random_uuid(), $5::uuid, $6::uuid, conv.base + f.n, f.role,
                   f.content, f.message_type, f.tool_name, f.tool_args, f.tool_call_id, f.is_streaming,
                   NOT f.is_streaming, f.model, f.tokens_used, f.client_id, f.metadata, now(), now()
              FROM fresh f CROSS JOIN conv
            RETURNING id, organization_id, conversation_id, seq, role, content, message_type, tool_name, tool_args,
                      tool_call_id, is_streaming, is_complete, model, tokens_used, client_id, metadata, created_at,
                      updated_at
          )
          SELECT 
  m.id, m.organization_id AS "organizationId", m.conversation_id AS "conversationId", m.seq, m.role::text AS role,
  m.content, m.message_type::text AS "messageType", m.tool_name AS "toolName", m.tool_args AS "toolArgs",
  m.tool_call_id AS "toolCallId", m.is_streaming AS "isStreaming", m.is_complete AS "isComplete", m.model,
  m.tokens_used AS "tokensUsed", m.client_id AS "clientId", m.metadata, m.created_at AS "createdAt",
  m.updated_at AS "updatedAt" FROM m ORDER BY m.seq`,
    values: (organizationId: string, conversationId: string, rows: MessageRecord[]) => [
      JSON.stringify(rows),
      conversationId,
      conversationId,
      organizationId,
      organizationId,
      conversationId,
    ],
  }),
  recordEvents: statement({
    source: 'apps/api/src/events/conversation-events.service.ts record → libs/db conversation-event.repository.ts record (message.created, payload = the message view)',
    text: `
        with c as (
          update conversations set last_event_seq = last_event_seq + $1
           where id = $2::uuid and organization_id = $3::uuid
          returning id, last_event_seq
        ), ins as (
          insert into conversation_events (organization_id, conversation_id, seq, type, payload)
          select $4::uuid, c.id, c.last_event_seq - $5 + e.ord::int, e.type, e.payload::jsonb
            from c, unnest($6::text[], $7::text[]) with ordinality as e(type, payload, ord)
          returning seq
        ), announced as (
          select pg_notify($8, $9 || ':' || max(seq)) from ins having count(*) > 0
        )
        select seq from ins, (select count(*) from announced) a order by seq`,
    values: (organizationId: string, conversationId: string, events: Array<{ type: string; payload: unknown }>) => [
      events.length,
      conversationId,
      organizationId,
      organizationId,
      events.length,
      events.map((e) => e.type),
      events.map((e) => JSON.stringify(e.payload)),
      CONVERSATION_EVENTS_CHANNEL,
      conversationId,
    ],
  }),
  advanceAuditHead: statement({
    source: 'apps/api/src/common/audit/audit.service.ts record → libs/db audit-log.repository.ts append → advanceHead (takes the organization\'s chain lock until COMMIT)',
    text: `
          UPDATE audit_chain_heads SET last_seq = last_seq + 1
           WHERE organization_id = $1::uuid
          RETURNING last_seq AS seq, last_hash AS prev_hash`,
    values: (organizationId: string) => [organizationId],
  }),
  /** Only when advanceAuditHead found no head row (a new organization), then advanceAuditHead again. */
  createAuditHead: statement({
    source: 'libs/db audit-log.repository.ts advanceHead (first entry of an organization)',
    text: `
          INSERT INTO audit_chain_heads (organization_id, last_seq, last_hash, updated_at)
          VALUES ($1::uuid, 0, $2, now())
          ON CONFLICT (organization_id) DO NOTHING`,
    values: (organizationId: string) => [organizationId, '0'.repeat(64)],
  }),
  insertAuditLog: statement({
    source: 'libs/db audit-log.repository.ts append (Prisma auditLog.create, select AUDIT_LOG_SELECT; id generated in JS)',
    text: `INSERT INTO "public"."audit_logs" ("id","organization_id","seq","at","actor","action","entity_type","entity_id","before","after","request_id","prev_hash","hash") VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13) RETURNING "public"."audit_logs"."id", "public"."audit_logs"."seq", "public"."audit_logs"."at", "public"."audit_logs"."actor", "public"."audit_logs"."action", "public"."audit_logs"."entity_type", "public"."audit_logs"."entity_id", "public"."audit_logs"."before", "public"."audit_logs"."after", "public"."audit_logs"."request_id"`,
    values: (e: AuditRow) => [
      e.id, e.organizationId, e.seq, e.at.toISOString(), e.actor, e.action, e.entityType, e.entityId,
      e.before === null ? null : JSON.stringify(e.before), e.after === null ? null : JSON.stringify(e.after),
      e.requestId, e.prevHash, e.hash,
    ],
  }),
  setAuditHeadHash: statement({
    source: 'libs/db audit-log.repository.ts append',
    text: `
          UPDATE audit_chain_heads SET last_hash = $1, updated_at = now()
           WHERE organization_id = $2::uuid`,
    values: (organizationId: string, hash: string) => [hash, organizationId],
  }),
  commit: statement({ source: 'PrismaService.transaction', text: 'COMMIT', values: none }),
};

/** An audit entry as audit-log.repository.ts stores it (before/after: JSON or SQL NULL). */
export interface AuditRow {
  id: string;
  organizationId: string;
  seq: string;
  at: Date;
  actor: string;
  action: string;
  entityType: string;
  entityId: string | null;
  before: unknown;
  after: unknown;
  requestId: string | null;
  prevHash: string;
  hash: string;
}

/**
 * The entry's hash (audit-log.repository.ts entryHash over canonical-json.ts canonicalJson): sorted keys at every
 * level, undefined members dropped. Copied rather than imported so the bare server does not load the data layer.
 */
export function auditEntryHash(e: Omit<AuditRow, 'id' | 'hash'>, sha256Hex: (text: string) => string): string {
  return sha256Hex(
    canonicalJson({
      organizationId: e.organizationId,
      seq: e.seq,
      at: e.at.toISOString(),
      actor: e.actor,
      action: e.action,
      entityType: e.entityType,
      entityId: e.entityId,
      before: e.before,
      after: e.after,
      requestId: e.requestId,
      prevHash: e.prevHash,
    }),
  );
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const json = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof json === 'function') return sortKeys(json.call(value));
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const member = (value as Record<string, unknown>)[key];
      if (member !== undefined) out[key] = sortKeys(member);
    }
    return out;
  }
  return value;
}
