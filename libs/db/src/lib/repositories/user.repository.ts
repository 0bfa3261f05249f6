import { Inject, Injectable } from '@nestjs/common';
import type { Prisma } from '../../generated/prisma/client';
import type { Role } from '../../generated/prisma/enums';
import { PrismaService, type Db } from '../prisma.service';
import { ConflictError, InvalidInputError, isUniqueViolation } from '../errors';
import { createdAtAfter, isUuid, pageSize, toPage, type Page } from '../pagination';
import { checkJson, checkText, throwIfProblems, type Problem } from '../validation';

export const USER_SELECT = {
  id: true,
  organizationId: true,
  email: true,
  externalId: true,
  name: true,
  role: true,
  metadata: true,
  version: true,
  createdAt: true,
  updatedAt: true,
} satisfies Prisma.UserSelect;
export type UserRow = Prisma.UserGetPayload<{ select: typeof USER_SELECT }>;

export interface UserInput {
  email?: string | null;
  externalId?: string | null;
  name?: string | null;
  role?: Role;
  metadata?: Prisma.InputJsonObject;
}

function normaliseEmail(email: string | null | undefined): string | null | undefined {
  return typeof email === 'string' ? email.trim().toLowerCase() : email;
}

@Injectable()
export class UserRepository {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  async create(organizationId: string, input: UserInput, db: Db = this.prisma): Promise<UserRow> {
    validateUserInput(input);
    const email = normaliseEmail(input.email);
    if (!email && !input.externalId) {
      throw new InvalidInputError('a user needs an email or an externalId', [
        { path: 'email', message: 'email or externalId is required' },
      ]);
    }
    try {
      return await db.user.create({
        data: {
          organizationId,
          email: email ?? null,
          externalId: input.externalId ?? null,
          name: input.name ?? null,
          role: input.role ?? 'member',
          metadata: input.metadata ?? {},
        },
        select: USER_SELECT,
      });
    } catch (e) {
      if (isUniqueViolation(e)) throw new ConflictError('a user with that email or externalId already exists');
      throw e;
    }
  }

  async findById(organizationId: string, id: string, db: Db = this.prisma): Promise<UserRow | null> {
    if (!isUuid(id)) return null;
    return db.user.findFirst({ where: { id, organizationId }, select: USER_SELECT });
  }

  async findByExternalId(organizationId: string, externalId: string, db: Db = this.prisma): Promise<UserRow | null> {
    return db.user.findUnique({
      where: { organizationId_externalId: { organizationId, externalId } },
      select: USER_SELECT,
    });
  }

  async listPage(
    organizationId: string,
    options: { externalId?: string; limit?: number; cursor?: string | null } = {},
    db: Db = this.prisma,
  ): Promise<Page<UserRow>> {
    const limit = pageSize(options.limit);
    const rows = await db.user.findMany({
      where: {
        organizationId,
        ...(options.externalId !== undefined && { externalId: options.externalId }),
        ...createdAtAfter(options.cursor),
      },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
      select: USER_SELECT,
    });
    return toPage(rows, limit, (r) => r.createdAt.toISOString());
  }

  /**
   * Partial update; the version goes up by one. With `expectedVersion` (If-Match) a stale version is a
   * ConflictError. null when the user is not in this organization.
   */
  async update(organizationId: string, id: string, patch: UserInput, db: Db = this.prisma, options: { expectedVersion?: number } = {}): Promise<UserRow | null> {
    validateUserInput(patch);
    if (!isUuid(id)) return null;
    return this.prisma.inTransaction(db, async (tx) => {
      const current = await tx.user.findFirst({ where: { id, organizationId }, select: USER_SELECT });
      if (!current) return null;
      if (options.expectedVersion !== undefined && options.expectedVersion !== current.version) {
        throw new ConflictError(`user ${id} is at version ${current.version}, not ${options.expectedVersion}`);
      }
      const email = patch.email === undefined ? current.email : normaliseEmail(patch.email);
      const externalId = patch.externalId === undefined ? current.externalId : patch.externalId;
      if (!email && !externalId) {
        throw new InvalidInputError('a user needs an email or an externalId', [
          { path: 'email', message: 'email or externalId is required' },
        ]);
      }
      try {
        // The version in the WHERE makes the read-check-write atomic without holding a lock across it.
        const { count } = await tx.user.updateMany({
          where: { id, organizationId, version: current.version },
          data: {
            email,
            externalId,
            ...(patch.name !== undefined && { name: patch.name }),
            ...(patch.role !== undefined && { role: patch.role }),
            ...(patch.metadata !== undefined && { metadata: patch.metadata }),
            version: { increment: 1 },
          },
        });
        if (count === 0) throw new ConflictError(`user ${id} was changed concurrently`);
        return await tx.user.findFirstOrThrow({ where: { id, organizationId }, select: USER_SELECT });
      } catch (e) {
        if (isUniqueViolation(e)) throw new ConflictError('a user with that email or externalId already exists');
        throw e;
      }
    });
  }

  /**
   * Deletes the user and revokes their API keys in the same transaction; their conversations, memories and
   * payments stay, unattributed. false when not found.
   */
  async delete(organizationId: string, id: string, db?: Db): Promise<boolean> {
    if (!isUuid(id)) return false;
    return this.prisma.inTransaction(db, async (tx) => {
      await tx.apiKey.updateMany({ where: { userId: id, organizationId, revokedAt: null }, data: { revokedAt: new Date() } });
      const { count } = await tx.user.deleteMany({ where: { id, organizationId } });
      return count === 1;
    });
  }
}

function validateUserInput(input: UserInput): void {
  const problems: Problem[] = [];
  checkText(input.email, 'email', problems, 320);
  checkText(input.externalId, 'externalId', problems, 1000);
  checkText(input.name, 'name', problems, 1000);
  checkJson(input.metadata, 'metadata', problems);
  throwIfProblems(problems, 'invalid user');
}
