import { Inject, Injectable } from '@nestjs/common';
import { ImportRunRepository, JobLockService, Prisma, type ImportRunRow } from '@agenthub/db';
import { ImportDatabase } from './import-database';
import type {
  Checkpoint,
  EntityCounts,
  ImportBatch,
  ImportOptions,
  ImportSummary,
  OnConflict,
  Rejection,
  VerificationResult,
  Warning,
} from './import.types';
import { ImportTargetRepository, type RefIds, type WriteCounts } from './import-target.repository';
import { conversationHash } from './mapping';
import type { SqlClient } from './sql-client';
import type { ImportSource } from './sources/import-source';

export const DEFAULT_BATCH_SIZE = 5000;
/** How many rejections / warnings the summary lists (all are counted). */
const LISTED = 100;

/** What a run keeps in import_runs.counts, so a resumed run reports the whole import. */
interface RunState {
  entities: Record<string, EntityCounts>;
  rejections: Rejection[];
  rejectedTotal: number;
  warnings: Warning[];
  warningsTotal: number;
  done: number;
}

/**
 * Runs one importer: records the run, writes the source's batches (each in its own transaction together with the
 * run's checkpoint), resumes an interrupted run where it stopped, and verifies the target against the source.
 * A dry run does all of it in one transaction that is rolled back, so its counts and verification are exactly
 * what a real run would produce.
 */
@Injectable()
export class ImportService {
  constructor(
    @Inject(ImportDatabase) private readonly database: ImportDatabase,
    @Inject(ImportRunRepository) private readonly runs: ImportRunRepository,
    @Inject(ImportTargetRepository) private readonly target: ImportTargetRepository,
    @Inject(JobLockService) private readonly locks: JobLockService,
  ) {}

  /** The dimension of the target database's document_chunks.embedding (the migrations' 1536 until they ran). */
  embeddingDimensions(): Promise<number> {
    return this.database.embeddingDimensions();
  }

