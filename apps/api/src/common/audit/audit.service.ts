import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { AuditLogRepository, AuditSealer, type AppendAuditInput, type AuditRow, type AuditWitness } from '@agenthub/db';
import type { KeyPrincipal } from '../auth/principal';
import { RequestContext } from '../tenancy/request-context';

export interface AuditChange {
  before?: unknown;
  after?: unknown;
}

/**
 * The audit trail of every mutation made through the API. Each entry is inserted, pending and with its MAC, in
 * the request's own transaction, so the entry and the change commit (or roll back) together, and a replayed
 * Idempotency-Key request, which never reaches the service, records nothing. Chaining is off the request's path:
 * after the commit the entry's id and MAC go to the sealer (AuditSealer in libs/db), which seals the
 * organization's entries into its hash chain a few ms later and watches them until then; its sweep, started
 * here, seals whatever another replica or a crashed process left pending. main.ts drains it on SIGTERM.
 */
@Injectable()
export class AuditService implements OnApplicationBootstrap {
  constructor(
    private readonly auditLogs: AuditLogRepository,
    private readonly sealer: AuditSealer,
    private readonly context: RequestContext,
  ) {}

  onApplicationBootstrap(): void {
    this.sealer.start();
  }

  /** `action` is `<entity>.<verb>` (`agent.update`); `before`/`after` are the API views, never secrets. */
  async record(action: string, entityType: string, entityId: string | null, change: AuditChange = {}): Promise<void> {
    const { id, mac } = await this.auditLogs.append(this.context.organizationId, this.input(action, entityType, entityId, change), this.context.db);
    this.witness({ id, mac });
  }

  /**
   * The entry `record` would insert, for a statement that inserts it itself (payment creation and a one-message
   * append: with the payment or message, in one statement), with the same actor, request id, validation and MAC.
   * Hand it to `witness` once inserted.
   */
  entry(action: string, entityType: string, entityId: string | null, change: AuditChange = {}): AuditRow {
    return this.auditLogs.buildRow(this.context.organizationId, this.input(action, entityType, entityId, change));
  }

  /** An entry inserted in the request's transaction: handed to the sealer once that commits. */
  witness(entry: AuditWitness): void {
    const organizationId = this.context.organizationId;
    // After the commit only: a witness of a rolled-back entry would be reported as deleted.
    this.context.afterCommit(() => this.sealer.witness(organizationId, [{ id: entry.id, mac: entry.mac }]));
  }

  private input(action: string, entityType: string, entityId: string | null, change: AuditChange): AppendAuditInput {
    const { principal, requestId } = this.context.scope;
    return { actor: actorOf(principal), action, entityType, entityId, before: change.before, after: change.after, requestId };
  }
}

/** `key:<keyId> role:<role>` plus ` user:<userId>` for a user's key: space-separated tokens, easy to parse and grep. */
export function actorOf(principal: KeyPrincipal): string {
  return `key:${principal.keyId} role:${principal.role}${principal.userId ? ` user:${principal.userId}` : ''}`;
}
