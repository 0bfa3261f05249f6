import type { Role } from '@agenthub/db';

/** Who is calling: the operator (admin token) or an organization's API key. */
export type Principal =
  | { kind: 'admin' }
  | { kind: 'key'; organizationId: string; keyId: string; role: Role; userId: string | null };

export type KeyPrincipal = Extract<Principal, { kind: 'key' }>;

/** viewer < member < admin < owner (../shared/API.md, Conventions). */
export const ROLE_RANK: Record<Role, number> = { viewer: 0, member: 1, admin: 2, owner: 3 };

export function roleAtLeast(role: Role, minimum: Role): boolean {
  return ROLE_RANK[role] >= ROLE_RANK[minimum];
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}
