import { Inject, Injectable } from '@nestjs/common';
import { Prisma } from '../../generated/prisma/client';
import { InvalidInputError } from '../errors';
import { pageSize, type Page } from '../pagination';
import { PrismaService, type Db } from '../prisma.service';

/** A channel value at one version (LangGraph's serializer output: its type tag and bytes, base64; null: no value). */
export interface CheckpointBlob {
  channel: string;
  version: string;
  type: string;
  data: string | null;
}

/** A pending write of a task (idx: its position, or LangGraph's fixed index for the special channels). */
export interface CheckpointWrite {
  idx: number;
  channel: string;
  type: string;
  data: string;
}

export interface CheckpointInput {
  threadId: string;
  checkpointNs: string;
  checkpointId: string;
  parentCheckpointId: string | null;
  /** the checkpoint without its channel values (those are blobs), as JSON */
  checkpoint: Prisma.InputJsonObject;
  metadata: Prisma.InputJsonObject;
  /** the values of the channels whose version this checkpoint moved; one per (channel, version) is kept */
  blobs: CheckpointBlob[];
}

/** A checkpoint with the values of its channel versions and its pending writes, as a saver reads it back. */
export interface CheckpointTupleRow {
  threadId: string;
  checkpointNs: string;
  checkpointId: string;
  parentCheckpointId: string | null;
  checkpoint: Record<string, unknown>;
  metadata: Record<string, unknown>;
  createdAt: Date;
  blobs: Array<{ channel: string; version: string; type: string; data: string | null }>;
  writes: Array<{ taskId: string; idx: number; channel: string; type: string; data: string; taskPath: string }>;
}

export interface CheckpointQuery {
  threadId?: string;
  checkpointNs?: string;
  checkpointId?: string;
  /** only checkpoints with an id below this one (LangGraph's `before`) */
  before?: string;
  /** only checkpoints whose metadata contains this object (jsonb @>) */
  filter?: Prisma.InputJsonObject;
  limit?: number;
  cursor?: string | null;
}

// base64 without the line breaks PostgreSQL's encode() puts every 76 characters.
const B64 = (column: string) => Prisma.raw(`translate(encode(${column}, 'base64'), E'\\n', '')`);

/**
 * The tuple of each checkpoint row `cp`: its channel values by the versions it names, and its pending writes in
 * LangGraph's order (task path, task id, index; strings by code point, which is UTF-8 byte order: COLLATE "C").
 */
const TUPLE_SELECT = Prisma.sql`
  SELECT cp.thread_id AS "threadId", cp.checkpoint_ns AS "checkpointNs", cp.checkpoint_id AS "checkpointId",
         cp.parent_checkpoint_id AS "parentCheckpointId", cp.checkpoint, cp.metadata, cp.created_at AS "createdAt",
         coalesce((SELECT jsonb_agg(jsonb_build_object('channel', bl.channel, 'version', bl.version, 'type', bl.type, 'data', ${B64('bl.blob')}))
                     FROM jsonb_each_text(cp.checkpoint -> 'channel_versions') v
                     JOIN langgraph_checkpoint_blobs bl
                       ON bl.organization_id = cp.organization_id AND bl.thread_id = cp.thread_id
                      AND bl.checkpoint_ns = cp.checkpoint_ns AND bl.channel = v.key AND bl.version = v.value), '[]') AS blobs,
         coalesce((SELECT jsonb_agg(jsonb_build_object('taskId', w.task_id, 'idx', w.idx, 'channel', w.channel, 'type', w.type,
                                                       'data', ${B64('w.blob')}, 'taskPath', w.task_path)
                                   ORDER BY w.task_path COLLATE "C", w.task_id COLLATE "C", w.idx)
                     FROM langgraph_checkpoint_writes w
                    WHERE w.organization_id = cp.organization_id AND w.thread_id = cp.thread_id
                      AND w.checkpoint_ns = cp.checkpoint_ns AND w.checkpoint_id = cp.checkpoint_id), '[]') AS writes
    FROM langgraph_checkpoints cp`;

