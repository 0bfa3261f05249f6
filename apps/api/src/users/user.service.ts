import { Injectable } from '@nestjs/common';
import { NotFoundError, UserRepository, type Page, type Prisma } from '@agenthub/db';
import { AuthService } from '../common/auth/auth.service';
import { roleAtLeast } from '../common/auth/principal';
import { ProblemException } from '../common/problem/problem.exception';
import { AuditService } from '../common/audit/audit.service';
import { RequestContext } from '../common/tenancy/request-context';
import { toUserView, type CreateUserDto, type UpdateUserDto, type UserView } from './user.dto';

@Injectable()
export class UserService {
  constructor(
    private readonly users: UserRepository,
    private readonly auth: AuthService,
    private readonly context: RequestContext,
    private readonly audit: AuditService,
  ) {}

  async create(input: CreateUserDto): Promise<UserView> {
    this.assertCanGrant(input.role);
    const row = await this.users.create(this.context.organizationId, { ...input, metadata: input.metadata as Prisma.InputJsonObject }, this.context.db);
    const view = toUserView(row);
    await this.audit.record('user.create', 'user', view.id, { after: view });
    return view;
  }

  async list(query: { externalId?: string; limit?: number; cursor?: string }): Promise<Page<UserView>> {
    const page = await this.users.listPage(this.context.organizationId, query, this.context.db);
    return { data: page.data.map(toUserView), nextCursor: page.nextCursor };
  }

  async get(id: string): Promise<UserView> {
    const row = await this.users.findById(this.context.organizationId, id, this.context.db);
    if (!row) throw new NotFoundError('user', id);
    return toUserView(row);
  }

  /** Partial update; `expectedVersion` from If-Match makes it conditional (stale → 409). */
  async update(id: string, patch: UpdateUserDto, expectedVersion?: number): Promise<UserView> {
    this.assertCanGrant(patch.role);
    const current = await this.users.findById(this.context.organizationId, id, this.context.db);
    if (!current) throw new NotFoundError('user', id);
    // Nobody changes a user who outranks them (an admin cannot demote the owner).
    this.assertCanGrant(current.role);
    const row = await this.users.update(this.context.organizationId, id, { ...patch, metadata: patch.metadata as Prisma.InputJsonObject }, this.context.db, { expectedVersion });
    if (!row) throw new NotFoundError('user', id);
    const view = toUserView(row);
    await this.audit.record('user.update', 'user', id, { before: toUserView(current), after: view });
    return view;
  }

  /** Deletes the user and revokes the user's keys (on every replica at once). */
  async delete(id: string): Promise<void> {
    const current = await this.users.findById(this.context.organizationId, id, this.context.db);
    if (!current) throw new NotFoundError('user', id);
    this.assertCanGrant(current.role);
    if (!(await this.users.delete(this.context.organizationId, id, this.context.db))) throw new NotFoundError('user', id);
    await this.auth.keysChanged(this.context.db);
    await this.audit.record('user.delete', 'user', id, { before: toUserView(current) });
  }

  private assertCanGrant(role: string | undefined): void {
    const caller = this.context.scope.principal.role;
    if (role && !roleAtLeast(caller, role as typeof caller)) {
      throw new ProblemException(403, `a ${caller} key cannot manage ${role} users`);
    }
  }
}
