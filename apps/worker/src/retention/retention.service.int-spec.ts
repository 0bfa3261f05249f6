import { makeMemory, makeTenant } from '@agenthub/db/testing';
import { makeKit } from '../../test/backup-kit';
import { RetentionService } from './retention.service';

describe(RetentionService.name, () => {
  const kit = makeKit({ env: { CONVERSATION_PURGE_AFTER_DAYS: '10', LANGGRAPH_THREAD_RETENTION_DAYS: '30' } });
  const sut = kit.dataRetention;
  afterAll(() => kit.close());

  it('purges expired memories and conversations deleted longer ago than the configured days, nothing else', async () => {
    const { organization, agent } = await makeTenant(kit.prisma);
    const expired = await makeMemory(kit.prisma, organization.id, { expiresAt: new Date(Date.now() - 60_000) });
    const live = await makeMemory(kit.prisma, organization.id, { expiresAt: new Date(Date.now() + 3_600_000) });
    const day = 86_400_000;
    const old = await kit.prisma.conversation.create({ data: { organizationId: organization.id, agentId: agent.id, status: 'deleted', deletedAt: new Date(Date.now() - 11 * day) } });
    const recent = await kit.prisma.conversation.create({ data: { organizationId: organization.id, agentId: agent.id, status: 'deleted', deletedAt: new Date(Date.now() - 9 * day) } });
    await kit.prisma.message.create({ data: { organizationId: organization.id, conversationId: old.id, seq: 1, role: 'user', content: 'bye' } });

    expect(await sut.purgeExpiredMemories()).toBeGreaterThanOrEqual(1);
    expect(await kit.prisma.memory.count({ where: { id: { in: [expired.id, live.id] } } })).toBe(1);
    expect(await sut.purgeDeletedConversations()).toBeGreaterThanOrEqual(1);
    expect(await kit.prisma.conversation.findUnique({ where: { id: old.id } })).toBeNull();
    expect(await kit.prisma.message.count({ where: { conversationId: old.id } })).toBe(0);
    expect(await kit.prisma.conversation.findUnique({ where: { id: recent.id } })).not.toBeNull();
  });

  it('purges LangGraph store items past their TTL, with their embeddings, and keeps the rest', async () => {
    const { organization } = await makeTenant(kit.prisma);
    const item = (key: string, expiresAt: Date | null) => ({ organizationId: organization.id, prefix: 'users.u1', key, value: { key }, expiresAt, ttlMinutes: expiresAt ? 1 : null });
    await kit.prisma.langGraphStoreItem.createMany({ data: [item('gone', new Date(Date.now() - 60_000)), item('soon', new Date(Date.now() + 3_600_000)), item('forever', null)] });
    await kit.prisma.$executeRaw`INSERT INTO langgraph_store_vectors (organization_id, prefix, key, field, embedding) VALUES (${organization.id}::uuid, 'users.u1', 'gone', '$', '[1,0]')`;
    expect(await sut.purgeExpiredStoreItems()).toBeGreaterThanOrEqual(1);
    const left = await kit.prisma.langGraphStoreItem.findMany({ where: { organizationId: organization.id }, orderBy: { key: 'asc' } });
    expect(left.map((i) => i.key)).toEqual(['forever', 'soon']);
    expect(await kit.prisma.$queryRaw<Array<{ n: number }>>`SELECT count(*)::int AS n FROM langgraph_store_vectors WHERE organization_id = ${organization.id}::uuid`).toEqual([{ n: 0 }]);
  });

  it('purges LangGraph threads idle for LANGGRAPH_THREAD_RETENTION_DAYS with everything in them, and keeps active ones', async () => {
    const { organization } = await makeTenant(kit.prisma);
    const org = organization.id;
    const day = 86_400_000;
    const ago = (days: number) => new Date(Date.now() - days * day);
    for (const [threadId, created, lastCheckpoint] of [['idle', 40, 35], ['active', 40, 1], ['empty-old', 40, null], ['empty-new', 1, null]] as const) {
      await kit.prisma.langGraphThread.create({ data: { organizationId: org, threadId, createdAt: ago(created) } });
      if (lastCheckpoint !== null) {
        await kit.prisma.langGraphCheckpoint.create({ data: { organizationId: org, threadId, checkpointId: 'c1', checkpoint: {}, createdAt: ago(lastCheckpoint) } });
        await kit.prisma.langGraphCheckpointBlob.create({ data: { organizationId: org, threadId, channel: 'm', version: '1', type: 'json', blob: Buffer.from('1') } });
      }
    }
    expect(await sut.purgeIdleThreads()).toBeGreaterThanOrEqual(2);
    expect((await kit.prisma.langGraphThread.findMany({ where: { organizationId: org }, orderBy: { threadId: 'asc' } })).map((t) => t.threadId)).toEqual(['active', 'empty-new']);
    expect(await kit.prisma.langGraphCheckpointBlob.count({ where: { organizationId: org } })).toBe(1);
  });

  it('purges live events older than EVENT_RETENTION_HOURS and keeps newer ones', async () => {
    const { organization, conversation } = await makeTenant(kit.prisma);
    const hour = 3_600_000;
    const event = (seq: number, age: number) => ({
      organizationId: organization.id,
      conversationId: conversation.id,
      seq,
      type: 'message.created',
      payload: { seq },
      createdAt: new Date(Date.now() - age),
    });
    await kit.prisma.conversationEvent.createMany({ data: [event(1, 25 * hour), event(2, 23 * hour), event(3, 0)] });
    expect(await sut.purgeOldEvents()).toBeGreaterThanOrEqual(1);
    const left = await kit.prisma.conversationEvent.findMany({ where: { conversationId: conversation.id }, orderBy: { seq: 'asc' } });
    expect(left.map((e) => e.seq)).toEqual([2, 3]);
  });

  it('folds pending usage deltas of every organization into the rollup', async () => {
    const { organization, conversation } = await makeTenant(kit.prisma);
    await kit.prisma.message.create({ data: { organizationId: organization.id, conversationId: conversation.id, seq: 1, role: 'user', content: 'hi' } });
    const pending = () => kit.prisma.$queryRaw<Array<{ n: number }>>`select count(*)::int as n from usage_rollup_deltas where organization_id = ${organization.id}::uuid`;
    expect((await pending())[0].n).toBeGreaterThan(0);
    expect(await sut.foldUsage()).toBeGreaterThan(0);
    expect((await pending())[0].n).toBe(0);
    const rolled = await kit.prisma.$queryRaw<Array<{ messages: number }>>`select sum(messages)::int as messages from usage_rollups where organization_id = ${organization.id}::uuid`;
    expect(rolled[0].messages).toBe(1);
  });

  it('backup retention keeps the newest N, drops older than the age limit, and never the newest completed one', () => {
    const days = (n: number) => new Date(Date.now() - n * 86_400_000);
    const row = (id: string, startedAt: Date, status: 'completed' | 'failed' = 'completed') => ({ id, startedAt, status }) as never;
    const plan = makeKit({ env: { BACKUP_RETENTION_COUNT: '3', BACKUP_RETENTION_DAYS: '30' }, prisma: kit.prisma }).retention.plan(
      [row('a', days(40)), row('b', days(41)), row('c', days(42)), row('d', days(50))],
      [row('f1', days(31), 'failed'), row('f2', days(2), 'failed')],
    );
    expect(plan.map((p) => [p.id, p.reason])).toEqual([['b', 'age'], ['c', 'age'], ['d', 'count'], ['f1', 'age']]);
  });
});
