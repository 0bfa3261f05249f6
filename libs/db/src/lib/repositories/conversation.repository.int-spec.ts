import { createTestPrisma, makeAgent, makeTenant, makeUser } from '../../testing';
import { ConflictError, NotFoundError } from '../errors';
import type { PrismaService } from '../prisma.service';
import { AgentRepository } from './agent.repository';
import { ConversationRepository } from './conversation.repository';
import { MessageRepository } from './message.repository';

describe(AgentRepository.name, () => {
  let prisma: PrismaService;
  let sut: AgentRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    sut = new AgentRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

  it('versions updates and refuses a stale expected version', async () => {
    const { organization } = await makeTenant(prisma);
    const agent = await sut.create(organization.id, { name: 'Planner', type: 'sequential', tools: ['a', 'b'] });
    expect(agent).toMatchObject({ version: 1, isActive: true, usageCount: 0, lastUsedAt: null, tools: ['a', 'b'] });
    const v2 = await sut.update(organization.id, agent.id, { description: 'plans' }, { expectedVersion: 1 });
    expect(v2).toMatchObject({ version: 2, description: 'plans' });
    await expect(sut.update(organization.id, agent.id, { description: 'stale' }, { expectedVersion: 1 })).rejects.toBeInstanceOf(
      ConflictError,
    );
    expect((await sut.findById(organization.id, agent.id))?.description).toBe('plans');
  });

  it('soft-deletes: readable by id, out of lists unless asked for', async () => {
    const { organization, agent } = await makeTenant(prisma);
    const other = await sut.create(organization.id, { name: 'Other' });
    expect(await sut.softDelete(organization.id, agent.id)).toBe(true);
    expect(await sut.findById(organization.id, agent.id)).toMatchObject({ isActive: false });
    expect((await sut.listPage(organization.id)).data.map((a) => a.id)).toEqual([other.id]);
    expect((await sut.listPage(organization.id, { includeInactive: true })).data.map((a) => a.id)).toEqual([agent.id, other.id]);
  });

  it('keeps isActive and the deletion time together, and ignores fields a patch has no business setting', async () => {
    const { organization, agent } = await makeTenant(prisma);
    const off = await sut.update(organization.id, agent.id, { isActive: false });
    expect(off?.isActive).toBe(false);
    expect((await prisma.agent.findUniqueOrThrow({ where: { id: agent.id } })).deletedAt).toBeInstanceOf(Date);
    expect(await sut.findByName(organization.id, agent.name)).toBeNull();
    await sut.update(organization.id, agent.id, { isActive: true, usageCount: 999, organizationId: 'x' } as never);
    const row = await prisma.agent.findUniqueOrThrow({ where: { id: agent.id } });
    expect(row).toMatchObject({ isActive: true, deletedAt: null, usageCount: 0, organizationId: organization.id });
    expect(await sut.findById(organization.id, 'not-a-uuid')).toBeNull();
    expect(await sut.softDelete(organization.id, 'not-a-uuid')).toBe(false);
  });

  it("refuses sub-agents of another organization and the agent itself", async () => {
    const mine = await makeTenant(prisma);
    const theirs = await makeTenant(prisma);
    await expect(sut.create(mine.organization.id, { name: 'x', subAgentIds: [theirs.agent.id] })).rejects.toThrow(NotFoundError);
    await expect(sut.update(mine.organization.id, mine.agent.id, { subAgentIds: [mine.agent.id] })).rejects.toThrow('own sub-agent');
    expect(await sut.update(theirs.organization.id, mine.agent.id, { name: 'x' })).toBeNull();
  });
});

