import { DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { resolveDatabase, type DatabaseEnv, type DatabaseTarget } from './connection/database-config';
import { DATABASE_TARGET, PrismaService } from './prisma.service';
import { REPOSITORIES } from './repositories';
import { PgListener } from './notifications/pg-listener';
import { AUDIT_MAC_KEY, type AuditMacKey } from './audit/audit-mac-key';
import { AuditSealer } from './audit/audit-sealer';
import { assertVectorDimensions, EMBEDDING_DIMENSIONS, VECTOR_DIMENSIONS } from './vector';

export interface DbModuleOptions {
  /** Where to read DATABASE_URL / AGENTHUB_DATA_DIR from (the app's validated config); default process.env. */
  env?: DatabaseEnv;
  /** An already resolved database (tests, tools). */
  target?: DatabaseTarget;
  /**
   * The key of the audit entries' MACs (AuditLogRepository). Without it, appending or verifying audit entries
   * throws: only the API writes them.
   */
  auditMacKey?: AuditMacKey;
  /**
   * The dimension of the database's vector columns, which the repositories check every embedding against; default
   * EMBEDDING_DIMENSIONS (1536, what the migrations create). Check it against the columns (`vectorColumnDimensions`).
   */
  embeddingDimensions?: number;
}

/**
 * The data layer for a NestJS app: resolves the database once (PostgreSQL or the embedded default), provides
 * PrismaService, the LISTEN connection (PgListener), every repository and the audit log's sealer (AuditSealer, idle
 * until the app starts it). Import it once, in the root module: `DbModule.forRoot({ env: config })`.
 */
@Global()
@Module({})
export class DbModule {
  static forRoot(options: DbModuleOptions = {}): DynamicModule {
    const target: Provider = {
      provide: DATABASE_TARGET,
      useFactory: () => options.target ?? resolveDatabase(options.env),
    };
    const macKey: Provider = { provide: AUDIT_MAC_KEY, useValue: options.auditMacKey ?? null };
    const dimensions: Provider = { provide: VECTOR_DIMENSIONS, useValue: assertVectorDimensions(options.embeddingDimensions ?? EMBEDDING_DIMENSIONS) };
    return {
      module: DbModule,
      providers: [target, macKey, dimensions, PrismaService, PgListener, ...REPOSITORIES, AuditSealer],
      exports: [DATABASE_TARGET, AUDIT_MAC_KEY, VECTOR_DIMENSIONS, PrismaService, PgListener, ...REPOSITORIES, AuditSealer],
    };
  }
}
