import type { ImportRunRepository, ImportRunRow, JobLockService } from '@agenthub/db';
import type { ImportDatabase, ImportSession } from './import-database';
import type { ImportTargetRepository } from './import-target.repository';
import { ImportService } from './import.service';
import type { ConversationRecord, ImportBatch } from './import.types';
import type { SqlClient } from './sql-client';
import { emptyBatch, type ImportSource } from './sources/import-source';

const ORG = '00000000-0000-4000-8000-000000000001';

/** A conversation of `n` messages (the service only counts and passes them on). */
function conversation(id: string, n: number): ConversationRecord {
  const messages = Array.from({ length: n }, (_, i) => ({ clientId: `t:${id}-${i}`, role: 'user' as const, content: `m${i}`, messageType: 'text' as const, toolName: null, toolArgs: null, toolCallId: null, model: null, tokensUsed: null, metadata: {}, createdAt: new Date(0) }));
  return { sourceId: id, agentName: 'bot', userExternalId: null, title: null, metadata: {}, createdAt: new Date(0), lastActivityAt: new Date(0), messages };
}

/** A source of three batches of one conversation each (2, 3 and 4 messages). */
function source(): ImportSource {
  const batches: ImportBatch[] = [2, 3, 4].map((n, i) => ({ ...emptyBatch({ section: 'conversations', after: i }), conversations: [conversation(`c${i}`, n)], units: n, read: { messages: n } }));
  return {
    kind: 'memory-dump',
    digest: 'd'.repeat(64),
    clientIdPrefix: 't:',
    total: async () => 9,
    refs: async () => ({ agents: [{ name: 'bot', description: null, config: {}, isActive: true, metadata: {}, createdAt: null }], users: [], rejections: [], warnings: [], read: {} }),
    async *batches() {
      yield* batches;
    },
    close: async () => undefined,
  };
}

/**
 * The service through its ports: the database (a session whose transactions are recorded as `commit` or
 * `rollback` with the statements sent in them), the run repository, the target repository and the lock.
 */
function setup(options: { failOnConversation?: string; lockTaken?: boolean } = {}) {
  const transactions: Array<{ outcome: 'commit' | 'rollback' | 'error'; statements: string[] }> = [];
  let closed = false;
  const session: ImportSession = {
    async transaction(fn, opts) {
      const tx = { outcome: 'commit' as 'commit' | 'rollback' | 'error', statements: [] as string[] };
      transactions.push(tx);
      const client: SqlClient = { query: async (sql) => (tx.statements.push(sql.text.split(' ')[0]), []), copy: null };
      try {
        const result = await fn(client);
        if (opts?.rollback) tx.outcome = 'rollback';
        return result;
      } catch (e) {
        tx.outcome = 'error';
        throw e;
      }
    },
    run: async (fn) => fn({ query: async () => [], copy: null }),
    close: async () => void (closed = true),
  };
  const database = { open: () => session, batchConcurrency: 1, embeddingDimensions: async () => 4 };
  const run = { id: 'run-1', organizationId: ORG, source: 'memory-dump', sourceDigest: 'd'.repeat(64), status: 'running', dryRun: false, checkpoint: null } as unknown as ImportRunRow;
  const runs = {
    start: jest.fn(async () => run),
    findResumable: jest.fn(async () => null),
    checkpointStatement: jest.fn(() => ({ text: 'UPDATE import_runs …', values: [] })),
    complete: jest.fn(async () => run),
    fail: jest.fn(async () => run),
  };
  const written: string[] = [];
  const target = {
    organizationExists: jest.fn(async () => true),
    upsertAgents: jest.fn(async () => ({ counts: { written: 1, updated: 0, skipped: 0 }, ids: new Map([['bot', 'agent-1']]) })),
    upsertUsers: jest.fn(async () => ({ counts: { written: 0, updated: 0, skipped: 0 }, ids: new Map() })),
    writeConversations: jest.fn(async (_c: SqlClient, _org: string, conversations: ConversationRecord[]) => {
      const c = conversations[0];
      if (c.sourceId === options.failOnConversation) throw new Error(`disk full while writing ${c.sourceId}`);
      written.push(c.sourceId);
      return { conversations: { written: 1, updated: 0, skipped: 0 }, messages: { written: c.messages.length, updated: 0, skipped: 0 } };
    }),
    conversationFingerprints: jest.fn(async () => new Map()),
    countAgentsAndUsers: jest.fn(async () => ({ agents: 1, users: 0 })),
  };
  const release = jest.fn(async () => undefined);
  const locks = { tryAcquire: jest.fn(async () => (options.lockTaken ? null : { held: true, release })) };
  const sut = new ImportService(
    database as unknown as ImportDatabase,
    runs as unknown as ImportRunRepository,
    target as unknown as ImportTargetRepository,
    locks as unknown as JobLockService,
  );
  return { sut, transactions, runs, target, written, release, closed: () => closed };
}

