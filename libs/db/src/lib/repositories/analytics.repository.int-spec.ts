import { randomUUID } from 'node:crypto';
import { createTestPrisma, makeAgent, makeOrganization, makeTenant, makeUser } from '../../testing';
import { makeConversationAt, makeMessageAt } from '../../testing/factories/payments';
import { InvalidInputError } from '../errors';
import type { PrismaService } from '../prisma.service';
import { AnalyticsRepository, MAX_INGEST_BATCH, MAX_USAGE_BUCKETS, type UsageRow } from './analytics.repository';

describe(AnalyticsRepository.name, () => {
  let prisma: PrismaService;
  let sut: AnalyticsRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new AnalyticsRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

  const at = (iso: string) => new Date(iso);

  describe('ingest', () => {
    it('stores a batch and reports how many were accepted', async () => {
      const { organization, agent, conversation, user } = await makeTenant(prisma);
      const result = await sut.ingest(organization.id, [
        { type: 'tool.called', agentId: agent.id, conversationId: conversation.id, userId: user.id, data: { tool: 'search' }, occurredAt: '2026-02-10T10:30:00.000Z' },
        { type: 'session.started', occurredAt: at('2026-02-10T10:31:00.000Z') },
        { type: 'heartbeat' },
      ]);
      expect(result).toEqual({ accepted: 3 });
      const rows = await prisma.analyticsEvent.findMany({ where: { organizationId: organization.id }, orderBy: { occurredAt: 'asc' } });
      expect(rows).toHaveLength(3);
      expect(rows[0]).toMatchObject({
        type: 'tool.called',
        agentId: agent.id,
        conversationId: conversation.id,
        userId: user.id,
        data: { tool: 'search' },
        occurredAt: at('2026-02-10T10:30:00.000Z'),
      });
      expect(rows[1]).toMatchObject({ agentId: null, data: {} });
    });

    it(`takes up to ${MAX_INGEST_BATCH} events in one call`, async () => {
      const org = await makeOrganization(prisma);
      const agent = await makeAgent(prisma, org.id);
      const events = Array.from({ length: MAX_INGEST_BATCH }, (_, i) => ({
        type: 'bulk',
        agentId: agent.id,
        data: { i },
        occurredAt: new Date(Date.parse('2026-01-01T00:00:00Z') + i * 1000),
      }));
      expect(await sut.ingest(org.id, events)).toEqual({ accepted: MAX_INGEST_BATCH });
      expect(await prisma.analyticsEvent.count({ where: { organizationId: org.id } })).toBe(MAX_INGEST_BATCH);
      await expect(sut.ingest(org.id, [...events, events[0]])).rejects.toThrow(InvalidInputError);
      await expect(sut.ingest(org.id, [])).rejects.toThrow(InvalidInputError);
    });

    it("rejects other organizations' ids, naming each, and writes nothing", async () => {
      const mine = await makeTenant(prisma);
      const theirs = await makeTenant(prisma);
      const attempt = sut.ingest(mine.organization.id, [
        { type: 'ok', agentId: mine.agent.id, conversationId: mine.conversation.id, userId: mine.user.id },
        { type: 'x', agentId: theirs.agent.id },
        { type: 'y', conversationId: theirs.conversation.id, userId: theirs.user.id },
        { type: 'z', agentId: randomUUID() },
      ]);
      await expect(attempt).rejects.toMatchObject({
        constructor: InvalidInputError,
        details: [
          { path: 'events.1.agentId', message: 'unknown agent' },
          { path: 'events.2.conversationId', message: 'unknown conversation' },
          { path: 'events.2.userId', message: 'unknown user' },
          { path: 'events.3.agentId', message: 'unknown agent' },
        ],
      });
      expect(await prisma.analyticsEvent.count({ where: { organizationId: mine.organization.id } })).toBe(0);
    });

    it('rejects malformed events', async () => {
      const org = await makeOrganization(prisma);
      await expect(
        sut.ingest(org.id, [
          { type: '' },
          { type: 'a', agentId: 'not-a-uuid' },
          { type: 'b', occurredAt: 'yesterday' },
          { type: 'c', data: [1] as unknown as Record<string, unknown> },
        ]),
      ).rejects.toMatchObject({
        details: [
          expect.objectContaining({ path: 'events.0.type' }),
          expect.objectContaining({ path: 'events.1.agentId' }),
          expect.objectContaining({ path: 'events.2.occurredAt' }),
          expect.objectContaining({ path: 'events.3.data' }),
        ],
      });
    });

    it('rejects NUL characters in an event type or its data (values and keys) and writes nothing', async () => {
      const org = await makeOrganization(prisma);
      const error = await sut
        .ingest(org.id, [
          { type: 'fine', data: { ok: true } },
          { type: 'tool.called', data: { tool: 'se\u0000arch' } },
          { type: 'tool.called', data: { args: { list: [1, 'x\u0000'] } } },
          { type: 'tool.called', data: { ['to\u0000ol']: 'search' } },
          { type: 'tool\u0000called' },
        ])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidInputError);
      expect((error as InvalidInputError).details).toEqual([
        expect.objectContaining({ path: 'events.1.data.tool' }),
        expect.objectContaining({ path: 'events.2.data.args.list.1' }),
        expect.objectContaining({ path: 'events.3.data' }),
        expect.objectContaining({ path: 'events.4.type' }),
      ]);
      expect(await prisma.analyticsEvent.count({ where: { organizationId: org.id } })).toBe(0);
    });
  });

  describe('usage', () => {
    async function seed() {
      const org = await makeOrganization(prisma);
      const user = await makeUser(prisma, org.id);
      const [a, b] = [await makeAgent(prisma, org.id), await makeAgent(prisma, org.id)];
      const c1 = await makeConversationAt(prisma, org.id, a.id, at('2026-02-10T10:15:00.000Z'));
      await makeConversationAt(prisma, org.id, a.id, at('2026-02-10T10:45:00.000Z'));
      const c3 = await makeConversationAt(prisma, org.id, b.id, at('2026-02-10T14:00:00.000Z'));
      const c4 = await makeConversationAt(prisma, org.id, a.id, at('2026-02-11T00:30:00.000Z'));
      await makeConversationAt(prisma, org.id, a.id, at('2026-02-12T00:00:00.000Z')); // outside [from, to)
      await makeMessageAt(prisma, org.id, c1.id, 1, at('2026-02-10T10:20:00.000Z'), 100);
      await makeMessageAt(prisma, org.id, c1.id, 2, at('2026-02-10T10:50:00.000Z'), 50);
      await makeMessageAt(prisma, org.id, c1.id, 3, at('2026-02-10T11:05:00.000Z'), null);
      await makeMessageAt(prisma, org.id, c3.id, 1, at('2026-02-10T14:01:00.000Z'), 7);
      await makeMessageAt(prisma, org.id, c4.id, 1, at('2026-02-11T00:31:00.000Z'), 1000);
      await makeMessageAt(prisma, org.id, c4.id, 2, at('2026-02-12T00:00:00.000Z'), 5); // outside
      await sut.ingest(org.id, [
        { type: 'tool.called', agentId: a.id, conversationId: c1.id, occurredAt: '2026-02-10T10:30:00.000Z' },
        { type: 'tool.called', agentId: a.id, occurredAt: '2026-02-10T11:59:59.999Z' },
        { type: 'page.viewed', userId: user.id, occurredAt: '2026-02-10T23:59:00.000Z' },
        { type: 'tool.called', agentId: b.id, conversationId: c3.id, occurredAt: '2026-02-11T01:00:00.000Z' },
        { type: 'tool.called', agentId: b.id, occurredAt: '2026-02-09T23:59:59.999Z' }, // outside
      ]);
      // Another organization's activity in the same window must not count.
      const other = await makeTenant(prisma);
      const oc = await makeConversationAt(prisma, other.organization.id, other.agent.id, at('2026-02-10T10:00:00.000Z'));
      await makeMessageAt(prisma, other.organization.id, oc.id, 1, at('2026-02-10T10:01:00.000Z'), 9999);
      await sut.ingest(other.organization.id, [{ type: 'x', occurredAt: '2026-02-10T10:00:00.000Z' }]);
      return { org, a, b };
    }

    const byAgent = (x: string | null, y: string | null) => (x === y ? 0 : x === null ? 1 : y === null ? -1 : x < y ? -1 : 1);
    const sorted = (rows: UsageRow[]) =>
      [...rows].sort((x, y) => x.bucket.getTime() - y.bucket.getTime() || byAgent(x.agentId, y.agentId));

    it('by day', async () => {
      const { org, a, b } = await seed();
      const rows = await sut.usage(org.id, { from: at('2026-02-10T00:00:00Z'), to: at('2026-02-12T00:00:00Z'), interval: 'day' });
      const day1 = at('2026-02-10T00:00:00.000Z');
      const day2 = at('2026-02-11T00:00:00.000Z');
      expect(rows).toEqual(
        sorted([
          { bucket: day1, agentId: a.id, conversations: 2, messages: 3, tokens: 150, events: 2 },
          { bucket: day1, agentId: b.id, conversations: 1, messages: 1, tokens: 7, events: 0 },
          { bucket: day1, agentId: null, conversations: 0, messages: 0, tokens: 0, events: 1 },
          { bucket: day2, agentId: a.id, conversations: 1, messages: 1, tokens: 1000, events: 0 },
          { bucket: day2, agentId: b.id, conversations: 0, messages: 0, tokens: 0, events: 1 },
        ]),
      );
    });

    it('by hour, for one agent', async () => {
      const { org, a } = await seed();
      const rows = await sut.usage(org.id, {
        from: at('2026-02-10T10:00:00Z'),
        to: at('2026-02-11T12:00:00Z'),
        interval: 'hour',
        agentId: a.id,
      });
      expect(rows).toEqual([
        { bucket: at('2026-02-10T10:00:00Z'), agentId: a.id, conversations: 2, messages: 2, tokens: 150, events: 1 },
        { bucket: at('2026-02-10T11:00:00Z'), agentId: a.id, conversations: 0, messages: 1, tokens: 0, events: 1 },
        { bucket: at('2026-02-11T00:00:00Z'), agentId: a.id, conversations: 1, messages: 1, tokens: 1000, events: 0 },
      ]);
    });

    it('is empty for another organization and rejects bad queries', async () => {
      await seed();
      const org = await makeOrganization(prisma);
      expect(await sut.usage(org.id, { from: at('2026-02-10T00:00:00Z'), to: at('2026-02-12T00:00:00Z'), interval: 'day' })).toEqual([]);
      await expect(
        sut.usage(org.id, { from: at('2026-02-12T00:00:00Z'), to: at('2026-02-10T00:00:00Z'), interval: 'day' }),
      ).rejects.toThrow(InvalidInputError);
      await expect(
        sut.usage(org.id, { from: at('2026-02-10T00:00:00Z'), to: at('2026-02-12T00:00:00Z'), interval: 'week' as 'day' }),
      ).rejects.toThrow(InvalidInputError);
    });

    it('requires from < to and refuses ranges of more than MAX_USAGE_BUCKETS buckets', async () => {
      const org = await makeOrganization(prisma);
      const from = at('2025-01-01T00:00:00Z');
      const hours = (n: number) => new Date(from.getTime() + n * 3_600_000);
      const days = (n: number) => new Date(from.getTime() + n * 86_400_000);
      expect(MAX_USAGE_BUCKETS).toBe(10_000);

      await expect(sut.usage(org.id, { from, to: from, interval: 'hour' })).rejects.toMatchObject({
        constructor: InvalidInputError,
        details: [expect.objectContaining({ path: 'to' })],
      });
      // Exactly 10,000 hourly buckets is allowed; one more (or ~14 months hourly) is refused.
      expect(await sut.usage(org.id, { from, to: hours(MAX_USAGE_BUCKETS), interval: 'hour' })).toEqual([]);
      await expect(sut.usage(org.id, { from, to: at('2026-03-01T00:00:00Z'), interval: 'hour' })).rejects.toMatchObject({
        constructor: InvalidInputError,
        details: [expect.objectContaining({ path: 'to' })],
      });
      await expect(sut.usage(org.id, { from, to: new Date(hours(MAX_USAGE_BUCKETS).getTime() + 1), interval: 'hour' })).rejects.toMatchObject({
        constructor: InvalidInputError,
        details: [expect.objectContaining({ path: 'to' })],
      });
      // Buckets are whole UTC hours: 10,000 hours of duration starting just before an hour touches 10,001 of them.
      await expect(
        sut.usage(org.id, { from: new Date(from.getTime() - 1), to: new Date(hours(MAX_USAGE_BUCKETS).getTime() - 1), interval: 'hour' }),
      ).rejects.toThrow(InvalidInputError);
      expect(
        await sut.usage(org.id, { from: new Date(from.getTime() + 1), to: hours(MAX_USAGE_BUCKETS), interval: 'hour' }),
      ).toEqual([]);
      // The same ~14 months by day is fine; 10,001 days is not.
      expect(await sut.usage(org.id, { from, to: at('2026-03-01T00:00:00Z'), interval: 'day' })).toEqual([]);
      expect(await sut.usage(org.id, { from, to: days(MAX_USAGE_BUCKETS), interval: 'day' })).toEqual([]);
      await expect(sut.usage(org.id, { from, to: days(MAX_USAGE_BUCKETS + 1), interval: 'day' })).rejects.toThrow(InvalidInputError);
    });
  });
});
