import { DynamicModule, Global, Module } from '@nestjs/common';
import { API_CONFIG, type ApiConfig } from '../config/api-config';
import { ADMIN_TOKEN } from '../config/tokens';
import { AuditService } from './audit/audit.service';
import { AuthGuard } from './auth/auth.guard';
import { AuthService } from './auth/auth.service';
import { IdempotencyInterceptor } from './idempotency/idempotency.interceptor';
import { RequestContext } from './tenancy/request-context';
import { TenantTransactions } from './tenancy/tenant-transactions';

/** What every feature module uses: configuration, the request's tenant scope, authentication, LISTEN, the audit trail. */
@Global()
@Module({})
export class CommonModule {
  static forRoot(config: ApiConfig, adminToken: string): DynamicModule {
    const providers = [
      { provide: API_CONFIG, useValue: config },
      { provide: ADMIN_TOKEN, useValue: adminToken },
      RequestContext,
      TenantTransactions,
      AuthService,
      AuthGuard,
      IdempotencyInterceptor,
      AuditService,
    ];
    return { module: CommonModule, providers, exports: providers };
  }
}