describe(ImportService.name, () => {
  it('writes the references, then each batch in a transaction of its own with its checkpoint, and completes the run', async () => {
    const { sut, transactions, runs, written, release, closed } = setup();
    const summary = await sut.run(source(), { organizationId: ORG, verify: false });
    expect(summary).toMatchObject({ status: 'completed', error: null, resumed: false });
    expect(summary.counts['messages']).toMatchObject({ read: 9, written: 9 });
    expect(summary.counts['agents']).toMatchObject({ written: 1 });
    expect(written).toEqual(['c0', 'c1', 'c2']);
    // refs, then one per batch; each commits with its checkpoint UPDATE
    expect(transactions.map((t) => [t.outcome, t.statements])).toEqual(Array.from({ length: 4 }, () => ['commit', ['UPDATE']]));
    expect(runs.complete).toHaveBeenCalledWith('run-1', expect.objectContaining({ done: 9 }));
    expect(runs.fail).not.toHaveBeenCalled();
    expect(release).toHaveBeenCalled();
    expect(closed()).toBe(true);
  });

  it('a failing batch fails the run with its error; the batches before it stay committed, none after it is written', async () => {
    const { sut, transactions, runs, written, release, closed } = setup({ failOnConversation: 'c1' });
    const summary = await sut.run(source(), { organizationId: ORG, verify: false });
    expect(summary).toMatchObject({ status: 'failed', error: 'disk full while writing c1' });
    expect(written).toEqual(['c0']);
    expect(transactions.map((t) => t.outcome)).toEqual(['commit', 'commit', 'error']);
    expect(runs.fail).toHaveBeenCalledWith('run-1', 'disk full while writing c1', expect.objectContaining({ done: 2 }));
    expect(runs.complete).not.toHaveBeenCalled();
    expect(release).toHaveBeenCalled();
    expect(closed()).toBe(true);
  });

  it('a dry run does everything in one transaction that is rolled back, and verifies inside it', async () => {
    const { sut, transactions, target } = setup();
    const summary = await sut.run(source(), { organizationId: ORG, dryRun: true });
    expect(summary).toMatchObject({ status: 'completed', dryRun: true });
    expect(transactions.map((t) => t.outcome)).toEqual(['rollback']);
    expect(target.conversationFingerprints).toHaveBeenCalled();
    expect(summary.verification?.checks.find((c) => c.name === 'conversations present')).toMatchObject({ expected: 3, actual: 0, ok: false });
  });

  it('refuses a second import of the same source into the organization while one runs, starting nothing', async () => {
    const { sut, runs, transactions } = setup({ lockTaken: true });
    await expect(sut.run(source(), { organizationId: ORG })).rejects.toThrow(/another import of this memory-dump source/);
    expect(runs.start).not.toHaveBeenCalled();
    expect(transactions).toEqual([]);
  });

  it('refuses an organization that is not a UUID or not in the target, and a batch size out of range', async () => {
    const { sut, target } = setup();
    await expect(sut.run(source(), { organizationId: 'acme' })).rejects.toThrow(/does not exist/);
    target.organizationExists.mockResolvedValueOnce(false);
    await expect(sut.run(source(), { organizationId: ORG })).rejects.toThrow(/does not exist/);
    await expect(sut.run(source(), { organizationId: ORG, batchSize: 0 })).rejects.toThrow(/batch size/);
  });
});
