import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { PrismaService, type Db } from '../prisma.service';

/** An Idempotency-Key record to claim for a request: its route (`POST /api/v1/payments`), the key, the request's hash. */
export interface IdempotencyClaim {
  scope: string;
  key: string;
  requestHash: string;
}

export interface StoredIdempotentResponse {
  requestHash: string;
  responseStatus: number | null;
  responseBody: unknown;
}

/**
 * Stored first responses of idempotent writes (`Idempotency-Key`, API.md). Raw SQL throughout: the API's hot
 * create routes (message append, conversations, memories) run on a plain pg transaction where Prisma models are
 * not available (PrismaService.rawTransaction).
 */
@Injectable()
export class IdempotencyKeyRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /**
   * Claims the key for this request in the caller's transaction: true when this request is the first. A
   * concurrent request with the same key waits on the primary key's unique index until the first one commits
   * (then finds it stored) or rolls back (then claims it itself).
   */
  async claim(organizationId: string, scope: string, key: string, requestHash: string, db: Db): Promise<boolean> {
    const rows = await this.prisma.queryRows(
      db,
      Prisma.sql`
        INSERT INTO idempotency_keys (organization_id, scope, key, request_hash)
        VALUES (${organizationId}::uuid, ${scope}, ${key}, ${requestHash})
        ON CONFLICT DO NOTHING
        RETURNING 1 AS one`,
      { prepare: true },
    );
    return rows.length === 1;
  }

  async find(organizationId: string, scope: string, key: string, db: Db): Promise<StoredIdempotentResponse | null> {
    const [row] = await this.prisma.queryRows<StoredIdempotentResponse>(
      db,
      Prisma.sql`
        SELECT request_hash AS "requestHash", response_status AS "responseStatus", response_body AS "responseBody"
          FROM idempotency_keys
         WHERE organization_id = ${organizationId}::uuid AND scope = ${scope} AND key = ${key}`,
      { prepare: true },
    );
    return row ?? null;
  }

  /**
   * Stores the response of the claimed key, in the same transaction as the write it answers. `deferUntilCommit`
   * (raw transactions only, ignored elsewhere) sends it with the COMMIT instead of on its own round trip.
   */
  async complete(
    organizationId: string,
    scope: string,
    key: string,
    status: number,
    body: unknown,
    db: Db,
    options: { deferUntilCommit?: boolean } = {},
  ): Promise<void> {
    await this.prisma.queryRows(
      db,
      Prisma.sql`
        UPDATE idempotency_keys SET response_status = ${status}::int, response_body = ${JSON.stringify(body ?? {})}::jsonb
         WHERE organization_id = ${organizationId}::uuid AND scope = ${scope}::text AND key = ${key}::text`,
      { prepare: true, deferUntilCommit: options.deferUntilCommit },
    );
  }
}
