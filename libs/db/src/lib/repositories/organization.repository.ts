import { Inject, Injectable } from '@nestjs/common';
import type { Prisma } from '../../generated/prisma/client';
import { PrismaService, type Db } from '../prisma.service';
import { enterTenant } from '../tenancy';
import { InvalidInputError } from '../errors';
import { createdAtAfter, isUuid, pageSize, toPage, type Page } from '../pagination';
import { checkText, throwIfProblems, type Problem } from '../validation';
import { ApiKeyRepository, type ApiKeyRow } from './api-key.repository';
import { UserRepository, type UserRow } from './user.repository';

export const ORGANIZATION_SELECT = {
  id: true,
  name: true,
  metadata: true,
  createdAt: true,
  updatedAt: true,
} satisfies Prisma.OrganizationSelect;
export type OrganizationRow = Prisma.OrganizationGetPayload<{ select: typeof ORGANIZATION_SELECT }>;

export interface OrganizationWithOwner {
  organization: OrganizationRow;
  user: UserRow;
  apiKey: ApiKeyRow;
  /** the owner key's secret, shown once */
  key: string;
}

@Injectable()
export class OrganizationRepository {
  constructor(
    @Inject(PrismaService) private readonly prisma: PrismaService,
    @Inject(UserRepository) private readonly users: UserRepository,
    @Inject(ApiKeyRepository) private readonly apiKeys: ApiKeyRepository,
  ) {}

  /** An organization, its owner and the owner's first API key, all or nothing. */
  async createWithOwner(
    input: { name: string; ownerEmail: string; ownerName?: string },
    db?: Db,
  ): Promise<OrganizationWithOwner> {
    const name = input.name.trim();
    if (!name) throw new InvalidInputError('name must not be empty', [{ path: 'name', message: 'required' }]);
    const problems: Problem[] = [];
    checkText(name, 'name', problems, 1000);
    throwIfProblems(problems, 'invalid organization');
    return this.prisma.inTransaction(db, async (tx) => {
      const organization = await tx.organization.create({ data: { name }, select: ORGANIZATION_SELECT });
      // From here on the transaction runs under row-level security for the new organization, like every tenant
      // transaction of the API: the owner and the key can only be written into it.
      await enterTenant(tx, organization.id);
      const user = await this.users.create(
        organization.id,
        { email: input.ownerEmail, name: input.ownerName ?? null, role: 'owner' },
        tx,
      );
      const { apiKey, key } = await this.apiKeys.create(
        organization.id,
        { name: 'owner', role: 'owner', userId: user.id },
        tx,
      );
      return { organization, user, apiKey, key };
    });
  }

  async findById(id: string, db: Db = this.prisma): Promise<OrganizationRow | null> {
    if (!isUuid(id)) return null;
    return db.organization.findUnique({ where: { id }, select: ORGANIZATION_SELECT });
  }

  /** Operator view: every organization (admin token only). */
  async listPage(options: { limit?: number; cursor?: string | null } = {}, db: Db = this.prisma): Promise<Page<OrganizationRow>> {
    const limit = pageSize(options.limit);
    const rows = await db.organization.findMany({
      where: createdAtAfter(options.cursor),
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
      take: limit + 1,
      select: ORGANIZATION_SELECT,
    });
    return toPage(rows, limit, (r) => r.createdAt.toISOString());
  }
}
