import type { MessageRole, MessageType } from '@agenthub/db';

/**
 * The shape every importer maps its source into. Records carry deterministic ids (see stable-id.ts), so writing
 * the same source twice addresses the same rows: that is what makes re-runs and resumes idempotent.
 */
export type OnConflict = 'skip' | 'replace' | 'fail';
export const ON_CONFLICT_VALUES: readonly OnConflict[] = ['skip', 'replace', 'fail'];
export type ImportSourceKind = 'agentos-sqlite' | 'adk' | 'memory-dump';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface AgentRecord {
  /** identity in the target: agents are matched by name */
  name: string;
  description: string | null;
  config: JsonObject;
  isActive: boolean;
  metadata: JsonObject;
  createdAt: Date | null;
}

export interface UserRecord {
  /** identity in the target: users are matched by externalId */
  externalId: string;
  name: string | null;
  metadata: JsonObject;
}

/** The schema's enums (the API's and the importers' messages are one kind of row). */
export type { MessageRole, MessageType };

export interface MessageRecord {
  /** `<source>:<source id>`: stored as the message's clientId and hashed into its id */
  clientId: string;
  role: MessageRole;
  content: string;
  messageType: MessageType;
  toolName: string | null;
  toolArgs: Json | null;
  toolCallId: string | null;
  model: string | null;
  tokensUsed: number | null;
  metadata: JsonObject;
  createdAt: Date;
}

export interface ConversationRecord {
  /** the source's id; becomes sessionId and is hashed into the conversation's id */
  sourceId: string;
  /** the conversation's sessionId when it is not the sourceId itself */
  sessionId?: string;
  agentName: string;
  userExternalId: string | null;
  title: string | null;
  metadata: JsonObject;
  createdAt: Date;
  lastActivityAt: Date;
  /** already in order (timestamp, then source id) */
  messages: MessageRecord[];
}

export interface RefundRecord {
  sourceId: string;
  amount: string;
  reason: string | null;
  createdAt: Date;
}

export interface PaymentRecord {
  /** the source's id; the payment's idempotency key is `<source>:<sourceId>` */
  sourceId: string;
  userExternalId: string | null;
  amount: string;
  currency: string;
  status: 'pending' | 'succeeded' | 'failed' | 'partially_refunded' | 'refunded';
  refundedAmount: string;
  description: string | null;
  failureReason: string | null;
  /** sha256 of the source record (canonical JSON): stored as the payment's request hash */
  requestHash: string;
  metadata: JsonObject;
  createdAt: Date;
  refunds: RefundRecord[];
}

export interface EventRecord {
  sourceId: string;
  type: string;
  agentName: string | null;
  data: JsonObject;
  occurredAt: Date;
}

export interface DocumentRecord {
  sourceId: string;
  agentName: string | null;
  title: string;
  content: string | null;
  metadata: JsonObject;
  /** one chunk per document here; its embedding when the source had a usable one */
  chunks: Array<{ content: string; embedding: number[] | null }>;
  createdAt: Date | null;
}

/** A memory (AgentOS cognitive memory trace): imported only with a usable embedding of the target's dimension. */
export interface MemoryRecord {
  /** hashed into the memory's id */
  sourceId: string;
  agentName: string | null;
  userExternalId: string | null;
  content: string;
  embedding: number[];
  /** 0..1 */
  importance: number;
  kind: string;
  metadata: JsonObject;
  createdAt: Date;
}

/** A source row that was not imported, and why. */
export interface Rejection {
  entity: string;
  sourceId: string;
  reason: string;
}

/** Kept, but something had to be adapted (malformed JSON kept as raw text, an unusable embedding dropped). */
export type Warning = Rejection;

/** One unit of work the writer commits atomically with the run's checkpoint. */
export interface ImportBatch {
  conversations: ConversationRecord[];
  payments: PaymentRecord[];
  events: EventRecord[];
  documents: DocumentRecord[];
  memories: MemoryRecord[];
  rejections: Rejection[];
  warnings: Warning[];
  /** rows read from the source for this batch, per entity (`messages`, `adkEvents`, …) */
  read: Record<string, number>;
  /** progress units (messages or records) this batch stands for */
  units: number;
  /** where to resume after this batch has committed */
  checkpoint: Checkpoint;
}

/** Opaque to the service: each source knows what it means. */
export type Checkpoint = { section: string; after: Json };

export interface EntityCounts {
  read: number;
  written: number;
  updated: number;
  skipped: number;
  rejected: number;
}

/** What the verification compares, per conversation: message count and a hash of the (role, content) sequence. */
export interface ExpectedConversation {
  sourceId: string;
  messages: number;
  hash: string;
}

export interface VerificationResult {
  ok: boolean;
  checks: Array<{ name: string; expected: number | string; actual: number | string; ok: boolean }>;
  /** first mismatches, for the summary */
  mismatches: string[];
}

export interface ImportSummary {
  runId: string;
  source: ImportSourceKind;
  sourceDigest: string;
  organizationId: string;
  dryRun: boolean;
  onConflict: OnConflict;
  resumed: boolean;
  status: 'completed' | 'failed';
  counts: Record<string, EntityCounts>;
  rejections: Rejection[];
  /** how many rejections there were in all (the list is capped) */
  rejectedTotal: number;
  warnings: Warning[];
  warningsTotal: number;
  verification: VerificationResult | null;
  error: string | null;
  seconds: number;
}

export interface ImportOptions {
  organizationId: string;
  dryRun?: boolean;
  onConflict?: OnConflict;
  /** resume this run; without it, the newest unfinished run of the same source and digest is resumed */
  resumeRunId?: string;
  /** start afresh even if an unfinished run exists */
  noResume?: boolean;
  /** messages (or records) per transaction */
  batchSize?: number;
  /** compare source and target at the end (default true; the benchmark times the write path without it) */
  verify?: boolean;
  onProgress?: (progress: { done: number; total: number; section: string }) => void;
}
