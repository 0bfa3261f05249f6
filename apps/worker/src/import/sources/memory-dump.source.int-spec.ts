import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PrismaService } from '@agenthub/db';
import { describeOnPostgres, makeOrganization, vectorDimensionsDatabase } from '@agenthub/db/testing';
import { memoryDump, writeMemoryDump } from '../../../test/fixtures/legacy-stores';
import { ImportService } from '../import.service';
import { exactAmount, MemoryDumpSource } from './memory-dump.source';
import { importServiceOn, openImportKit } from '../../../test/import-kit';

describe(MemoryDumpSource.name, () => {
  let kit: ReturnType<typeof openImportKit>;
  let prisma: PrismaService;
  let service: ImportService;
  let dir: string;
  beforeAll(() => ({ prisma, service, dir } = kit = openImportKit('agenthub-dump-')));
  afterAll(() => kit.close());

  async function run(file: string, organizationId: string, options: { onConflict?: 'skip' | 'replace' | 'fail'; batchSize?: number } = {}) {
    const sut = await MemoryDumpSource.open(file);
    try {
      return await service.run(sut, { organizationId, ...options });
    } finally {
      await sut.close();
    }
  }

  it('converts float amounts exactly and reports, never rounds, what does not fit', () => {
    expect(exactAmount(49.99, 'USD')).toEqual({ amount: '49.99' });
    expect(exactAmount(10, 'USD')).toEqual({ amount: '10.00' });
    expect(exactAmount(19.9, 'EUR')).toEqual({ amount: '19.90' });
    expect(exactAmount(1200, 'JPY')).toEqual({ amount: '1200' });
    expect(exactAmount(10.005, 'USD')).toEqual({ error: expect.stringContaining('more than 2 decimal place(s) for USD; not rounded') });
    expect(exactAmount(0.1 + 0.2, 'USD')).toEqual({ error: expect.stringContaining('0.30000000000000004') });
    expect(exactAmount(12.5, 'JPY')).toEqual({ error: expect.stringContaining('more than 0') });
    expect(exactAmount(1e21, 'USD')).toEqual({ error: expect.stringContaining('not a plain decimal') });
    expect(exactAmount(-3, 'USD')).toEqual({ error: expect.stringContaining('not positive') });
  });

  it('imports every dictionary faithfully, with rejections and warnings named', async () => {
    const file = writeMemoryDump(path.join(dir, 'dump.json'));
    const org = await makeOrganization(prisma);
    const summary = await run(file, org.id);
    expect(summary.status).toBe('completed');
    expect(summary.verification?.ok).toBe(true);
    expect(summary.counts['payments']).toEqual({ read: 7, written: 4, updated: 0, skipped: 0, rejected: 3 });
    expect(summary.counts['documents']).toEqual({ read: 5, written: 4, updated: 0, skipped: 0, rejected: 1 });
    expect(summary.counts['refunds']).toEqual({ read: 2, written: 2, updated: 0, skipped: 0, rejected: 0 });
    expect(summary.rejections).toEqual(
      expect.arrayContaining([
        { entity: 'payments', sourceId: 'pi_2', reason: expect.stringContaining('0.30000000000000004') },
        { entity: 'payments', sourceId: 'pi_3', reason: expect.stringContaining('10.005') },
        { entity: 'payments', sourceId: 'pi_6', reason: expect.stringContaining('"zzz"') },
        { entity: 'transactions', sourceId: 'tx_3', reason: 'its payment_intent_id is not in payment_intents' },
        { entity: 'events', sourceId: 'ev_3', reason: 'event_type is missing' },
        { entity: 'documents', sourceId: 'faqs_store:faq_2', reason: 'question is missing' },
      ]),
    );
    expect(summary.warnings).toEqual(
      expect.arrayContaining([
        { entity: 'events', sourceId: 'ev_2', reason: expect.stringContaining('"a9" is not in agents') },
        { entity: 'documents', sourceId: 'knowledge_base:kb_2', reason: expect.stringContaining('got 2') },
      ]),
    );

    const agents = await prisma.agent.findMany({ where: { organizationId: org.id }, orderBy: { name: 'asc' } });
    expect(agents.map((a) => [a.name, a.isActive, a.config])).toEqual([
      ['Old Bot', false, {}],
      ['Support Bot', true, { model: 'gpt-4o' }],
    ]);
    expect(agents[1].metadata).toMatchObject({ industry: 'retail', counters: { conversations: 3, messages: 41 } });
    expect(agents[1].createdAt).toEqual(new Date('2025-01-23T10:00:00Z'));

    const payments = await prisma.payment.findMany({ where: { organizationId: org.id }, orderBy: { idempotencyKey: 'asc' }, include: { refunds: true, user: true } });
    expect(payments.map((p) => [p.idempotencyKey, p.amount.toFixed(4), p.currency, p.status, p.refundedAmount.toFixed(2), p.user?.externalId ?? null])).toEqual([
      ['memory-dump:pi_1', '49.9900', 'USD', 'partially_refunded', '10.00', 'user_123'],
      ['memory-dump:pi_4', '1200.0000', 'JPY', 'pending', '0.00', 'user_456'],
      ['memory-dump:pi_5', '19.9000', 'EUR', 'failed', '0.00', null],
      ['memory-dump:pi_7', '100.0000', 'USD', 'refunded', '100.00', 'user_789'],
    ]);
    expect(payments[0].createdAt).toEqual(new Date(1737626400 * 1000));
    expect(payments[0].refunds.map((r) => [r.amount.toFixed(2), r.createdAt])).toEqual([['10.00', new Date(1737712800 * 1000)]]);
    expect(payments[0].metadata).toMatchObject({ legacy: { order: 'A-1' }, transactions: [expect.objectContaining({ id: 'tx_4', type: 'charge' })] });

    const events = await prisma.analyticsEvent.findMany({ where: { organizationId: org.id }, orderBy: { occurredAt: 'asc' }, include: { agent: true } });
    expect(events.map((e) => [e.type, e.agent?.name ?? null, e.occurredAt.toISOString()])).toEqual([
      ['message_sent', 'Support Bot', '2025-01-23T10:05:00.000Z'],
      ['conversation_started', null, '2025-01-23T09:06:00.000Z'],
    ].sort((a, b) => String(a[2]).localeCompare(String(b[2]))));

    const docs = await prisma.document.findMany({ where: { organizationId: org.id }, orderBy: { title: 'asc' }, include: { chunks: true } });
    expect(docs.map((d) => [d.title, (d.metadata as { kind: string }).kind, d.chunks.length])).toEqual([
      ['Manual', 'document', 1],
      ['Opening hours?', 'faq', 1],
      ['Returns policy', 'knowledge_base', 1],
      ['Shipping', 'knowledge_base', 1],
    ]);
    const [{ embedding }] = await prisma.$queryRaw<Array<{ embedding: string }>>`
      SELECT c.embedding::text AS embedding FROM document_chunks c JOIN documents d ON d.id = c.document_id
       WHERE d.organization_id = ${org.id}::uuid AND d.title = 'Returns policy'`;
    const expected = (memoryDump()['embeddings_cache'] as Record<string, number[]>)['kb_1'];
    expect(JSON.parse(embedding).map(Math.fround)).toEqual(expected.map(Math.fround));
    const [{ n }] = await prisma.$queryRaw<Array<{ n: number }>>`
      SELECT count(*)::int AS n FROM document_chunks c JOIN documents d ON d.id = c.document_id
       WHERE d.organization_id = ${org.id}::uuid AND c.embedding IS NULL`;
    expect(n).toBe(3);
  });

  it('re-runs change nothing, replace rewrites changed source values, and a resumed run matches a straight one', async () => {
    const file = writeMemoryDump(path.join(dir, 'rerun.json'));
    const org = await makeOrganization(prisma);
    await run(file, org.id, { batchSize: 2 });
    const again = await run(file, org.id, { batchSize: 2 });
    for (const c of Object.values(again.counts)) expect([c.written, c.updated]).toEqual([0, 0]);

    const changed = memoryDump();
    (changed['payment_intents'] as Record<string, Record<string, unknown>>)['pi_4']['status'] = 'succeeded';
    const changedFile = writeMemoryDump(path.join(dir, 'changed.json'), changed);
    const replaced = await run(changedFile, org.id, { onConflict: 'replace' });
    expect(replaced.counts['payments']).toMatchObject({ written: 0, updated: 1 });
    expect((await prisma.payment.findFirstOrThrow({ where: { organizationId: org.id, idempotencyKey: 'memory-dump:pi_4' } })).status).toBe('succeeded');

    const failed = await run(changedFile, org.id, { onConflict: 'fail' });
    expect(failed).toMatchObject({ status: 'failed', error: expect.stringContaining('already exists') });
  });

  it('refuses what is not a dump, naming the problem', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, '{"agents": ');
    await expect(MemoryDumpSource.open(bad)).rejects.toThrow(/is not valid JSON/);
    fs.writeFileSync(bad, '{"something": {}}');
    await expect(MemoryDumpSource.open(bad)).rejects.toThrow(/has none of the dictionaries/);
    fs.writeFileSync(bad, '{"agents": []}');
    await expect(MemoryDumpSource.open(bad)).rejects.toThrow(/"agents" must be an object keyed by id/);
  });
});

