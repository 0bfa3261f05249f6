import { randomBytes } from 'node:crypto';
import type { RunnableConfig } from '@langchain/core/runnables';
import {
  BaseCheckpointSaver,
  TASKS,
  WRITES_IDX_MAP,
  maxChannelVersion,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
} from '@langchain/langgraph-checkpoint';
import { isStatus, clientOf, type AgentHubClient, type AgentHubConnection, type components } from '@agenthub/client';

type Tuple = components['schemas']['CheckpointPageDto_Output']['data'][number];

const PAGE = 200;
const bytes = (data: string) => new Uint8Array(Buffer.from(data, 'base64'));
const base64 = (data: Uint8Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64');

/**
 * A LangGraph checkpointer whose threads live in AgentHub (`/api/v1/langgraph`), in the organization of its API
 * key — with AgentHub's tenancy, backups, audit and tenant export. Laid out as LangGraph's own PostgreSQL saver:
 * the checkpoint without its channel values, each channel value once per version (only the channels a step moved
 * are sent), pending writes per task. Values are serialized by the saver's `serde` (LangGraph's JSON+ serializer by
 * default) and travel as bytes; a put is one request and one statement.
 *
 * ```ts
 * const checkpointer = new AgentHubSaver({ baseUrl, apiKey });
 * const graph = workflow.compile({ checkpointer });
 * ```
 */
export class AgentHubSaver extends BaseCheckpointSaver {
  readonly client: AgentHubClient;

  /** `connection`: its API key needs role member or above. */
  constructor(connection: AgentHubConnection, serde?: SerializerProtocol) {
    super(serde);
    this.client = clientOf(connection);
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const { thread_id: threadId, checkpoint_ns: checkpointNs = '', checkpoint_id: checkpointId } = config.configurable ?? {};
    if (threadId === undefined || threadId === null || threadId === '') return undefined;
    const { data } = await this.client.GET('/api/v1/langgraph/threads/{threadId}/checkpoints', {
      params: { path: { threadId: String(threadId) }, query: { checkpointNs: String(checkpointNs), ...(checkpointId ? { checkpointId: String(checkpointId) } : {}), limit: 1 } },
    });
    const row = data!.data[0];
    return row ? this.toTuple(row) : undefined;
  }

  async *list(config: RunnableConfig, options: CheckpointListOptions = {}): AsyncGenerator<CheckpointTuple> {
    const { thread_id: threadId, checkpoint_ns: checkpointNs, checkpoint_id: checkpointId } = config.configurable ?? {};
    const before = options.before?.configurable?.checkpoint_id;
    let remaining = options.limit ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) return;
    let cursor: string | undefined;
    do {
      const { data } = await this.client.POST('/api/v1/langgraph/checkpoints/search', {
        body: {
          ...(threadId !== undefined && threadId !== null && threadId !== '' ? { threadId: String(threadId) } : {}),
          ...(checkpointNs !== undefined && checkpointNs !== null ? { checkpointNs: String(checkpointNs) } : {}),
          ...(checkpointId ? { checkpointId: String(checkpointId) } : {}),
          ...(before ? { before: String(before) } : {}),
          ...(options.filter && Object.keys(options.filter).length ? { filter: options.filter } : {}),
          limit: Math.min(PAGE, remaining),
          ...(cursor ? { cursor } : {}),
        },
      });
      for (const row of data!.data) {
        yield await this.toTuple(row);
        if (--remaining <= 0) return;
      }
      cursor = data!.nextCursor ?? undefined;
    } while (cursor);
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    const { thread_id: threadId, checkpoint_ns: checkpointNs = '', checkpoint_id: parentId } = config.configurable ?? {};
    if (threadId === undefined || threadId === null || threadId === '') {
      throw new Error('Failed to put checkpoint: the config has no configurable.thread_id (pass one when you invoke a graph with a checkpointer)');
    }
    const { channel_values: values, ...rest } = checkpoint;
    const blobs = await Promise.all(
      Object.entries(newVersions).map(async ([channel, version]) => {
        if (!(channel in values)) return { channel, version: String(version), type: 'empty', data: null };
        const [type, data] = await this.serde.dumpsTyped((values as Record<string, unknown>)[channel]);
        return { channel, version: String(version), type, data: base64(data) };
      }),
    );
    await this.client.PUT('/api/v1/langgraph/threads/{threadId}/checkpoints/{checkpointId}', {
      params: { path: { threadId: String(threadId), checkpointId: checkpoint.id } },
      body: {
        checkpointNs: String(checkpointNs),
        parentCheckpointId: parentId ? String(parentId) : null,
        checkpoint: rest as unknown as Record<string, unknown>,
        metadata: await this.dumpMetadata(metadata),
        blobs,
      },
    });
    return { configurable: { thread_id: threadId, checkpoint_ns: checkpointNs, checkpoint_id: checkpoint.id } };
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath?: string): Promise<void> {
    const { thread_id: threadId, checkpoint_ns: checkpointNs = '', checkpoint_id: checkpointId } = config.configurable ?? {};
    if (threadId === undefined || threadId === null || threadId === '') throw new Error('Failed to put writes: the config has no configurable.thread_id');
    if (!checkpointId) throw new Error('Failed to put writes: the config has no configurable.checkpoint_id');
    if (!writes.length) return;
    const body = await Promise.all(
      writes.map(async ([channel, value], idx) => {
        const [type, data] = await this.serde.dumpsTyped(value);
        return { idx: WRITES_IDX_MAP[channel] ?? idx, channel, type, data: base64(data) };
      }),
    );
    await this.client.PUT('/api/v1/langgraph/threads/{threadId}/checkpoints/{checkpointId}/writes/{taskId}', {
      params: { path: { threadId: String(threadId), checkpointId: String(checkpointId), taskId } },
      body: { checkpointNs: String(checkpointNs), taskPath: taskPath ?? '', writes: body },
    });
  }

  /**
   * Channel versions unique to the step that made them: the count, zero-padded so versions still compare in order,
   * then random digits, as LangGraph's Python PostgreSQL saver makes them. A channel value is stored once per
   * (channel, version); with bare counts, two branches forked from one checkpoint (time travel, updateState) would
   * reach the same version with different values, and the second branch would read the first one's. (Typed as the
   * base class's number so that the saver fits `compile({ checkpointer })`; LangGraph compares versions of either
   * kind — compareChannelVersions — and stores them as given.)
   */
  override getNextVersion(current: number | undefined): number {
    const value = current as number | string | undefined;
    const n = value === undefined ? 0 : typeof value === 'number' ? value : Number.parseInt(value.split('.')[0], 10) || 0;
    return `${String(n + 1).padStart(32, '0')}.${randomBytes(8).toString('hex')}` as unknown as number;
  }

  async deleteThread(threadId: string): Promise<void> {
    try {
      await this.client.DELETE('/api/v1/langgraph/threads/{threadId}', { params: { path: { threadId } } });
    } catch (e) {
      if (!isStatus(e, 404)) throw e;
    }
  }

  private async toTuple(row: Tuple): Promise<CheckpointTuple> {
    const channelValues: Record<string, unknown> = {};
    await Promise.all(
      row.blobs
        .filter((b) => b.type !== 'empty' && b.data !== null)
        .map(async (b) => {
          channelValues[b.channel] = await this.serde.loadsTyped(b.type, bytes(b.data!));
        }),
    );
    const checkpoint = row.checkpoint as unknown as Omit<Checkpoint, 'channel_values'>;
    const pendingWrites: CheckpointPendingWrite[] = await Promise.all(
      row.pendingWrites.map(async (w) => [w.taskId, w.channel, await this.serde.loadsTyped(w.type, bytes(w.data))] as CheckpointPendingWrite),
    );
    const configurable = { thread_id: row.threadId, checkpoint_ns: row.checkpointNs };
    const channelVersions = { ...(checkpoint.channel_versions ?? {}) };
    if (checkpoint.v < 4 && row.parentCheckpointId) {
      await this.migratePendingSends(row, channelValues, channelVersions);
    }
    return {
      config: { configurable: { ...configurable, checkpoint_id: row.checkpointId } },
      checkpoint: { ...checkpoint, channel_versions: channelVersions, versions_seen: checkpoint.versions_seen ?? {}, channel_values: channelValues } as Checkpoint,
      metadata: await this.loadMetadata(row.metadata),
      ...(row.parentCheckpointId ? { parentConfig: { configurable: { ...configurable, checkpoint_id: row.parentCheckpointId } } } : {}),
      pendingWrites,
    };
  }

  /**
   * A checkpoint of format < 4 kept its pending sends as the parent checkpoint's writes to the tasks channel; they
   * become that channel's value, as LangGraph's own savers migrate them when reading.
   */
  private async migratePendingSends(row: Tuple, channelValues: Record<string, unknown>, channelVersions: Record<string, string | number>): Promise<void> {
    const { data } = await this.client.GET('/api/v1/langgraph/threads/{threadId}/checkpoints', {
      params: { path: { threadId: row.threadId }, query: { checkpointNs: row.checkpointNs, checkpointId: row.parentCheckpointId!, limit: 1 } },
    });
    const sends = (data!.data[0]?.pendingWrites ?? []).filter((w) => w.channel === TASKS);
    channelValues[TASKS] = await Promise.all(sends.map((w) => this.serde.loadsTyped(w.type, bytes(w.data))));
    const versions = Object.values(channelVersions);
    channelVersions[TASKS] = versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined);
  }

  /** Metadata as JSON (searchable with a filter), through the serializer as LangGraph's PostgreSQL saver does. */
  private async dumpMetadata(metadata: CheckpointMetadata): Promise<Record<string, unknown>> {
    const [, data] = await this.serde.dumpsTyped(metadata);
    return JSON.parse(new TextDecoder().decode(data).replace(/\\u0000/g, '')) as Record<string, unknown>;
  }

  private async loadMetadata(metadata: Record<string, unknown>): Promise<CheckpointMetadata> {
    const [type, data] = await this.serde.dumpsTyped(metadata);
    return (await this.serde.loadsTyped(type, data)) as CheckpointMetadata;
  }
}
