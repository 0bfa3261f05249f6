import { Injectable } from '@nestjs/common';
import { AuditLogRepository } from '@agenthub/db';
import type { KeyPrincipal } from '../auth/principal';
import { RequestContext } from '../tenancy/request-context';

export interface AuditChange {
  before?: unknown;
  after?: unknown;
}

/**
 * The audit trail of every mutation made through the API. Each entry is appended to the organization's hash chain
 * in the request's own transaction, so the entry and the change commit (or roll back) together, and a replayed
 * Idempotency-Key request, which never reaches the service, records nothing.
 */
@Injectable()
export class AuditService {
  constructor(
    private readonly auditLogs: AuditLogRepository,
    private readonly context: RequestContext,
  ) {}

  /** `action` is `<entity>.<verb>` (`agent.update`); `before`/`after` are the API views, never secrets. */
  async record(action: string, entityType: string, entityId: string | null, change: AuditChange = {}): Promise<void> {
    const { principal, requestId, tx } = this.context.scope;
    await this.auditLogs.append(
      principal.organizationId,
      { actor: actorOf(principal), action, entityType, entityId, before: change.before, after: change.after, requestId },
      tx,
    );
  }
}

/** `key:<keyId> role:<role>` plus ` user:<userId>` for a user's key: space-separated tokens, easy to parse and grep. */
export function actorOf(principal: KeyPrincipal): string {
  return `key:${principal.keyId} role:${principal.role}${principal.userId ? ` user:${principal.userId}` : ''}`;
}