// A deployment on another embedding model (vector(n) columns, EMBEDDING_DIMENSIONS=n): the importer keeps the dump's
// embeddings of that length and stores the others without a vector, as for any unusable one. A database of its own.
describeOnPostgres(`${MemoryDumpSource.name} into a database whose vector columns are vector(4)`, () => {
  let prisma: PrismaService;
  let service: ImportService;
  let dir: string;

  beforeAll(async () => {
    const url = await vectorDimensionsDatabase('worker_dims4', 4);
    prisma = new PrismaService({ mode: 'postgres', url, close: async () => undefined });
    service = importServiceOn(prisma);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agenthub-dump-dims4-'));
  }, 60_000);
  afterAll(async () => {
    await prisma?.$disconnect();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reads the dimension from the columns, keeps 4-dimensional embeddings and warns about the rest', async () => {
    expect(await service.embeddingDimensions()).toBe(4);
    const dump = memoryDump();
    const long = (dump['embeddings_cache'] as Record<string, unknown>)['kb_1'];
    dump['embeddings_cache'] = { kb_1: [0.5, 0.25, 0, 1], kb_2: long };
    const file = writeMemoryDump(path.join(dir, 'dims4.json'), dump);
    const org = await makeOrganization(prisma);
    const sut = await MemoryDumpSource.open(file, await service.embeddingDimensions());
    const summary = await service.run(sut, { organizationId: org.id }).finally(() => sut.close());
    expect(summary.status).toBe('completed');
    expect(summary.verification?.ok).toBe(true);
    expect(summary.warnings).toEqual(
      expect.arrayContaining([{ entity: 'documents', sourceId: 'knowledge_base:kb_2', reason: expect.stringContaining('embedding is not 4 finite numbers (got 1536)') }]),
    );
    const chunks = await prisma.$queryRaw<Array<{ title: string; embedding: string | null }>>`
      select d.title, c.embedding::text as embedding from document_chunks c join documents d on d.id = c.document_id
       where d.organization_id = ${org.id}::uuid and d.title in ('Returns policy', 'Shipping') order by d.title`;
    expect(chunks).toEqual([
      { title: 'Returns policy', embedding: '[0.5,0.25,0,1]' },
      { title: 'Shipping', embedding: null },
    ]);
  });
});