describe(ConversationRepository.name, () => {
  let prisma: PrismaService;
  let messages: MessageRepository;
  let sut: ConversationRepository;

  beforeAll(() => {
    prisma = createTestPrisma();
    messages = new MessageRepository(prisma);
    sut = new ConversationRepository(prisma);
  });
  afterAll(() => prisma.$disconnect());

  it("counts the agent's use when a conversation starts", async () => {
    const { organization, agent, user } = await makeTenant(prisma);
    const before = await prisma.agent.findUniqueOrThrow({ where: { id: agent.id } });
    const conversation = await sut.create(organization.id, { agentId: agent.id, userId: user.id, sessionId: 's-1' });
    expect(conversation).toMatchObject({ status: 'active', messageCount: 0, lastMessageAt: null, sessionId: 's-1' });
    const after = await prisma.agent.findUniqueOrThrow({ where: { id: agent.id } });
    expect(after.usageCount).toBe(before.usageCount + 1);
    expect(after.lastUsedAt).toBeInstanceOf(Date);
  });

  it("refuses inactive agents (conflict) and other organizations' agents and users (not found), writing nothing", async () => {
    const mine = await makeTenant(prisma);
    const theirs = await makeTenant(prisma);
    const retired = await makeAgent(prisma, mine.organization.id, { isActive: false });
    const count = await prisma.conversation.count({ where: { organizationId: mine.organization.id } });
    await expect(sut.create(mine.organization.id, { agentId: retired.id })).rejects.toBeInstanceOf(ConflictError);
    await expect(sut.create(mine.organization.id, { agentId: theirs.agent.id })).rejects.toBeInstanceOf(NotFoundError);
    await expect(sut.create(mine.organization.id, { agentId: mine.agent.id, userId: theirs.user.id })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(await prisma.conversation.count({ where: { organizationId: mine.organization.id } })).toBe(count);
    expect((await prisma.agent.findUniqueOrThrow({ where: { id: theirs.agent.id } })).usageCount).toBe(0);
  });

  it('lists newest activity first with a cursor that stays valid while conversations are added', async () => {
    const { organization, agent } = await makeTenant(prisma);
    const user = await makeUser(prisma, organization.id);
    const made = [];
    for (let i = 0; i < 5; i++) made.push(await sut.create(organization.id, { agentId: agent.id, userId: user.id }));
    await messages.append(organization.id, made[0].id, [{ role: 'user', content: 'bump' }]);
    const first = await sut.listPage(organization.id, { userId: user.id, limit: 2 });
    expect(first.data.map((c) => c.id)).toEqual([made[0].id, made[4].id]);
    await sut.create(organization.id, { agentId: agent.id, userId: user.id }); // newer than the cursor: not in later pages
    const rest = [];
    let cursor = first.nextCursor;
    while (cursor) {
      const page = await sut.listPage(organization.id, { userId: user.id, limit: 2, cursor });
      rest.push(...page.data.map((c) => c.id));
      cursor = page.nextCursor;
    }
    expect(rest).toEqual([made[3].id, made[2].id, made[1].id]);
  });

  it('treats ids that are not UUIDs like unknown ones and never lets a patch touch the counters', async () => {
    const { organization, agent, conversation } = await makeTenant(prisma);
    await expect(sut.create(organization.id, { agentId: 'nope' })).rejects.toBeInstanceOf(NotFoundError);
    await expect(sut.create(organization.id, { agentId: agent.id, userId: 'nope' })).rejects.toBeInstanceOf(NotFoundError);
    expect(await sut.findById(organization.id, 'nope')).toBeNull();
    expect((await sut.listPage(organization.id, { agentId: 'nope' })).data).toEqual([]);
    expect(await sut.update(organization.id, 'nope', { title: 'x' })).toBeNull();
    expect(await sut.markDeleted(organization.id, 'nope')).toBe(false);
    await expect(sut.create(organization.id, { agentId: agent.id, title: 'nul \u0000' })).rejects.toThrow('invalid conversation');
    const patched = await sut.update(organization.id, conversation.id, { title: 'renamed', messageCount: 99, organizationId: 'x' } as never);
    expect(patched).toMatchObject({ title: 'renamed', messageCount: 0, organizationId: organization.id });
  });

  it('deleted conversations are gone from reads, lists and appends', async () => {
    const { organization, conversation } = await makeTenant(prisma);
    expect(await sut.markDeleted(organization.id, conversation.id)).toBe(true);
    expect(await sut.findById(organization.id, conversation.id)).toBeNull();
    expect((await sut.listPage(organization.id)).data).toEqual([]);
    expect(await sut.update(organization.id, conversation.id, { title: 'x' })).toBeNull();
    await expect(messages.append(organization.id, conversation.id, [{ role: 'user', content: 'x' }])).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(await sut.markDeleted(organization.id, conversation.id)).toBe(false);
  });
});
