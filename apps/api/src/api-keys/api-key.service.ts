import { Injectable } from '@nestjs/common';
import { ApiKeyRepository, NotFoundError, type Page, type Role } from '@agenthub/db';
import { AuthService } from '../common/auth/auth.service';
import { roleAtLeast } from '../common/auth/principal';
import { ProblemException } from '../common/problem/problem.exception';
import { AuditService } from '../common/audit/audit.service';
import { RequestContext } from '../common/tenancy/request-context';
import { toApiKeyView, type ApiKeyView, type CreatedApiKeyView } from './api-key.dto';

@Injectable()
export class ApiKeyService {
  constructor(
    private readonly apiKeys: ApiKeyRepository,
    private readonly auth: AuthService,
    private readonly context: RequestContext,
    private readonly audit: AuditService,
  ) {}

  async create(input: { name: string; role: Role; userId?: string | null }): Promise<CreatedApiKeyView> {
    const caller = this.context.scope.principal.role;
    // A key never grants more than the key that made it.
    if (!roleAtLeast(caller, input.role)) throw new ProblemException(403, `a ${caller} key cannot create ${input.role} keys`);
    const { apiKey, key } = await this.apiKeys.create(this.context.organizationId, input, this.context.db);
    // The secret is shown once, to the caller, and never recorded.
    await this.audit.record('api_key.create', 'api_key', apiKey.id, { after: toApiKeyView(apiKey) });
    return { ...toApiKeyView(apiKey), key };
  }

  async list(query: { limit?: number; cursor?: string }): Promise<Page<ApiKeyView>> {
    const page = await this.apiKeys.listPage(this.context.organizationId, query, this.context.db);
    return { data: page.data.map(toApiKeyView), nextCursor: page.nextCursor };
  }

  async revoke(id: string): Promise<void> {
    const current = await this.apiKeys.findById(this.context.organizationId, id, this.context.db);
    if (!current) throw new NotFoundError('api key', id);
    const caller = this.context.scope.principal.role;
    if (!roleAtLeast(caller, current.role)) throw new ProblemException(403, `a ${caller} key cannot revoke ${current.role} keys`);
    await this.apiKeys.revoke(this.context.organizationId, id, this.context.db);
    await this.auth.keysChanged(this.context.db);
    const after = await this.apiKeys.findById(this.context.organizationId, id, this.context.db);
    await this.audit.record('api_key.revoke', 'api_key', id, { before: toApiKeyView(current), after: after && toApiKeyView(after) });
  }
}
