import type { Db } from './prisma.service';

export type ReferenceKind = 'agent' | 'user' | 'conversation';

/**
 * Which of the given agent, user and conversation ids belong to the organization, in one query. Repositories
 * that accept references (memories, analytics events) decide what a missing one means for them.
 * `liveConversationsOnly` leaves out deleted conversations. Ids must already be valid UUIDs.
 */
export async function ownedReferences(
  db: Db,
  organizationId: string,
  ids: Record<ReferenceKind, string[]>,
  options: { liveConversationsOnly?: boolean } = {},
): Promise<(kind: ReferenceKind, id: string) => boolean> {
  const keys = new Set<string>();
  if (ids.agent.length + ids.user.length + ids.conversation.length > 0) {
    const found = await db.$queryRaw<Array<{ kind: ReferenceKind; id: string }>>`
      select 'agent' as kind, id::text as id from agents
        where organization_id = ${organizationId}::uuid and id = any(${ids.agent}::uuid[])
      union all
      select 'user', id::text from users
        where organization_id = ${organizationId}::uuid and id = any(${ids.user}::uuid[])
      union all
      select 'conversation', id::text from conversations
        where organization_id = ${organizationId}::uuid and id = any(${ids.conversation}::uuid[])
          and (not ${options.liveConversationsOnly ?? false} or status <> 'deleted')`;
    for (const f of found) keys.add(`${f.kind}:${f.id}`);
  }
  // uuid::text is lower case; callers may pass either case.
  return (kind, id) => keys.has(`${kind}:${id.toLowerCase()}`);
}