  async run(source: ImportSource, options: ImportOptions): Promise<ImportSummary> {
    const started = Date.now();
    const org = options.organizationId;
    const mode: OnConflict = options.onConflict ?? 'skip';
    const dryRun = options.dryRun ?? false;
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) throw new Error('batch size must be an integer from 1 to 100000');
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(org) || !(await this.target.organizationExists(org))) {
      throw new Error(`organization ${org} does not exist in the target database`);
    }

    // Two processes importing the same source into the same organization would resume the same run twice.
    const lock = dryRun ? null : await this.locks.tryAcquire(`import-${org}-${source.kind}-${source.digest.slice(0, 16)}`);
    if (!dryRun && !lock) throw new Error(`another import of this ${source.kind} source into organization ${org} is running`);
    try {
      return await this.runLocked(source, options, started, mode, dryRun, batchSize);
    } finally {
      await lock?.release();
    }
  }

  private async runLocked(source: ImportSource, options: ImportOptions, started: number, mode: OnConflict, dryRun: boolean, batchSize: number): Promise<ImportSummary> {
    const org = options.organizationId;
    const { run, resumed } = await this.openRun(source, org, mode, dryRun, options);
    const state: RunState = resumed ? stateOf(run) : { entities: {}, rejections: [], rejectedTotal: 0, warnings: [], warningsTotal: 0, done: 0 };
    const total = await source.total();
    let verification: VerificationResult | null = null;
    let error: string | null = null;
    const connection = this.database.open();
    try {
      if (dryRun) {
        // Everything in one transaction that is rolled back: the counts and the verification are a real run's.
        await connection.transaction(
          async (c) => {
            await this.process(source, org, mode, batchSize, run, resumed, state, total, options, (fn) => fn(c), 1);
            verification = await this.verify(source, org, c);
          },
          { rollback: true },
        );
      } else {
        await this.process(source, org, mode, batchSize, run, resumed, state, total, options, (fn) => connection.transaction(fn), this.database.batchConcurrency);
        if (options.verify !== false) verification = await connection.run((c) => this.verify(source, org, c));
      }
    } catch (e) {
      // Recorded on the run and returned in the summary; the command decides how to show it.
      error = (e as Error).message;
    } finally {
      await connection.close();
    }
    const counts = state as unknown as Prisma.InputJsonObject;
    if (error) await this.runs.fail(run.id, error, counts);
    else await this.runs.complete(run.id, counts);
    return {
      runId: run.id,
      source: source.kind,
      sourceDigest: source.digest,
      organizationId: org,
      dryRun,
      onConflict: mode,
      resumed,
      status: error ? 'failed' : 'completed',
      counts: state.entities,
      rejections: state.rejections,
      rejectedTotal: state.rejectedTotal,
      warnings: state.warnings,
      warningsTotal: state.warningsTotal,
      verification,
      error,
      seconds: (Date.now() - started) / 1000,
    };
  }

  private async openRun(source: ImportSource, org: string, mode: OnConflict, dryRun: boolean, options: ImportOptions): Promise<{ run: ImportRunRow; resumed: boolean }> {
    if (!dryRun && options.resumeRunId) {
      const run = await this.runs.findById(options.resumeRunId);
      if (!run) throw new Error(`import run ${options.resumeRunId} not found`);
      if (run.organizationId !== org || run.source !== source.kind) throw new Error(`import run ${run.id} imported ${run.source} into ${run.organizationId}, not this source into ${org}`);
      if (run.sourceDigest !== source.digest) throw new Error(`import run ${run.id} read a different version of the source (digest ${run.sourceDigest.slice(0, 12)}…); start a new run instead`);
      if (run.status === 'completed') throw new Error(`import run ${run.id} already completed`);
      if (run.dryRun) throw new Error(`import run ${run.id} was a dry run; dry runs are not resumed`);
      return { run: await this.runs.reopen(run.id, mode), resumed: true };
    }
    if (!dryRun && !options.noResume) {
      const unfinished = await this.runs.findResumable(org, source.kind, source.digest);
      if (unfinished) return { run: await this.runs.reopen(unfinished.id, mode), resumed: true };
    }
    return { run: await this.runs.start({ organizationId: org, source: source.kind, sourceDigest: source.digest, dryRun, onConflict: mode }), resumed: false };
  }

  private async process(
    source: ImportSource,
    org: string,
    mode: OnConflict,
    batchSize: number,
    run: ImportRunRow,
    resumed: boolean,
    state: RunState,
    total: number,
    options: ImportOptions,
    /** one transaction per batch, or the dry run's single transaction for everything */
    inTx: <T>(fn: (c: SqlClient) => Promise<T>) => Promise<T>,
    /** batches written concurrently */
    depth: number,
  ): Promise<void> {
    const checkpoint = resumed ? (run.checkpoint as Checkpoint | null) : null;
    const refs = await source.refs();
    const names = refs.agents.map((a) => a.name);
    const externalIds = refs.users.map((u) => u.externalId);
    let ids: RefIds;
    if (!checkpoint) {
      ids = await inTx(async (tx) => {
        const agents = await this.target.upsertAgents(tx, org, refs.agents, mode);
        const users = await this.target.upsertUsers(tx, org, refs.users, mode);
        add(state, 'agents', agents.counts, refs.read['agents'] ?? refs.agents.length);
        add(state, 'users', users.counts, refs.read['users'] ?? refs.users.length);
        for (const [k, n] of Object.entries(refs.read)) if (k !== 'agents' && k !== 'users') add(state, k, null, n);
        note(state, refs.rejections, refs.warnings);
        await tx.query(this.runs.checkpointStatement(run.id, { section: 'refs', after: null }, state as unknown as Prisma.InputJsonObject));
        return { agents: agents.ids, users: users.ids };
      });
    } else {
      ids = await inTx((c) => this.target.refIds(c, org, names, externalIds));
    }
    options.onProgress?.({ done: state.done, total, section: 'records' });
    const from = checkpoint && checkpoint.section !== 'refs' ? checkpoint : null;
    const batches = source.batches(from, batchSize)[Symbol.asyncIterator]();
    // Up to `depth` batches are written at once, on separate connections, so the server never waits for the
    // JavaScript between two batches. Their checkpoints still commit strictly in order: a batch writes its
    // checkpoint only after the batch before it has committed, so a crash can never leave a later checkpoint
    // without the rows before it. The dry run's single transaction and the embedded database (one backend)
    // take one at a time.
    const inFlight: Array<Promise<void>> = [];
    let previous: Promise<void> = Promise.resolve();
    let failure: unknown = null;
    try {
      let next = await batches.next();
      while (!next.done && !failure) {
        const batch = next.value;
        const before = previous;
        const written = inTx(async (tx) => {
          const delta = emptyState();
          await this.writeBatch(tx, org, source.kind, batch, ids, mode, delta);
          await before;
          const after = mergeState(structuredClone(state), delta);
          await tx.query(this.runs.checkpointStatement(run.id, batch.checkpoint, after as unknown as Prisma.InputJsonObject));
          return after;
        }).then((after) => {
          Object.assign(state, after);
          options.onProgress?.({ done: state.done, total, section: batch.checkpoint.section });
        });
        written.catch((e) => (failure ??= e));
        previous = written;
        inFlight.push(written);
        // Read and map the next batch while the server inserts this one. Sources yield to the event loop every
        // few hundred rows, so this interleaves with the writes' own JavaScript instead of holding it up.
        const upcoming = batches.next();
        upcoming.catch(() => undefined);
        if (inFlight.length >= depth) await inFlight.shift()!.catch(() => undefined);
        next = await upcoming;
      }
    } finally {
      await Promise.allSettled(inFlight);
      await batches.return?.(undefined);
    }
    if (failure) throw failure;
  }

  private async writeBatch(tx: SqlClient, org: string, kind: string, batch: ImportBatch, ids: RefIds, mode: OnConflict, state: RunState): Promise<void> {
    if (batch.conversations.length) {
      const r = await this.target.writeConversations(tx, org, batch.conversations, ids, mode);
      add(state, 'conversations', r.conversations, 0);
      add(state, 'messages', r.messages, 0);
    }
    if (batch.payments.length) {
      const r = await this.target.writePayments(tx, org, kind, batch.payments, ids, mode);
      add(state, 'payments', r.payments, 0);
      add(state, 'refunds', r.refunds, 0);
    }
    if (batch.events.length) add(state, 'events', await this.target.writeEvents(tx, org, batch.events, ids, mode), 0);
    if (batch.documents.length) add(state, 'documents', await this.target.writeDocuments(tx, org, batch.documents, ids, mode), 0);
    if (batch.memories.length) add(state, 'memories', await this.target.writeMemories(tx, org, batch.memories, ids, mode), 0);
    for (const [entity, n] of Object.entries(batch.read)) add(state, entity, null, n);
    note(state, batch.rejections, batch.warnings);
    state.done += batch.units;
  }

  /** The verification on its own (the benchmark times it separately from the import). */
  async verifyTarget(source: ImportSource, org: string): Promise<VerificationResult> {
    const connection = this.database.open();
    try {
      return await connection.run((c) => this.verify(source, org, c));
    } finally {
      await connection.close();
    }
  }

  /**
   * Source against target, read afresh from both: every accepted conversation is there with the same number of
   * imported messages and the same (role, content) sequence; payments with the same count and total per
   * currency; refunds, events, documents, memories, agents and users all present.
   */
  async verify(source: ImportSource, org: string, db: SqlClient): Promise<VerificationResult> {
    const checks: VerificationResult['checks'] = [];
    const mismatches: string[] = [];
    let conversations = 0;
    let conversationsFound = 0;
    let messages = 0;
    let messagesFound = 0;
    let sequencesDiffer = 0;
    const paymentKeys: string[] = [];
    const expectedTotals = new Map<string, { count: number; total: Prisma.Decimal }>();
    const refundIds: string[] = [];
    const eventIds: string[] = [];
    const documentIds: string[] = [];
    const memoryIds: string[] = [];
    const P = Prisma;
    for await (const batch of source.batches(null, 2000)) {
      if (batch.conversations.length) {
        const found = await this.target.conversationFingerprints(db, org, batch.conversations.map((c) => c.sourceId), source.clientIdPrefix);
        for (const c of batch.conversations) {
          conversations++;
          messages += c.messages.length;
          const t = found.get(c.sourceId);
          if (!t) {
            if (mismatches.length < 20) mismatches.push(`conversation ${c.sourceId} is missing`);
            continue;
          }
          conversationsFound++;
          messagesFound += t.messages;
          if (t.messages !== c.messages.length || t.hash !== conversationHash(c.messages)) {
            sequencesDiffer++;
            if (mismatches.length < 20) mismatches.push(`conversation ${c.sourceId}: ${t.messages} messages in the target, ${c.messages.length} in the source, or their (role, content) differ`);
          }
        }
      }
      for (const p of batch.payments) {
        paymentKeys.push(`${source.kind}:${p.sourceId}`);
        const e = expectedTotals.get(p.currency) ?? { count: 0, total: new P.Decimal(0) };
        expectedTotals.set(p.currency, { count: e.count + 1, total: e.total.plus(p.amount) });
        refundIds.push(...p.refunds.map((r) => r.sourceId));
      }
      eventIds.push(...batch.events.map((e) => e.sourceId));
      documentIds.push(...batch.documents.map((d) => d.sourceId));
      memoryIds.push(...batch.memories.map((m) => m.sourceId));
    }
    const refs = await source.refs();
    const present = await this.target.countAgentsAndUsers(db, org, refs.agents.map((a) => a.name), refs.users.map((u) => u.externalId));
    const check = (name: string, expected: number | string, actual: number | string) => checks.push({ name, expected, actual, ok: expected === actual });
    check('agents present', refs.agents.length, present.agents);
    check('users present', refs.users.length, present.users);
    if (conversations) {
      check('conversations present', conversations, conversationsFound);
      check('messages present', messages, messagesFound);
      check('conversations whose message sequence differs', 0, sequencesDiffer);
    }
    if (paymentKeys.length) {
      const actual = await this.target.paymentTotals(db, org, paymentKeys);
      for (const [currency, e] of [...expectedTotals].sort()) {
        const a = actual.get(currency);
        check(`payments ${currency} count`, e.count, a?.count ?? 0);
        check(`payments ${currency} total`, e.total.toFixed(4), a ? new P.Decimal(a.total).toFixed(4) : '0.0000');
      }
      if (refundIds.length) check('refunds present', refundIds.length, await this.target.countIds(db, org, 'refunds', 'refund', refundIds));
    }
    if (eventIds.length) check('events present', eventIds.length, await this.target.countIds(db, org, 'analytics_events', 'event', eventIds));
    if (documentIds.length) check('documents present', documentIds.length, await this.target.countIds(db, org, 'documents', 'document', documentIds));
    if (memoryIds.length) check('memories present', memoryIds.length, await this.target.countIds(db, org, 'memories', 'memory', memoryIds));
    for (const c of checks) if (!c.ok && mismatches.length < 20) mismatches.push(`${c.name}: expected ${c.expected}, found ${c.actual}`);
    return { ok: checks.every((c) => c.ok), checks, mismatches };
  }
}

