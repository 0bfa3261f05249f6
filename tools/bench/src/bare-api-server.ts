/**
 * The api suite's second baseline (not a product): a minimal Fastify + `pg` server that answers
 * `POST /api/v1/conversations/:id/messages` with the same statements, in the same transaction, as the API does
 * today (bare-api-statements.ts). API vs this server is the framework's cost (NestJS, Prisma, validation,
 * serialization) with the SQL held equal; raw INSERT vs this server is the cost of the SQL the API chooses.
 *
 * What it leaves out on purpose: input validation beyond what the SQL needs, OpenAPI, problem+json, logging,
 * rate limiting, Idempotency-Key, live-event delivery to subscribers (the NOTIFY is still sent). It keeps what
 * costs database work or a lock: the key lookup by SHA-256 hash with the API's 30 s cache, row-level security
 * for the key's organization, the append statement, the message.created event, the audit hash chain.
 *
 * Started by api.ts as a child process (DATABASE_URL, DATABASE_POOL_SIZE, HOST, PORT); prints
 * `bench bare api: listening on <url> ` when ready, stops on SIGTERM.
 */
import { createHash, randomUUID } from 'node:crypto';
import fastify from 'fastify';
import pg from 'pg';
import { APPEND_TRANSACTION as TX, KEY_LOOKUP, auditEntryHash, type BareStatement, type MessageRecord } from './bare-api-statements';

const KEY_PREFIX = 'ahk_';
const CACHE_TTL_MS = 30_000;
const ROLE_RANK: Record<string, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };

interface Principal {
  organizationId: string;
  keyId: string;
  role: string;
  userId: string | null;
}

interface MessageRow {
  id: string;
  conversationId: string;
  seq: number;
  role: string;
  content: string;
  messageType: string;
  toolName: string | null;
  toolArgs: unknown;
  toolCallId: string | null;
  model: string | null;
  tokensUsed: number | null;
  metadata: unknown;
  clientId: string | null;
  isStreaming: boolean;
  isComplete: boolean;
  createdAt: Date;
  updatedAt: Date;
}

