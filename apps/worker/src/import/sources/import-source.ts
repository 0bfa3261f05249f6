import type { AgentRecord, Checkpoint, ImportBatch, ImportSourceKind, Rejection, UserRecord, Warning } from '../import.types';

/**
 * One legacy store, opened. `refs()` lists the agents and users every later record refers to (written first);
 * `batches()` reads the rest in a fixed order, starting after `from` (the checkpoint of the last committed
 * batch), in batches of about `batchSize` messages or records. A conversation is never split across batches.
 */
export interface ImportSource {
  readonly kind: ImportSourceKind;
  /** sha256 of the source's content (file bytes, or a digest of the rows for a database) */
  readonly digest: string;
  /** prefix of the clientId of every message this source creates: the verification selects on it */
  readonly clientIdPrefix: string;
  /** progress units (messages or records) in all */
  total(): Promise<number>;
  refs(): Promise<{ agents: AgentRecord[]; users: UserRecord[]; rejections: Rejection[]; warnings: Warning[]; read: Record<string, number> }>;
  batches(from: Checkpoint | null, batchSize: number): AsyncIterable<ImportBatch>;
  close(): Promise<void>;
}

export function emptyBatch(checkpoint: Checkpoint): ImportBatch {
  return { conversations: [], payments: [], events: [], documents: [], memories: [], rejections: [], warnings: [], read: {}, units: 0, checkpoint };
}

export function addRead(batch: ImportBatch, entity: string, n = 1): void {
  batch.read[entity] = (batch.read[entity] ?? 0) + n;
}