function add(state: RunState, entity: string, counts: WriteCounts | null, read: number): void {
  const e = (state.entities[entity] ??= { read: 0, written: 0, updated: 0, skipped: 0, rejected: 0 });
  e.read += read;
  if (counts) {
    e.written += counts.written;
    e.updated += counts.updated;
    e.skipped += counts.skipped;
  }
}

function note(state: RunState, rejections: Rejection[], warnings: Warning[]): void {
  for (const r of rejections) {
    const e = (state.entities[r.entity] ??= { read: 0, written: 0, updated: 0, skipped: 0, rejected: 0 });
    e.rejected++;
  }
  state.rejectedTotal += rejections.length;
  state.warningsTotal += warnings.length;
  state.rejections.push(...rejections.slice(0, Math.max(0, LISTED - state.rejections.length)));
  state.warnings.push(...warnings.slice(0, Math.max(0, LISTED - state.warnings.length)));
}

function emptyState(): RunState {
  return { entities: {}, rejections: [], rejectedTotal: 0, warnings: [], warningsTotal: 0, done: 0 };
}

/** Adds a batch's counts (`delta`) to the run's. */
function mergeState(into: RunState, delta: RunState): RunState {
  for (const [entity, c] of Object.entries(delta.entities)) {
    const e = (into.entities[entity] ??= { read: 0, written: 0, updated: 0, skipped: 0, rejected: 0 });
    e.read += c.read;
    e.written += c.written;
    e.updated += c.updated;
    e.skipped += c.skipped;
    e.rejected += c.rejected;
  }
  into.rejectedTotal += delta.rejectedTotal;
  into.warningsTotal += delta.warningsTotal;
  into.rejections.push(...delta.rejections.slice(0, Math.max(0, LISTED - into.rejections.length)));
  into.warnings.push(...delta.warnings.slice(0, Math.max(0, LISTED - into.warnings.length)));
  into.done += delta.done;
  return into;
}

function stateOf(run: ImportRunRow): RunState {
  const c = (run.counts ?? {}) as Partial<RunState>;
  return {
    entities: c.entities ?? {},
    rejections: c.rejections ?? [],
    rejectedTotal: c.rejectedTotal ?? 0,
    warnings: c.warnings ?? [],
    warningsTotal: c.warningsTotal ?? 0,
    done: c.done ?? 0,
  };
}