type MessageBody = Partial<{
  role: string;
  content: string;
  messageType: string;
  toolName: string | null;
  toolArgs: unknown;
  toolCallId: string | null;
  model: string | null;
  tokensUsed: number | null;
  metadata: unknown;
  clientId: string | null;
  isStreaming: boolean;
}>;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const sha256Hex = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL is required');
  const pool = new pg.Pool({ connectionString: url, max: Number(process.env.DATABASE_POOL_SIZE || 10), application_name: 'agenthub-bench-bare' });
  const run = <A extends unknown[]>(client: pg.PoolClient, s: BareStatement<A>, ...args: A) => client.query({ text: s.text, values: s.values(...args) });

  const cache = new Map<string, { principal: Principal; expires: number }>();
  async function authenticate(header: string | undefined): Promise<Principal> {
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new HttpError(401, 'send Authorization: Bearer <key>');
    const token = match[1];
    const keyHash = sha256Hex(token);
    const cached = cache.get(keyHash);
    if (cached && cached.expires > Date.now()) return cached.principal;
    if (!token.startsWith(KEY_PREFIX)) throw new HttpError(401, 'the key is not valid or has been revoked');
    const client = await pool.connect();
    try {
      await run(client, KEY_LOOKUP.begin);
      await run(client, KEY_LOOKUP.enterKeyLookup, keyHash);
      const key = (await run(client, KEY_LOOKUP.findActiveByKey, keyHash)).rows[0];
      if (!key || key.revoked_at) {
        await run(client, KEY_LOOKUP.commit);
        cache.delete(keyHash);
        throw new HttpError(401, 'the key is not valid or has been revoked');
      }
      await run(client, KEY_LOOKUP.enterTenant, key.organization_id);
      await run(client, KEY_LOOKUP.touchLastUsed, key.id, new Date());
      await run(client, KEY_LOOKUP.commit);
      const principal = { organizationId: key.organization_id, keyId: key.id, role: key.role, userId: key.user_id ?? null };
      cache.set(keyHash, { principal, expires: Date.now() + CACHE_TTL_MS });
      return principal;
    } catch (error) {
      if (!(error instanceof HttpError)) await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async function append(principal: Principal, conversationId: string, inputs: MessageBody[], requestId: string) {
    const rows: MessageRecord[] = inputs.map((m, idx) => ({
      idx,
      role: String(m.role),
      content: m.content ?? '',
      message_type: m.messageType ?? 'text',
      tool_name: m.toolName ?? null,
      tool_args: m.toolArgs ?? null,
      tool_call_id: m.toolCallId ?? null,
      is_streaming: m.isStreaming ?? false,
      model: m.model ?? null,
      tokens_used: m.tokensUsed ?? null,
      client_id: m.clientId ?? null,
      metadata: m.metadata ?? {},
    }));
    const org = principal.organizationId;
    const client = await pool.connect();
    try {
      await run(client, TX.begin);
      await run(client, TX.enterTenant, org);
      const inserted = (await run(client, TX.appendMessages, org, conversationId, rows)).rows as MessageRow[];
      // No clientIds here: fewer rows than inputs means the conversation is not there (the API looks that up).
      if (inserted.length !== rows.length) throw new HttpError(404, 'conversation not found');
      const views = inserted.map(toView);
      await run(client, TX.recordEvents, org, conversationId, views.map((payload) => ({ type: 'message.created', payload })));
      let head = (await run(client, TX.advanceAuditHead, org)).rows[0];
      if (!head) {
        await run(client, TX.createAuditHead, org);
        head = (await run(client, TX.advanceAuditHead, org)).rows[0];
      }
      const entry = {
        organizationId: org,
        seq: String(head.seq),
        at: new Date(),
        actor: `key:${principal.keyId} role:${principal.role}${principal.userId ? ` user:${principal.userId}` : ''}`,
        action: 'message.append',
        entityType: 'conversation',
        entityId: conversationId,
        before: null,
        after: { messages: views.map((v) => ({ id: v.id, seq: v.seq, role: v.role })) },
        requestId,
        prevHash: String(head.prev_hash),
      };
      const hash = auditEntryHash(entry, sha256Hex);
      await run(client, TX.insertAuditLog, { ...entry, id: randomUUID(), hash });
      await run(client, TX.setAuditHeadHash, org, hash);
      await run(client, TX.commit);
      return views;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  const app = fastify({ logger: false, genReqId: () => randomUUID() });
  app.post<{ Params: { id: string }; Body: MessageBody | { messages: MessageBody[] } }>(
    '/api/v1/conversations/:id/messages',
    async (request, reply) => {
      try {
        const principal = await authenticate(request.headers.authorization);
        if ((ROLE_RANK[principal.role] ?? -1) < ROLE_RANK.member) throw new HttpError(403, 'this needs the member role or higher');
        const body = request.body ?? {};
        const inputs = 'messages' in body && Array.isArray(body.messages) ? body.messages : [body as MessageBody];
        const data = await append(principal, request.params.id, inputs, String(request.id));
        return reply.code(201).send({ data });
      } catch (error) {
        const status = error instanceof HttpError ? error.status : 500;
        return reply.code(status).type('application/problem+json').send({ status, detail: (error as Error).message });
      }
    },
  );
  const address = await app.listen({ host: process.env.HOST || '127.0.0.1', port: Number(process.env.PORT || 0) });
  console.log(`bench bare api: listening on ${address} (pid ${process.pid})`);
  const stop = () => {
    void app
      .close()
      .then(() => pool.end())
      .then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

/** message.dto.ts toMessageView: the response and event shape. */
function toView(row: MessageRow) {
  return {
    id: row.id,
    conversationId: row.conversationId,
    seq: row.seq,
    role: row.role,
    content: row.content,
    messageType: row.messageType,
    toolName: row.toolName,
    toolArgs: row.toolArgs,
    toolCallId: row.toolCallId,
    model: row.model,
    tokensUsed: row.tokensUsed,
    metadata: row.metadata,
    clientId: row.clientId,
    isStreaming: row.isStreaming,
    isComplete: row.isComplete,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
