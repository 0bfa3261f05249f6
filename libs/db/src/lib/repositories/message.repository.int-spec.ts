import { createTestPrisma, describeOnPostgres, makeConversation, makeTenant, TEST_AUDIT_MAC_KEY } from '../../testing';
import { InvalidInputError, InvalidStateError, NotFoundError } from '../errors';
import type { PrismaService } from '../prisma.service';
import { AuditLogRepository } from './audit-log.repository';
import { MESSAGE_LIMITS, MessageRepository, type MessageInput } from './message.repository';

const userSays = (content: string, extra: Partial<MessageInput> = {}): MessageInput => ({ role: 'user', content, ...extra });

async function seqsOf(prisma: PrismaService, conversationId: string): Promise<number[]> {
  const rows = await prisma.message.findMany({ where: { conversationId }, select: { seq: true }, orderBy: { seq: 'asc' } });
  return rows.map((r) => r.seq);
}

describe(MessageRepository.name, () => {
  let prisma: PrismaService;
  let sut: MessageRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new MessageRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

  it('numbers messages 1..n in request order and moves the counters in the same write', async () => {
    const { organization, conversation } = await makeTenant(prisma);
    const first = await sut.append(organization.id, conversation.id, [userSays('hello')]);
    const batch = await sut.append(organization.id, conversation.id, [
      userSays('a'),
      { role: 'assistant', content: 'b', model: 'gpt-4o', tokensUsed: 12 },
      { role: 'tool', messageType: 'tool_response', toolName: 'search', toolCallId: 'c1', toolArgs: { q: 'x' } },
    ]);
    expect(first.map((m) => m.seq)).toEqual([1]);
    expect(batch.map((m) => [m.seq, m.content])).toEqual([[2, 'a'], [3, 'b'], [4, '']]);
    expect(batch[2]).toMatchObject({ messageType: 'tool_response', toolName: 'search', toolArgs: { q: 'x' }, isComplete: true });
    // times as the API writes them: ISO 8601 UTC with milliseconds
    expect(batch[1].createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    expect(new Date(batch[1].createdAt).toISOString()).toBe(batch[1].createdAt);
    const conv = await prisma.conversation.findUniqueOrThrow({ where: { id: conversation.id } });
    expect(conv.messageCount).toBe(4);
    expect(conv.lastMessageAt?.toISOString()).toBe(batch[2].createdAt);
  });

  it('returns the stored message for a repeated clientId, also within one batch, without a new seq', async () => {
    const { organization, conversation } = await makeTenant(prisma);
    const [original] = await sut.append(organization.id, conversation.id, [userSays('once', { clientId: 'c-1' })]);
    const replay = await sut.append(organization.id, conversation.id, [
      userSays('again', { clientId: 'c-1' }),
      userSays('new', { clientId: 'c-2' }),
      userSays('dup in batch', { clientId: 'c-2' }),
    ]);
    expect(replay[0]).toEqual(original);
    expect(replay[1].seq).toBe(2);
    expect(replay[2]).toEqual(replay[1]);
    expect(await seqsOf(prisma, conversation.id)).toEqual([1, 2]);
    const conv = await prisma.conversation.findUniqueOrThrow({ where: { id: conversation.id } });
    expect(conv.messageCount).toBe(2);
  });

  it("refuses another organization's conversation and writes nothing", async () => {
    const mine = await makeTenant(prisma);
    const theirs = await makeTenant(prisma);
    await expect(sut.append(mine.organization.id, theirs.conversation.id, [userSays('x')])).rejects.toBeInstanceOf(NotFoundError);
    expect(await seqsOf(prisma, theirs.conversation.id)).toEqual([]);
  });

  it('refuses bad input as a whole: nothing of the batch is written', async () => {
    const { organization, conversation } = await makeTenant(prisma);
    const bad = [userSays('fine'), { role: 'robot', content: 'x' } as unknown as MessageInput];
    await expect(sut.append(organization.id, conversation.id, bad)).rejects.toBeInstanceOf(InvalidInputError);
    await expect(sut.append(organization.id, conversation.id, [])).rejects.toBeInstanceOf(InvalidInputError);
    await expect(sut.append(organization.id, conversation.id, [userSays('nul \u0000 byte')])).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    // The limits the API's DTO checks too (MESSAGE_LIMITS): a clientId one character too long is refused here as well.
    const longId = 'c'.repeat(MESSAGE_LIMITS.clientId + 1);
    await expect(sut.append(organization.id, conversation.id, [userSays('x', { clientId: longId })])).rejects.toMatchObject({
      details: [{ path: 'messages.0.clientId', message: `must be at most ${MESSAGE_LIMITS.clientId} characters` }],
    });
    expect(await seqsOf(prisma, conversation.id)).toEqual([]);
    await sut.append(organization.id, conversation.id, [userSays('x', { clientId: longId.slice(1) })]);
    expect(await seqsOf(prisma, conversation.id)).toEqual([1]);
  });

  it('refuses ids that are not UUIDs, and input PostgreSQL would refuse, as domain errors', async () => {
    const { organization, conversation } = await makeTenant(prisma);
    await expect(sut.append(organization.id, 'not-a-uuid', [userSays('x')])).rejects.toBeInstanceOf(NotFoundError);
    expect(await sut.findById(organization.id, 'nope')).toBeNull();
    expect(await sut.listPage(organization.id, '1234')).toBeNull();
    expect(await sut.appendChunk(organization.id, 'nope', 'x')).toBeNull();
    expect(await sut.complete(organization.id, 'nope')).toBeNull();
    await expect(sut.searchText(organization.id, { query: 'x', agentId: 'nope' })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      sut.append(organization.id, conversation.id, [userSays('x', { metadata: { note: 'nul \u0000' } })]),
    ).rejects.toMatchObject({ details: [{ path: 'messages.0.metadata.note' }] });
    await expect(sut.listPage(organization.id, conversation.id, { afterSeq: 2 ** 31 })).rejects.toBeInstanceOf(InvalidInputError);
    const hugeCursor = Buffer.from(String(2 ** 40)).toString('base64url');
    await expect(sut.listPage(organization.id, conversation.id, { cursor: hugeCursor })).rejects.toBeInstanceOf(InvalidInputError);
    expect(await seqsOf(prisma, conversation.id)).toEqual([]);
  });

  it('refuses a streamed message growing past the searchable size, keeping what it had', async () => {
    const { organization, conversation } = await makeTenant(prisma);
    const [msg] = await sut.append(organization.id, conversation.id, [{ role: 'assistant', content: '', isStreaming: true }]);
    await sut.appendChunk(organization.id, msg.id, 'a'.repeat(300_000));
    await expect(sut.appendChunk(organization.id, msg.id, 'b'.repeat(300_000))).rejects.toBeInstanceOf(InvalidInputError);
    expect((await sut.findById(organization.id, msg.id))?.content).toHaveLength(300_000);
  });

  it("joins a caller's transaction: rolled back together, nothing left behind", async () => {
    const { organization, conversation } = await makeTenant(prisma);
    await expect(
      prisma.transaction(async (tx) => {
        const [m] = await sut.append(organization.id, conversation.id, [userSays('inside', { clientId: 'tx-1' })], tx);
        expect(m.seq).toBe(1);
        expect((await sut.append(organization.id, conversation.id, [userSays('replay', { clientId: 'tx-1' })], tx))[0].id).toBe(m.id);
        throw new Error('caller gives up');
      }),
    ).rejects.toThrow('caller gives up');
    expect(await seqsOf(prisma, conversation.id)).toEqual([]);
    expect((await prisma.conversation.findUniqueOrThrow({ where: { id: conversation.id } })).messageCount).toBe(0);
    const [committed] = await sut.append(organization.id, conversation.id, [userSays('after', { clientId: 'tx-1' })]);
    expect(committed.seq).toBe(1);
  });

  it('inserts the audit entry of the messages written now with them: one message by its own statement (committing with it), a batch after it, a replay none', async () => {
    const { organization, conversation } = await makeTenant(prisma);
    const org = organization.id;
    const audit = new AuditLogRepository(prisma, TEST_AUDIT_MAC_KEY);
    const built: string[] = [];
    const entry = (created: Array<{ id: string; role: string }>) => {
      const row = audit.buildRow(org, { actor: 'test', action: 'message.append', entityType: 'conversation', entityId: conversation.id, after: { messages: created }, requestId: null });
      built.push(row.id);
      return row;
    };
    const one = await prisma.rawTransaction(org, (db) => sut.appendWithOutcome(org, conversation.id, [userSays('one', { clientId: 'a-1' })], db, { audit: entry, commit: true }));
    expect(one.audit?.after).toEqual({ messages: [{ id: one.inserted[0].id, role: 'user' }] });
    const replay = await prisma.rawTransaction(org, (db) => sut.appendWithOutcome(org, conversation.id, [userSays('again', { clientId: 'a-1' })], db, { audit: entry, commit: true }));
    expect(replay).toMatchObject({ inserted: [], audit: null });
    expect(replay.messages[0].id).toBe(one.inserted[0].id);
    const batch = await prisma.rawTransaction(org, (db) =>
      sut.appendWithOutcome(org, conversation.id, [userSays('b1'), userSays('again', { clientId: 'a-1' }), { role: 'assistant', content: 'b2' }], db, { audit: entry }),
    );
    expect(batch.audit?.after).toEqual({ messages: batch.inserted.map((m) => ({ id: m.id, role: m.role })) });
    expect(batch.inserted.map((m) => m.role)).toEqual(['user', 'assistant']);
    // Rolled back with its transaction: neither the message nor the entry stays.
    await expect(
      prisma.rawTransaction(org, async (db) => {
        await sut.appendWithOutcome(org, conversation.id, [userSays('gone')], db, { audit: entry });
        throw new Error('caller gives up');
      }),
    ).rejects.toThrow('caller gives up');
    const stored = await prisma.auditLog.findMany({ where: { organizationId: org }, select: { id: true } });
    expect(stored.map((r) => r.id).sort()).toEqual([one.audit!.id, batch.audit!.id].sort());
    expect(built).toHaveLength(4); // built for the replay's statement too, but not inserted
    expect(await seqsOf(prisma, conversation.id)).toEqual([1, 2, 3]);
    expect(await audit.verify(org)).toMatchObject({ ok: true, pending: 2 });
  });

  it('streams: chunks append in order, completion ends it, chunks afterwards are refused', async () => {
    const { organization, conversation } = await makeTenant(prisma);
    const [msg] = await sut.append(organization.id, conversation.id, [{ role: 'assistant', content: '', isStreaming: true }]);
    expect(msg).toMatchObject({ isStreaming: true, isComplete: false });
    await sut.appendChunk(organization.id, msg.id, 'Hel');
    await sut.appendChunk(organization.id, msg.id, 'lo');
    const done = await sut.complete(organization.id, msg.id, { tokensUsed: 7 });
    expect(done).toMatchObject({ content: 'Hello', isStreaming: false, isComplete: true, tokensUsed: 7 });
    await expect(sut.appendChunk(organization.id, msg.id, '!')).rejects.toBeInstanceOf(InvalidStateError);
    await expect(sut.complete(organization.id, msg.id)).rejects.toBeInstanceOf(InvalidStateError);
    const other = await makeTenant(prisma);
    expect(await sut.appendChunk(other.organization.id, msg.id, 'x')).toBeNull();
  });

  it('pages by seq in both directions and between bounds', async () => {
    const { organization, conversation } = await makeTenant(prisma);
    await sut.append(organization.id, conversation.id, Array.from({ length: 7 }, (_, i) => userSays(`m${i + 1}`)));
    const collect = async (opts: Parameters<MessageRepository['listPage']>[2]) => {
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page = await sut.listPage(organization.id, conversation.id, { ...opts, cursor, limit: 3 });
        seen.push(...page!.data.map((m) => m.seq));
        cursor = page!.nextCursor;
      } while (cursor);
      return seen;
    };
    expect(await collect({})).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(await collect({ order: 'desc' })).toEqual([7, 6, 5, 4, 3, 2, 1]);
    expect(await collect({ afterSeq: 2, beforeSeq: 6 })).toEqual([3, 4, 5]);
    expect(await sut.listPage((await makeTenant(prisma)).organization.id, conversation.id)).toBeNull();
  });

  it('finds messages by full text, best first, with highlighted snippets, never from deleted conversations', async () => {
    const { organization, agent, conversation } = await makeTenant(prisma);
    const deleted = await makeConversation(prisma, organization.id, agent.id);
    await sut.append(organization.id, conversation.id, [
      userSays('The refund for my order never arrived'),
      userSays('Refund refund refund: where is my refund?'),
      userSays('Completely unrelated text about weather'),
    ]);
    await sut.append(organization.id, deleted.id, [userSays('refund in a conversation that is deleted')]);
    await prisma.conversation.update({ where: { id: deleted.id }, data: { status: 'deleted' } });
    const other = await makeTenant(prisma);
    await sut.append(other.organization.id, other.conversation.id, [userSays('refund from another tenant')]);

    const hits = await sut.searchText(organization.id, { query: 'refunds' });
    expect(hits.map((h) => h.content)).toEqual(['Refund refund refund: where is my refund?', 'The refund for my order never arrived']);
    expect(hits[0].rank).toBeGreaterThan(hits[1].rank);
    expect(hits[1].snippet).toContain('<b>refund</b>');
    expect(await sut.searchText(organization.id, { query: 'refund', conversationId: deleted.id })).toEqual([]);
  });

  describeOnPostgres('under concurrent writers', () => {
    it('hands out gap-free seq in request order to 25 writers appending to one conversation at once', async () => {
      const { organization, conversation } = await makeTenant(prisma);
      const writers = 25;
      const results = await Promise.all(
        Array.from({ length: writers }, (_, w) =>
          sut.append(
            organization.id,
            conversation.id,
            Array.from({ length: (w % 4) + 1 }, (_, i) => userSays(`w${w}-${i}`)),
          ),
        ),
      );
      const total = results.reduce((n, r) => n + r.length, 0);
      expect(await seqsOf(prisma, conversation.id)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
      for (const batch of results) {
        // each request's messages are consecutive and in the order sent
        expect(batch.map((m) => m.seq)).toEqual(batch.map((_, i) => batch[0].seq + i));
        expect(batch.map((m) => m.content)).toEqual(batch.map((_, i) => `${batch[0].content.split('-')[0]}-${i}`));
      }
      const conv = await prisma.conversation.findUniqueOrThrow({ where: { id: conversation.id } });
      expect(conv.messageCount).toBe(total);
    });

    it('stores a clientId sent by 12 writers at once exactly once', async () => {
      const { organization, conversation } = await makeTenant(prisma);
      const results = await Promise.all(
        Array.from({ length: 12 }, () => sut.append(organization.id, conversation.id, [userSays('same', { clientId: 'dup' })])),
      );
      expect(new Set(results.map((r) => r[0].id)).size).toBe(1);
      expect(await seqsOf(prisma, conversation.id)).toEqual([1]);
    });
  });
});
