import { randomUUID } from 'node:crypto';
import type { Db } from '../../lib/prisma.service';

/**
 * Test data factories: each call makes a fresh, uniquely named row with sensible defaults; pass overrides for
 * what the test is about. They write through the Prisma client, not the repositories under test.
 */
const unique = () => randomUUID().slice(0, 8);

export async function makeOrganization(db: Db, overrides: { name?: string } = {}) {
  return db.organization.create({ data: { name: overrides.name ?? `Org ${unique()}` } });
}

export async function makeUser(
  db: Db,
  organizationId: string,
  overrides: { email?: string | null; externalId?: string | null; name?: string; role?: 'owner' | 'admin' | 'member' | 'viewer' } = {},
) {
  const tag = unique();
  return db.user.create({
    data: {
      organizationId,
      email: overrides.email === undefined ? `user-${tag}@example.test` : overrides.email,
      externalId: overrides.externalId === undefined ? `ext-${tag}` : overrides.externalId,
      name: overrides.name ?? `User ${tag}`,
      role: overrides.role ?? 'member',
    },
  });
}

export async function makeAgent(
  db: Db,
  organizationId: string,
  overrides: { name?: string; isActive?: boolean; type?: 'regular' | 'sequential' | 'parallel' | 'loop' } = {},
) {
  return db.agent.create({
    data: {
      organizationId,
      name: overrides.name ?? `Agent ${unique()}`,
      type: overrides.type ?? 'regular',
      isActive: overrides.isActive ?? true,
      tools: ['search'],
      config: { model: 'gpt-4o' },
    },
  });
}

export async function makeConversation(
  db: Db,
  organizationId: string,
  agentId: string,
  overrides: { userId?: string; title?: string; status?: 'active' | 'archived' | 'deleted' } = {},
) {
  return db.conversation.create({
    data: {
      organizationId,
      agentId,
      userId: overrides.userId,
      title: overrides.title ?? `Conversation ${unique()}`,
      status: overrides.status ?? 'active',
    },
  });
}

/** An organization with one user, one agent and one conversation: the usual starting point. */
export async function makeTenant(db: Db) {
  const organization = await makeOrganization(db);
  const user = await makeUser(db, organization.id);
  const agent = await makeAgent(db, organization.id);
  const conversation = await makeConversation(db, organization.id, agent.id, { userId: user.id });
  return { organization, user, agent, conversation };
}
