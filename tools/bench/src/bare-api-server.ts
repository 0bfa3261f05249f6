/**
 * The api suite's second baseline (not a product): a minimal Fastify server that answers
 * `POST /api/v1/conversations/:id/messages` (and the page read, `GET` on the same path; and `POST /api/v1/payments`,
 * the api-data suite's payment creation) with the API's own data layer — the same repositories of libs/db, the
 * same plain-pg tenant transaction (PrismaService.rawTransaction: BEGIN with the first statement, deferred INSERTs
 * with COMMIT), the same live-event announcement and audit sealing after commit. So its SQL, round trips and
 * transaction shape are the API's by construction, whatever the API's append becomes: API vs this server is the
 * cost of everything above the data layer (NestJS, guards, interceptors, validation, logging, problem mapping);
 * raw INSERT vs this server is the cost of the SQL the data layer chooses.
 *
 * What it leaves out on purpose: input validation beyond the repository's own, OpenAPI, problem+json, logging,
 * rate limiting, Idempotency-Key, live-event delivery to subscribers (the announcement is still sent). It keeps
 * what costs database work: the key lookup by hash with the API's 30 s cache, row-level security for the key's
 * organization, the append with its message.created events, the audit entry (MAC) and its sealing.
 *
 * Started by api.ts as a child process (DATABASE_URL, DATABASE_POOL_SIZE, AGENTHUB_ADMIN_TOKEN, HOST, PORT); prints
 * `bench bare api: listening on <url>` when ready, stops on SIGTERM.
 */
import { randomUUID } from 'node:crypto';
import fastify from 'fastify';
import {
  ApiKeyRepository,
  AuditLogRepository,
  AuditMacKey,
  AuditSealer,
  ConversationEventRepository,
  MessageRepository,
  PaymentRepository,
  PrismaService,
  enterKeyLookup,
  enterTenant,
  hashApiKey,
  type MessageInput,
} from '@agenthub/db';
// The API's own view of a message (the response and event shape), so that both servers send the same bytes and
// the comparison measures only what is around it.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { toMessageView as toView } from '../../../apps/api/src/messages/message.dto';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { toPaymentView } from '../../../apps/api/src/payments/payment.dto';
// The API's rules for who may write, how an audit entry names its actor, and what an Idempotency-Key's request hash
// covers: imported, not copied, so the bare server's work stays the API's.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { roleAtLeast, type KeyPrincipal } from '../../../apps/api/src/common/auth/principal';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { actorOf } from '../../../apps/api/src/common/audit/audit.service';
// eslint-disable-next-line @nx/enforce-module-boundaries
import { requestHashOf } from '../../../apps/api/src/common/idempotency/idempotency.interceptor';

