import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { LangGraphRepository, LangGraphStoreRepository, NotFoundError, type Page, type Prisma, type StoreItemRow } from '@agenthub/db';
import { AuditService } from '../common/audit/audit.service';
import { RequestContext } from '../common/tenancy/request-context';
import { toCheckpointTupleView, type CheckpointTupleView, type StoreItemView, type StoreOperation } from './langgraph.dto';

/**
 * LangGraph threads and checkpoints (for @agenthub/langgraph's AgentHubSaver): the saver serializes, this layer
 * stores, reads back and audits. Every change is one statement plus its audit entry, in the request's transaction.
 */
@Injectable()
export class LangGraphService {
  constructor(
    private readonly checkpoints: LangGraphRepository,
    private readonly store: LangGraphStoreRepository,
    private readonly audit: AuditService,
    private readonly context: RequestContext,
  ) {}

  async put(
    threadId: string,
    checkpointId: string,
    body: { checkpointNs?: string; parentCheckpointId?: string | null; checkpoint: Record<string, unknown>; metadata?: Record<string, unknown>; blobs?: Array<{ channel: string; version: string; type: string; data: string | null }> },
  ): Promise<{ threadId: string; checkpointNs: string; checkpointId: string }> {
    const checkpointNs = body.checkpointNs ?? '';
    await this.checkpoints.put(
      this.context.organizationId,
      {
        threadId,
        checkpointNs,
        checkpointId,
        parentCheckpointId: body.parentCheckpointId ?? null,
        checkpoint: body.checkpoint as Prisma.InputJsonObject,
        metadata: (body.metadata ?? {}) as Prisma.InputJsonObject,
        blobs: body.blobs ?? [],
      },
      this.context.db,
    );
    const ref = { threadId, checkpointNs, checkpointId };
    await this.audit.record('langgraph.checkpoint.put', 'langgraph_thread', auditEntityId(threadId), { after: { ...ref, parentCheckpointId: body.parentCheckpointId ?? null, channels: (body.blobs ?? []).map((b) => b.channel) } });
    return ref;
  }

  async putWrites(
    threadId: string,
    checkpointId: string,
    taskId: string,
    body: { checkpointNs?: string; taskPath?: string; writes: Array<{ idx: number; channel: string; type: string; data: string }> },
  ): Promise<void> {
    const checkpointNs = body.checkpointNs ?? '';
    await this.checkpoints.putWrites(
      this.context.organizationId,
      { threadId, checkpointNs, checkpointId, taskId, taskPath: body.taskPath ?? '', writes: body.writes },
      this.context.db,
    );
    await this.audit.record('langgraph.writes.put', 'langgraph_thread', auditEntityId(threadId), { after: { threadId, checkpointNs, checkpointId, taskId, channels: body.writes.map((w) => w.channel) } });
  }

  async list(query: { threadId?: string; checkpointNs?: string; checkpointId?: string; before?: string; filter?: Record<string, unknown>; limit?: number; cursor?: string }): Promise<Page<CheckpointTupleView>> {
    const page = await this.checkpoints.list(this.context.organizationId, { ...query, filter: query.filter as Prisma.InputJsonObject | undefined }, this.context.db);
    return { data: page.data.map(toCheckpointTupleView), nextCursor: page.nextCursor };
  }

  async deleteThread(threadId: string): Promise<void> {
    if (!(await this.checkpoints.deleteThread(this.context.organizationId, threadId, this.context.db))) throw new NotFoundError('langgraph thread', threadId);
    await this.audit.record('langgraph.thread.delete', 'langgraph_thread', auditEntityId(threadId), { before: { threadId } });
  }

  /**
   * A store batch in one transaction, operations in order (a read after a put in the same batch sees it). Puts are
   * audited as one entry listing the items written and deleted.
   */
  async storeBatch(operations: StoreOperation[]): Promise<{ results: Array<{ item?: StoreItemView | null; items?: StoreItemView[]; namespaces?: string[][] }> }> {
    const org = this.context.organizationId;
    const db = this.context.db;
    const results: Array<{ item?: StoreItemView | null; items?: StoreItemView[]; namespaces?: string[][] }> = [];
    const written: Array<{ namespace: string[]; key: string; deleted: boolean }> = [];
    for (const op of operations) {
      switch (op.op) {
        case 'get': {
          const row = await this.store.get(org, op.namespace, op.key, op.refreshTtl ?? true, db);
          results.push({ item: row ? toStoreItemView(row) : null });
          break;
        }
        case 'search': {
          const rows = await this.store.search(
            org,
            { namespacePrefix: op.namespacePrefix, filter: op.filter, limit: op.limit ?? 10, offset: op.offset ?? 0, queryVector: op.queryVector, refreshTtl: op.refreshTtl ?? true },
            db,
          );
          results.push({ items: rows.map(toStoreItemView) });
          break;
        }
        case 'put':
          await this.store.put(org, { namespace: op.namespace, key: op.key, value: op.value, vectors: op.vectors, ttlMinutes: op.ttlMinutes }, db);
          written.push({ namespace: op.namespace, key: op.key, deleted: op.value === null });
          results.push({});
          break;
        case 'listNamespaces':
          results.push({ namespaces: await this.store.listNamespaces(org, { matchConditions: op.matchConditions, maxDepth: op.maxDepth, limit: op.limit ?? 100, offset: op.offset ?? 0 }, db) });
          break;
      }
    }
    if (written.length) await this.audit.record('langgraph.store.put', 'langgraph_store', null, { after: { items: written } });
    return { results };
  }
}

function toStoreItemView(row: StoreItemRow): StoreItemView {
  return {
    namespace: row.namespace,
    key: row.key,
    value: row.value,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    ...(row.score !== undefined ? { score: row.score } : {}),
  };
}

/** An audit entry's entity id holds 255 characters: a longer thread id is named by its SHA-256 (the entry's body has it whole). */
function auditEntityId(threadId: string): string {
  return threadId.length <= 255 ? threadId : `sha256:${createHash('sha256').update(threadId).digest('hex')}`;
}