/**
 * The thread's row, created by its first write. DO NOTHING, not an update of a timestamp: an update would lock the
 * row until commit on every step, making a thread's parallel tasks wait on each other. (A data-modifying CTE runs
 * whether or not the statement reads it, and the foreign keys are checked at the end of the statement.)
 */
const THREAD_ROW = (organizationId: string, threadId: string) => Prisma.sql`
  INSERT INTO langgraph_threads (organization_id, thread_id) VALUES (${organizationId}::uuid, ${threadId}::text)
  ON CONFLICT (organization_id, thread_id) DO NOTHING`;

/**
 * LangGraph checkpoints (what @agenthub/langgraph's AgentHubSaver stores through the API), laid out as LangGraph's
 * own PostgreSQL saver lays them out, per organization: a checkpoint row without its channel values; each
 * channel's value once per version (a large value that does not change is not copied into the next checkpoint);
 * pending writes per task; all under a thread row whose deletion cascades. A put is one statement.
 */
@Injectable()
export class LangGraphRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  /** Stores a checkpoint (again: its checkpoint and metadata replaced) with its new channel values. */
  async put(organizationId: string, input: CheckpointInput, db: Db = this.prisma): Promise<void> {
    await this.prisma.queryRows(
      db,
      Prisma.sql`
        WITH t AS (${THREAD_ROW(organizationId, input.threadId)}), b AS (
          INSERT INTO langgraph_checkpoint_blobs (organization_id, thread_id, checkpoint_ns, channel, version, type, blob)
          SELECT ${organizationId}::uuid, ${input.threadId}::text, ${input.checkpointNs}::text, x.channel, x.version, x.type, decode(x.data, 'base64')
            FROM jsonb_to_recordset(${JSON.stringify(input.blobs)}::jsonb) AS x(channel text, version text, type text, data text)
          ON CONFLICT (organization_id, thread_id, checkpoint_ns, channel, version) DO NOTHING
        )
        INSERT INTO langgraph_checkpoints (organization_id, thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
        VALUES (${organizationId}::uuid, ${input.threadId}::text, ${input.checkpointNs}::text, ${input.checkpointId}::text, ${input.parentCheckpointId}::text,
                ${JSON.stringify(input.checkpoint)}::jsonb, ${JSON.stringify(input.metadata)}::jsonb)
        ON CONFLICT (organization_id, thread_id, checkpoint_ns, checkpoint_id)
        DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata, parent_checkpoint_id = EXCLUDED.parent_checkpoint_id`,
      { prepare: true },
    );
  }

  /**
   * Stores a task's pending writes for a checkpoint. A write at a negative index (LangGraph's special channels:
   * errors, interrupts, resume values, whose index is fixed) replaces what the task wrote there before; at any other
   * index a write already stored is kept (a retried task does not duplicate or overwrite its writes).
   */
  async putWrites(
    organizationId: string,
    input: { threadId: string; checkpointNs: string; checkpointId: string; taskId: string; taskPath: string; writes: CheckpointWrite[] },
    db: Db = this.prisma,
  ): Promise<void> {
    await this.prisma.queryRows(
      db,
      Prisma.sql`
        WITH t AS (${THREAD_ROW(organizationId, input.threadId)})
        INSERT INTO langgraph_checkpoint_writes (organization_id, thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path)
        SELECT ${organizationId}::uuid, ${input.threadId}::text, ${input.checkpointNs}::text, ${input.checkpointId}::text, ${input.taskId}::text, x.idx, x.channel, x.type,
               decode(x.data, 'base64'), ${input.taskPath}::text
          FROM jsonb_to_recordset(${JSON.stringify(input.writes)}::jsonb) AS x(idx int, channel text, type text, data text)
        ON CONFLICT (organization_id, thread_id, checkpoint_ns, checkpoint_id, task_id, idx)
        DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob, task_path = EXCLUDED.task_path
        WHERE langgraph_checkpoint_writes.idx < 0`,
      { prepare: true },
    );
  }

  /**
   * Checkpoints newest first (by checkpoint id, then thread and namespace), each with its channel values and pending
   * writes; keyset-paged. Without `checkpointNs`, every namespace.
   */
  async list(organizationId: string, query: CheckpointQuery, db: Db = this.prisma): Promise<Page<CheckpointTupleRow>> {
    const limit = pageSize(query.limit);
    const after = decodeCheckpointCursor(query.cursor);
    const where: Prisma.Sql[] = [Prisma.sql`cp.organization_id = ${organizationId}::uuid`];
    if (query.threadId !== undefined) where.push(Prisma.sql`cp.thread_id = ${query.threadId}::text`);
    if (query.checkpointNs !== undefined) where.push(Prisma.sql`cp.checkpoint_ns = ${query.checkpointNs}::text`);
    if (query.checkpointId !== undefined) where.push(Prisma.sql`cp.checkpoint_id = ${query.checkpointId}::text`);
    if (query.before !== undefined) where.push(Prisma.sql`cp.checkpoint_id < ${query.before}::text`);
    if (query.filter && Object.keys(query.filter).length) where.push(Prisma.sql`cp.metadata @> ${JSON.stringify(query.filter)}::jsonb`);
    if (after) where.push(Prisma.sql`(cp.checkpoint_id, cp.thread_id, cp.checkpoint_ns) < (${after[0]}::text, ${after[1]}::text, ${after[2]}::text)`);
    const rows = await this.prisma.queryRows<CheckpointTupleRow>(
      db,
      Prisma.sql`${TUPLE_SELECT} WHERE ${Prisma.join(where, ' AND ')}
        ORDER BY cp.checkpoint_id DESC, cp.thread_id DESC, cp.checkpoint_ns DESC LIMIT ${limit + 1}`,
      { prepare: query.filter === undefined },
    );
    const data = rows.slice(0, limit);
    const last = data.at(-1);
    return { data, nextCursor: rows.length > limit && last ? encodeCheckpointCursor(last) : null };
  }

  /**
   * Retention (worker): deletes up to `limit` threads of every organization whose newest checkpoint was stored
   * before `before` (or that have none and were created before it), with everything in them. Call again while it
   * returns `limit`.
   */
  async purgeIdleThreads(before: Date, limit = 1_000, db: Db = this.prisma): Promise<number> {
    const rows = await this.prisma.queryRows<{ n: number }>(
      db,
      Prisma.sql`
        WITH d AS (
          DELETE FROM langgraph_threads WHERE (organization_id, thread_id) IN (
            SELECT t.organization_id, t.thread_id FROM langgraph_threads t
             WHERE t.created_at < ${before}::timestamptz
               AND NOT EXISTS (SELECT 1 FROM langgraph_checkpoints c
                                WHERE c.organization_id = t.organization_id AND c.thread_id = t.thread_id AND c.created_at >= ${before}::timestamptz)
             LIMIT ${limit}::int FOR UPDATE SKIP LOCKED)
          RETURNING 1)
        SELECT count(*)::int AS n FROM d`,
    );
    return rows[0].n;
  }

  /** Deletes a thread with its checkpoints, channel values and writes; false when it has none. */
  async deleteThread(organizationId: string, threadId: string, db: Db = this.prisma): Promise<boolean> {
    const rows = await this.prisma.queryRows<{ n: number }>(
      db,
      Prisma.sql`WITH d AS (DELETE FROM langgraph_threads WHERE organization_id = ${organizationId}::uuid AND thread_id = ${threadId}::text RETURNING 1)
                 SELECT count(*)::int AS n FROM d`,
      { prepare: true },
    );
    return rows[0].n > 0;
  }
}

function encodeCheckpointCursor(row: CheckpointTupleRow): string {
  return Buffer.from(JSON.stringify([row.checkpointId, row.threadId, row.checkpointNs])).toString('base64url');
}

function decodeCheckpointCursor(cursor: string | null | undefined): [string, string, string] | null {
  if (!cursor) return null;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'string')) return value as [string, string, string];
  } catch {
    // fall through
  }
  throw new InvalidInputError('cursor is not valid', [{ path: 'cursor', message: 'not a cursor this API issued' }]);
}