const CACHE_TTL_MS = 30_000;
type Principal = KeyPrincipal;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  const adminToken = process.env.AGENTHUB_ADMIN_TOKEN;
  if (!url || !adminToken) throw new Error('DATABASE_URL and AGENTHUB_ADMIN_TOKEN are required');
  const prisma = new PrismaService({ mode: 'postgres', url, poolSize: Number(process.env.DATABASE_POOL_SIZE || 10), close: async () => undefined });
  const apiKeys = new ApiKeyRepository(prisma);
  const messages = new MessageRepository(prisma);
  const payments = new PaymentRepository(prisma);
  const events = new ConversationEventRepository(prisma);
  // The API's key when AUDIT_MAC_KEY is not set (apps/api config/audit-mac-key.ts): derived from the admin token.
  const auditLogs = new AuditLogRepository(prisma, AuditMacKey.derive(adminToken));
  const sealer = new AuditSealer(prisma, auditLogs);
  sealer.start();

  const cache = new Map<string, { principal: Principal; expires: number }>();
  async function authenticate(header: string | undefined): Promise<Principal> {
    const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    if (!match) throw new HttpError(401, 'send Authorization: Bearer <key>');
    const keyHash = hashApiKey(match[1]);
    const cached = cache.get(keyHash);
    if (cached && cached.expires > Date.now()) return cached.principal;
    const principal = await prisma.transaction(async (tx) => {
      await enterKeyLookup(tx, keyHash);
      const key = await apiKeys.findActiveByKey(match[1], tx);
      if (!key) return null;
      await enterTenant(tx, key.organizationId);
      await apiKeys.touchLastUsed(key.id, tx);
      return { kind: 'key' as const, organizationId: key.organizationId, keyId: key.id, role: key.role, userId: key.userId ?? null };
    });
    if (!principal) throw new HttpError(401, 'the key is not valid or has been revoked');
    cache.set(keyHash, { principal, expires: Date.now() + CACHE_TTL_MS });
    return principal;
  }

  async function append(principal: Principal, conversationId: string, inputs: MessageInput[], requestId: string) {
    const org = principal.organizationId;
    let announce: { seq: number } | null = null;
    let witness: { id: string; mac: string } | null = null;
    const views = await prisma.rawTransaction(org, async (db) => {
      const { messages: rows, lastEventSeq, audit } = await messages.appendWithOutcome(org, conversationId, inputs, db, {
        recordCreatedEvents: true,
        audit: (created) =>
          auditLogs.buildRow(org, {
            actor: actorOf(principal),
            action: 'message.append',
            entityType: 'conversation',
            entityId: conversationId,
            after: { messages: created },
            requestId,
          }),
        commit: true,
      });
      if (lastEventSeq !== null) announce = { seq: lastEventSeq };
      if (audit) witness = { id: audit.id, mac: audit.mac };
      return rows.map(toView);
    });
    // After commit, as the API does (conversation-event-recorder.ts, audit.service.ts).
    const announced = announce as { seq: number } | null;
    if (announced) void events.announce([{ conversationId, seq: announced.seq }]).catch(() => undefined);
    if (witness) sealer.witness(org, [witness]);
    return views;
  }

  const app = fastify({ logger: false, genReqId: () => randomUUID() });
  app.post<{ Params: { id: string }; Body: MessageInput | { messages: MessageInput[] } }>(
    '/api/v1/conversations/:id/messages',
    async (request, reply) => {
      try {
        const principal = await authenticate(request.headers.authorization);
        if (!roleAtLeast(principal.role, 'member')) throw new HttpError(403, 'this needs the member role or higher');
        const body = request.body ?? ({} as MessageInput);
        const inputs = 'messages' in body && Array.isArray(body.messages) ? body.messages : [body as MessageInput];
        const data = await append(principal, request.params.id, inputs, String(request.id));
        return reply.code(201).send({ data });
      } catch (error) {
        const status = error instanceof HttpError ? error.status : 500;
        return reply.code(status).type('application/problem+json').send({ status, detail: (error as Error).message });
      }
    },
  );
  // The page read of the `api` suite's (b), as the API answers it (message.service.ts list, @RawReadTransaction).
  app.get<{ Params: { id: string }; Querystring: { limit?: string } }>('/api/v1/conversations/:id/messages', async (request, reply) => {
    try {
      const principal = await authenticate(request.headers.authorization);
      const limit = request.query.limit === undefined ? undefined : Number(request.query.limit);
      const page = await prisma.rawTransaction(
        principal.organizationId,
        (db) => messages.listPage(principal.organizationId, request.params.id, { limit }, db),
        { readOnly: true, replica: true },
      );
      if (!page) throw new HttpError(404, 'conversation not found');
      return reply.send({ data: page.data.map(toView), nextCursor: page.nextCursor });
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      return reply.code(status).type('application/problem+json').send({ status, detail: (error as Error).message });
    }
  });
  // Payment creation as the API makes it (payment.service.ts create, @RawTransaction, Idempotency-Key required): the
  // payment row and its audit entry in one statement that also commits, the request's hash as the Idempotency-Key
  // interceptor computes it, the entry sealed after commit. A key already taken is a 409 here (the bench sends a
  // new key per payment; the API would replay).
  app.post<{ Body: Record<string, unknown> }>('/api/v1/payments', async (request, reply) => {
    try {
      const principal = await authenticate(request.headers.authorization);
      if (!roleAtLeast(principal.role, 'member')) throw new HttpError(403, 'this needs the member role or higher');
      const key = request.headers['idempotency-key'];
      if (typeof key !== 'string' || !key) throw new HttpError(400, 'payments need an Idempotency-Key header');
      const org = principal.organizationId;
      const requestHash = requestHashOf({}, request.body);
      const outcome = await prisma.rawTransaction(org, (db) =>
        payments.createAudited(
          org,
          { ...(request.body as object), idempotencyKey: key, requestHash } as Parameters<PaymentRepository['createAudited']>[1],
          (payment) =>
            auditLogs.buildRow(org, {
              actor: actorOf(principal),
              action: 'payment.create',
              entityType: 'payment',
              entityId: payment.id,
              after: toPaymentView(payment),
              requestId: String(request.id),
            }),
          db,
          { commit: true },
        ),
      );
      if ('keyTaken' in outcome) throw new HttpError(409, 'the Idempotency-Key is taken');
      sealer.witness(org, [{ id: outcome.audit.id, mac: outcome.audit.mac }]);
      return reply.code(201).send(toPaymentView(outcome.created));
    } catch (error) {
      const status = error instanceof HttpError ? error.status : 500;
      return reply.code(status).type('application/problem+json').send({ status, detail: (error as Error).message });
    }
  });
  const address = await app.listen({ host: process.env.HOST || '127.0.0.1', port: Number(process.env.PORT || 0) });
  console.log(`bench bare api: listening on ${address} (pid ${process.pid})`);
  const stop = () => {
    void app
      .close()
      .then(() => sealer.drain())
      .then(() => prisma.onModuleDestroy())
      .then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}


main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
