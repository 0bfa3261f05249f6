import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import { LoggerModule } from 'nestjs-pino';
import { ZodValidationPipe } from 'nestjs-zod';
import { DbModule, type DatabaseTarget } from '@agenthub/db';
import { ApiKeyModule } from './api-keys/api-key.module';
import { AgentModule } from './agents/agent.module';
import { AnalyticsModule } from './analytics/analytics.module';
import { AuditLogModule } from './audit-logs/audit-log.module';
import { BackupModule } from './backups/backup.module';
import { CommonModule } from './common/common.module';
import { AuthGuard } from './common/auth/auth.guard';
import { loggerParams } from './common/logging/logger';
import { ProblemFilter } from './common/problem/problem.filter';
import { KeyThrottlerGuard } from './common/rate-limit/key-throttler.guard';
import { RedisWindowCounterStorage } from './common/rate-limit/redis-window-counter.storage';
import { WindowCounterStorage } from './common/rate-limit/window-counter.storage';
import { TenantTransactionInterceptor } from './common/tenancy/tenant-transaction.interceptor';
import type { ApiConfig } from './config/api-config';
import { resolveAuditMacKey } from './config/audit-mac-key';
import { ConversationModule } from './conversations/conversation.module';
import { DocumentModule } from './documents/document.module';
import { EventsModule } from './events/events.module';
import { HealthModule } from './health/health.module';
import { LangGraphModule } from './langgraph/langgraph.module';
import { MemoryModule } from './memories/memory.module';
import { MessageModule } from './messages/message.module';
import { OrganizationModule } from './organizations/organization.module';
import { PaymentModule } from './payments/payment.module';
import { SearchModule } from './search/search.module';
import { StatsModule } from './stats/stats.module';
import { UserModule } from './users/user.module';

export const FEATURE_MODULES = [
  HealthModule,
  OrganizationModule,
  UserModule,
  ApiKeyModule,
  AgentModule,
  EventsModule,
  MessageModule,
  ConversationModule,
  StatsModule,
  BackupModule,
  MemoryModule,
  DocumentModule,
  SearchModule,
  PaymentModule,
  AnalyticsModule,
  AuditLogModule,
  LangGraphModule,
];

@Module({})
export class AppModule {
  static forRoot(options: { config: ApiConfig; target: DatabaseTarget; adminToken: string }): DynamicModule {
    const { config, target, adminToken } = options;
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot(loggerParams(config)),
        DbModule.forRoot({ target, auditMacKey: resolveAuditMacKey(config, adminToken), embeddingDimensions: config.EMBEDDING_DIMENSIONS }),
        CommonModule.forRoot(config, adminToken),
        ThrottlerModule.forRoot({
          throttlers: [{ ttl: config.RATE_LIMIT_WINDOW_SECONDS * 1000, limit: config.RATE_LIMIT_MAX }],
          storage: config.RATE_LIMIT_REDIS_URL
            ? new RedisWindowCounterStorage(config.RATE_LIMIT_REDIS_URL, config.RATE_LIMIT_REDIS_PREFIX)
            : new WindowCounterStorage(),
        }),
        ...FEATURE_MODULES,
      ],
      providers: [
        // Guards run in this order: who is calling, then whether they are within their rate.
        { provide: APP_GUARD, useExisting: AuthGuard },
        { provide: APP_GUARD, useClass: KeyThrottlerGuard },
        { provide: APP_PIPE, useClass: ZodValidationPipe },
        { provide: APP_FILTER, useClass: ProblemFilter },
        { provide: APP_INTERCEPTOR, useClass: TenantTransactionInterceptor },
      ],
    };
  }
}
